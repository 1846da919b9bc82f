"""``trioquart shell``, run for real with its standard input piped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cli_helpers import COMMAND_TIMEOUT, clean_env, trioquart, write

SHELL_APP = """
    import os
    from pathlib import Path

    import trio
    from trioquart import TrioQuart

    app = TrioQuart("shell_app")


    @app.shell_context_processor
    def names():
        return {"answer": 42}


    @app.teardown_appcontext
    async def teardown(exc):
        Path(os.environ["TEARDOWN_MARKER"]).write_text("torn down")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "app.py", SHELL_APP)
    return tmp_path


def shell(project: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    completed = trioquart(
        project,
        "shell",
        stdin="\n".join(lines) + "\n",
        TEARDOWN_MARKER=str(project / "teardown.txt"),
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_await_works_in_the_app_context(project: Path) -> None:
    completed = shell(project, ["await trio.sleep(0); print(current_app.name)"])
    assert "shell_app" in completed.stdout.split()
    assert "App: shell_app" in completed.stderr  # the banner


def test_names_and_state_carry_from_one_statement_to_the_next(project: Path) -> None:
    completed = shell(
        project,
        [
            "event = trio.Event()",
            "async def later():",
            "    await trio.sleep(0)",
            "    event.set()",
            "",
            "await later()",
            "same = app is current_app._get_current_object()",
            "print('set:', event.is_set(), 'answer:', answer, 'same app:', same)",
            "g.value = 'kept'",
            "print('g:', g.value)",
        ],
    )
    assert "set: True answer: 42 same app: True" in completed.stdout
    assert "g: kept" in completed.stdout


def test_an_error_is_shown_and_the_session_goes_on(project: Path) -> None:
    completed = shell(project, ["await trio.sleep(0); 1 / 0", "print('still here')"])
    assert "ZeroDivisionError: division by zero" in completed.stderr
    assert 'File "<console>", line 1' in completed.stderr
    assert "outcome" not in completed.stderr  # the statement's frame comes first
    assert "still here" in completed.stdout


def test_end_of_input_pops_the_app_context(project: Path) -> None:
    shell(project, ["x = 1"])
    assert (project / "teardown.txt").read_text() == "torn down"


def test_exit_ends_the_session(project: Path) -> None:
    completed = trioquart(
        project,
        "shell",
        stdin="print('before')\nraise SystemExit\nprint('after')\n",
        TEARDOWN_MARKER=str(project / "teardown.txt"),
    )
    assert completed.returncode == 0, completed.stderr
    assert "before" in completed.stdout and "after" not in completed.stdout
    assert (project / "teardown.txt").read_text() == "torn down"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_ctrl_c_cancels_a_running_statement(project: Path, inherited: str) -> None:
    """SIGINT while ``await trio.sleep_forever()`` runs: the statement is cancelled, the
    console says KeyboardInterrupt, and the next statement runs; also when the shell was
    started with SIGINT ignored (a background job of a non-interactive shell is)."""
    marker = project / "running.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "trioquart.cli", "shell"],
        cwd=project,
        env=clean_env(TEARDOWN_MARKER=str(project / "teardown.txt")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if inherited == "ignored" else None,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(f"open({str(marker)!r}, 'w').close(); await trio.sleep_forever()\n")
        process.stdin.flush()
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not marker.exists():
            assert time.monotonic() < deadline, "the statement never ran"
            assert process.poll() is None, process.stderr and process.stderr.read()
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate("print('next statement')\n", timeout=COMMAND_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()  # communicate() leaves them open when it times out
    assert process.returncode == 0, err
    assert "KeyboardInterrupt" in err
    assert "next statement" in out


def test_shell_needs_a_trioquart_app(tmp_path: Path) -> None:
    write(tmp_path / "bare.py", "async def app(scope, receive, send):\n    pass\n")
    completed = trioquart(tmp_path, "--app", "bare:app", "shell", stdin="")
    assert completed.returncode == 2
    assert "is not a trioquart app" in completed.stderr
