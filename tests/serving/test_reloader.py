"""``trioquart run --reload``: a change restarts the server; an error in the app is shown
once, without the import machinery's frames, and the server serves again once it is
fixed. Through the real command, and the watcher on its own."""

from __future__ import annotations

import importlib
import signal
import textwrap
import time
from pathlib import Path

import httpx
import pytest
import trio

from trioquart.serving.loading import describe_load_error
from trioquart.serving.reloader import source_roots, watch_source

from .cli_server import CliServer, cli_server

SOURCE = textwrap.dedent(
    """
    from trioquart import TrioQuart, render_template

    app = TrioQuart(__name__)


    @app.get("/health")
    async def health():
        return "VERSION"


    @app.get("/page")
    async def page():
        return await render_template("page.html")
    """
)


async def _wait_for_text(server: CliServer, expected: str, timeout: float = 30) -> None:
    """Poll ``/health`` until it answers ``expected``; a request may hang while no worker
    serves (the supervisor keeps the socket), so each one has a short timeout."""
    with trio.fail_after(timeout):
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if server.process.poll() is not None:
                    pytest.fail(f"the server exited:\n{server.stderr()}")
                try:
                    if (await client.get(server.url + "/health")).text == expected:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.1)


async def _wait_for_stderr(server: CliServer, text: str, count: int = 1) -> None:
    with trio.fail_after(30):
        while server.stderr().count(text) < count:
            assert server.process.poll() is None, server.stderr()
            await trio.sleep(0.1)


async def test_an_error_is_shown_and_the_fix_serves_again(tmp_path: Path) -> None:
    module = tmp_path / "served_app.py"
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("page one")
    source = SOURCE.replace("VERSION", "first")
    async with cli_server(tmp_path, "--reload", source=source) as server:
        # A syntax error: shown once, with the user's file and line, and nothing else.
        module.write_text(source + "\ndef broken(:\n    pass\n")
        await _wait_for_stderr(server, "SyntaxError")
        await trio.sleep(1)  # were it shown again, or the worker retried, it would be by now
        err = server.stderr()
        assert err.count("SyntaxError") == 1
        line = source.count("\n") + 2
        assert "importing 'served_app' failed: SyntaxError: invalid syntax" in err
        assert f"at {module}:{line}\n    def broken(:" in err
        assert "importlib" not in err and "<frozen" not in err
        assert "Traceback" not in err

        # Fixed, with new code: the server answers again, with it.
        module.write_text(SOURCE.replace("VERSION", "second"))
        await _wait_for_text(server, "second")

        # An error raised while the module runs: the user's frames alone.
        module.write_text(source + "\nimport a_module_that_is_not_there\n")
        await _wait_for_stderr(server, "ModuleNotFoundError")
        err = server.stderr()
        assert "No module named 'a_module_that_is_not_there'" in err
        assert f"at {module}:{line}, in <module>\n    import a_module_that_is_not_there" in err
        assert "importlib" not in err and "<frozen" not in err

        module.write_text(SOURCE.replace("VERSION", "third"))
        await _wait_for_text(server, "third")

        # A template is reloaded by Jinja, without a restart.
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(server.url + "/page")).text == "page one"
            restarts = server.stderr().count("Reloading:")
            (tmp_path / "templates" / "page.html").write_text("page two")
            assert (await client.get(server.url + "/page")).text == "page two"
        await trio.sleep(0.5)
        assert server.stderr().count("Reloading:") == restarts

        server.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert await server.wait(10) == 0
        assert time.monotonic() - started < 5  # the watcher does not hold up the stop
    assert "Traceback" not in server.stderr()


async def test_an_app_broken_at_start_is_served_once_fixed(tmp_path: Path) -> None:
    module = tmp_path / "served_app.py"
    broken = SOURCE.replace("VERSION", "first") + "\ndef broken(:\n    pass\n"
    async with cli_server(tmp_path, "--reload", source=broken, ready_path=None) as server:
        await _wait_for_stderr(server, "SyntaxError")
        await _wait_for_stderr(server, "Waiting for a change that fixes the app (--reload).")
        await trio.sleep(1)  # were the error shown again (a worker trying), it would be by now
        assert server.process.poll() is None  # still running, watching
        assert server.stderr().count("SyntaxError") == 1
        module.write_text(SOURCE.replace("VERSION", "fixed"))
        await _wait_for_text(server, "fixed")
        server.send_signal(signal.SIGINT)
        assert await server.wait(10) == 0
    err = server.stderr()
    assert "Traceback" not in err and "<frozen" not in err


async def test_without_reload_an_app_broken_at_start_is_exit_code_2(tmp_path: Path) -> None:
    broken = SOURCE.replace("VERSION", "first") + "\ndef broken(:\n    pass\n"
    async with cli_server(tmp_path, source=broken, ready_path=None) as server:
        assert await server.wait(20) == 2
    assert "SyntaxError" in server.stderr() and "Waiting for a change" not in server.stderr()


async def test_a_burst_of_saves_restarts_once(tmp_path: Path) -> None:
    module = tmp_path / "served_app.py"
    async with cli_server(tmp_path, "--reload", source=SOURCE.replace("VERSION", "v0")) as server:
        for version in range(1, 6):  # an editor's save, a formatter, a second save ...
            module.write_text(SOURCE.replace("VERSION", f"v{version}"))
        await _wait_for_text(server, "v5")
        await trio.sleep(1)
        server.send_signal()
        assert await server.wait(10) == 0
    assert server.stderr().count("Reloading: served_app.py changed") == 1


async def test_the_watcher_reports_python_changes_and_stops_at_once(tmp_path: Path) -> None:
    seen: list[set[Path]] = []
    (tmp_path / "package").mkdir()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(watch_source, [tmp_path], seen.append)
            (tmp_path / "notes.txt").write_text("not python")
            (tmp_path / "package" / "module.py").write_text("x = 1")
            while not seen:
                await trio.sleep(0.05)
            started = trio.current_time()
            nursery.cancel_scope.cancel()
    assert trio.current_time() - started < 1  # awatch would wait for its thread (5 s)
    assert seen == [{tmp_path / "package" / "module.py"}]


def test_the_source_roots_are_the_cwd_and_the_apps_package_outside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "inside").mkdir(parents=True)
    (project / "inside" / "__init__.py").write_text("")
    (elsewhere / "outside").mkdir(parents=True)
    (elsewhere / "outside" / "__init__.py").write_text("")
    (elsewhere / "single.py").write_text("")
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.syspath_prepend(str(elsewhere))
    assert source_roots("inside.app", cwd=str(project)) == [project.resolve()]
    assert source_roots("outside.app", cwd=str(project)) == [
        project.resolve(),
        (elsewhere / "outside").resolve(),
    ]
    assert source_roots("single", cwd=str(project)) == [project.resolve(), elsewhere.resolve()]
    assert source_roots("no_such_module_anywhere", cwd=str(project)) == [project.resolve()]


def test_a_load_error_keeps_the_users_frames_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback for an error the app discovery has not put into words already."""
    (tmp_path / "broken_for_reloader.py").write_text(
        "def configure():\n    raise RuntimeError('no settings')\n\nconfigure()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError) as caught:
        importlib.import_module("broken_for_reloader")
    described = describe_load_error(caught.value)
    module = tmp_path / "broken_for_reloader.py"
    assert "importlib/" not in described and "<frozen" not in described
    assert "trioquart/serving" not in described
    # After this test's own frame (the caller of load_target), the module's.
    lines = described.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith(f'  File "{__file__}"')
    assert [line for line in lines[2:] if not line.startswith("    importlib.")] == [
        f'  File "{module}", line 4, in <module>',
        "    configure()",
        f'  File "{module}", line 2, in configure',
        "    raise RuntimeError('no settings')",
        "RuntimeError: no settings",
    ]
