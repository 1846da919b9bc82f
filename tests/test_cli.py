"""The ``trioquart`` command line: ``routes``, argument checking, ``--version``, and ``run``
serving for real in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import trio
from click.testing import CliRunner, Result

import trioquart
from trioquart.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_dir(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Change into a directory for one test, undoing the ``sys.path`` entry the CLI adds."""
    monkeypatch.setattr(sys, "path", [*sys.path])

    def change(path: Path) -> None:
        monkeypatch.chdir(path)

    return change


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


# ---- routes -----------------------------------------------------------------------------


def parse_table(output: str) -> list[dict[str, str]]:
    """The rows of a ``routes`` table, each a mapping of column name to cell, found by the
    column widths that the dashes under the header show."""
    header, separator, *rows = output.splitlines()
    assert set(separator.replace(" ", "")) == {"-"}
    spans, start = [], 0
    for dashes in separator.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    names = [header[a:b].strip() for a, b in spans]
    return [
        {name: row[a:b].strip() for name, (a, b) in zip(names, spans, strict=True)} for row in rows
    ]


def test_routes_lists_the_example_rules(in_dir: Callable[[Path], None]) -> None:
    in_dir(REPO_ROOT)
    result = invoke("routes", "examples.hello:app")
    assert result.exit_code == 0, result.output
    assert result.output.split()[:4] == ["Endpoint", "Blueprint", "Methods", "Rule"]
    assert parse_table(result.output) == [
        {"Endpoint": "index", "Blueprint": "", "Methods": "GET", "Rule": "/"},
        {"Endpoint": "hello_json", "Blueprint": "", "Methods": "GET", "Rule": "/json"},
        # every app serves its static folder
        {
            "Endpoint": "static",
            "Blueprint": "",
            "Methods": "GET",
            "Rule": "/static/<path:filename>",
        },
    ]


def test_routes_sorts_by_rule_and_hides_head_and_options(
    tmp_path: Path, in_dir: Callable[[Path], None]
) -> None:
    (tmp_path / "cli_routes_app.py").write_text(
        textwrap.dedent(
            """
            from trioquart import TrioQuart

            app = TrioQuart(__name__, static_folder=None)


            @app.route("/zebra", methods=["PUT", "POST"])
            async def zebra():
                return ""


            @app.get("/apple/<int:id>")
            async def apple(id):
                return ""
            """
        )
    )
    in_dir(tmp_path)
    result = invoke("routes", "cli_routes_app")  # ":app" is the default attribute
    assert result.exit_code == 0, result.output
    rows = parse_table(result.output)
    assert [row["Endpoint"] for row in rows] == ["apple", "zebra"]
    assert rows[0] == {
        "Endpoint": "apple",
        "Blueprint": "",
        "Methods": "GET",
        "Rule": "/apple/<int:id>",
    }
    assert rows[1] == {
        "Endpoint": "zebra",
        "Blueprint": "",
        "Methods": "POST, PUT",
        "Rule": "/zebra",
    }
    assert "HEAD" not in result.output and "OPTIONS" not in result.output


ROUTES_APP = """
from trioquart import Blueprint, TrioQuart

app = TrioQuart(__name__, static_folder=None)
api = Blueprint("api", __name__, url_prefix="/api")


@app.websocket("/live")
async def live():
    pass


@app.route("/", methods=["GET", "POST"])
async def index():
    return ""


@api.get("/items")
async def items():
    return ""


@api.websocket("/feed")
async def feed():
    pass


app.register_blueprint(api)
"""


@pytest.mark.parametrize(
    ("sort", "endpoints"),
    [
        ([], ["index", "api.feed", "api.items", "live"]),
        (["--sort", "endpoint"], ["api.feed", "api.items", "index", "live"]),
        (["-s", "blueprint"], ["index", "live", "api.feed", "api.items"]),
        (["-s", "methods"], ["api.items", "index", "api.feed", "live"]),
        (["-s", "match"], ["live", "index", "api.items", "api.feed"]),
    ],
)
def test_routes_marks_websockets_and_shows_blueprints(
    tmp_path: Path, in_dir: Callable[[Path], None], sort: list[str], endpoints: list[str]
) -> None:
    (tmp_path / "cli_ws_routes.py").write_text(ROUTES_APP)
    in_dir(tmp_path)
    result = invoke("--app", "cli_ws_routes", "routes", *sort)
    assert result.exit_code == 0, result.output
    rows = {row["Endpoint"]: row for row in parse_table(result.output)}
    assert [row["Endpoint"] for row in parse_table(result.output)] == endpoints
    assert rows["live"] == {"Endpoint": "live", "Blueprint": "", "Methods": "WS", "Rule": "/live"}
    assert rows["api.feed"] == {
        "Endpoint": "api.feed",
        "Blueprint": "api",
        "Methods": "WS",
        "Rule": "/api/feed",
    }
    assert rows["api.items"]["Methods"] == "GET" and rows["api.items"]["Blueprint"] == "api"
    assert rows["index"]["Methods"] == "GET, POST"


def test_routes_all_methods_shows_head_and_options(
    tmp_path: Path, in_dir: Callable[[Path], None]
) -> None:
    (tmp_path / "cli_ws_routes.py").write_text(ROUTES_APP)
    in_dir(tmp_path)
    result = invoke("routes", "cli_ws_routes", "--all-methods")
    assert result.exit_code == 0, result.output
    rows = {row["Endpoint"]: row for row in parse_table(result.output)}
    assert rows["index"]["Methods"] == "GET, HEAD, OPTIONS, POST"
    assert rows["live"]["Methods"] == "WS"  # a websocket has no HEAD or OPTIONS


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_for_trioquart:app", "could not import 'no_such_module_for_trioquart'"),
        ("examples.no_such_module:app", "no module named 'examples.no_such_module'"),
        ("examples.hello:missing", "module 'examples.hello' has no attribute 'missing'"),
        ("examples.hello:__doc__", "is a str, not an ASGI app"),
        ("not a module:app", "is not of the form MODULE:APP"),
        (":app", "is not of the form MODULE:APP"),
    ],
)
@pytest.mark.parametrize("command", ["routes", "run"])
def test_a_bad_target_is_a_usage_error(
    command: str, target: str, message: str, in_dir: Callable[[Path], None]
) -> None:
    in_dir(REPO_ROOT)
    result = invoke(command, target)
    assert result.exit_code == 2, result.output
    assert "Invalid value for 'MODULE:APP'" in result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_error_inside_the_module_is_reported_with_its_location(
    tmp_path: Path, in_dir: Callable[[Path], None]
) -> None:
    module = tmp_path / "cli_broken_app.py"
    module.write_text("x = 1\nraise RuntimeError('no config file')\n")
    in_dir(tmp_path)
    result = invoke("routes", "cli_broken_app:app")
    assert result.exit_code == 2, result.output
    assert "RuntimeError: no config file" in result.output
    assert f"{module}:2" in result.output


def test_routes_needs_a_trioquart_app(tmp_path: Path, in_dir: Callable[[Path], None]) -> None:
    (tmp_path / "cli_bare_asgi.py").write_text("async def app(scope, receive, send):\n    pass\n")
    in_dir(tmp_path)
    result = invoke("routes", "cli_bare_asgi:app")
    assert result.exit_code == 2
    assert "is it a trioquart app?" in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"trioquart, version {trioquart.__version__}"


def test_the_console_script_is_wired_up() -> None:
    script = Path(sys.executable).with_name("trioquart")
    if not script.exists():
        pytest.skip("the trioquart console script is not installed next to this Python")
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert trioquart.__version__ in completed.stdout


# ---- run, for real ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def serve_until_signalled(
    target: str,
    cwd: Path,
    tmp_path: Path,
    signum: int,
    env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
    while_serving: Callable[[int, trio.Process], Awaitable[None]] | None = None,
) -> tuple[int, str, str, httpx.Response]:
    """Start ``python -m trioquart.cli run TARGET`` on a free port, wait until it answers
    ``GET /``, run ``while_serving(port, process)``, send ``signum`` and wait for it to exit.
    Returns the exit code, stdout, stderr and the first response."""
    port = free_port()
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "trioquart.cli", "run", target, "--port", str(port)]
    command += options
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = await trio.lowlevel.open_process(
            command, stdout=out, stderr=err, cwd=cwd, env={**os.environ, **(env or {})}
        )
    try:
        response = None
        with trio.fail_after(15):
            async with httpx.AsyncClient() as client:
                while response is None:
                    if process.poll() is not None:
                        pytest.fail(
                            f"the server exited early with {process.returncode}:\n"
                            + err_path.read_text()
                        )
                    try:
                        response = await client.get(f"http://127.0.0.1:{port}/")
                    except httpx.TransportError:
                        await trio.sleep(0.1)
        if while_serving is not None:
            await while_serving(port, process)
        process.send_signal(signum)
        with trio.fail_after(10):
            returncode = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
    return returncode, out_path.read_text(), err_path.read_text(), response


async def test_run_serves_the_example_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    returncode, out, err, response = await serve_until_signalled(
        "examples.hello:app", REPO_ROOT, tmp_path, signal.SIGINT
    )
    assert response.status_code == 200
    assert response.text == "Hello, World!"
    assert returncode == 0, err
    port = response.url.port
    assert f"Serving examples.hello:app on http://127.0.0.1:{port}" in out
    assert '"GET / 1.1" 200' in out  # the access log goes to stdout
    assert "Traceback" not in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_run_shuts_the_app_down_gracefully(tmp_path: Path, signum: int) -> None:
    """The signal triggers the lifespan shutdown, so ``after_serving`` runs before exit; and a
    module in the current directory (not a package) can be served."""
    (tmp_path / "cli_served_app.py").write_text(
        textwrap.dedent(
            """
            import os
            from pathlib import Path

            from trioquart import TrioQuart

            app = TrioQuart(__name__)
            marker = Path(os.environ["TRIOQUART_TEST_MARKER"])


            @app.before_serving
            async def started():
                marker.write_text("started")


            @app.after_serving
            async def stopped():
                marker.write_text(marker.read_text() + ", stopped")


            @app.get("/")
            async def index():
                return marker.read_text()
            """
        )
    )
    marker = tmp_path / "marker.txt"
    returncode, _, err, response = await serve_until_signalled(
        "cli_served_app:app",
        tmp_path,
        tmp_path,
        signum,
        env={"TRIOQUART_TEST_MARKER": str(marker)},
    )
    assert response.text == "started"
    assert returncode == 0, err
    assert marker.read_text() == "started, stopped"


async def test_run_with_two_workers_serves_from_two_processes(tmp_path: Path) -> None:
    children: list[str] = []

    async def count_workers(port: int, process: trio.Process) -> None:
        with trio.fail_after(15):
            while len(children) < 2:
                # Hypercorn's workers are spawned processes ("--multiprocessing-fork"), next
                # to multiprocessing's resource tracker.
                listing = subprocess.run(
                    ["ps", "-ww", "-o", "args=", "--ppid", str(process.pid)],
                    capture_output=True,
                    text=True,
                ).stdout.splitlines()
                children[:] = [line for line in listing if "--multiprocessing-fork" in line]
                await trio.sleep(0.1)

    returncode, out, err, response = await serve_until_signalled(
        "examples.hello:app",
        REPO_ROOT,
        tmp_path,
        signal.SIGINT,
        options=("--workers", "2"),
        while_serving=count_workers,
    )
    assert response.text == "Hello, World!"
    assert len(children) == 2
    assert returncode == 0, err


async def test_run_with_reload_picks_up_a_changed_module(tmp_path: Path) -> None:
    module = tmp_path / "cli_reloaded_app.py"
    source = textwrap.dedent(
        """
        from trioquart import TrioQuart

        app = TrioQuart(__name__)


        @app.get("/")
        async def index():
            return "VERSION"
        """
    )
    module.write_text(source.replace("VERSION", "first"))
    seen: list[str] = []

    async def change_and_wait(port: int, process: trio.Process) -> None:
        await trio.sleep(1.5)  # the reloader compares modification times once a second
        module.write_text(source.replace("VERSION", "second"))
        with trio.fail_after(20):
            async with httpx.AsyncClient() as client:
                while not seen or seen[-1] != "second":
                    try:
                        seen.append((await client.get(f"http://127.0.0.1:{port}/")).text)
                    except httpx.TransportError:
                        pass  # restarting
                    await trio.sleep(0.2)

    returncode, out, err, response = await serve_until_signalled(
        "cli_reloaded_app:app",
        tmp_path,
        tmp_path,
        signal.SIGINT,
        options=("--reload",),
        while_serving=change_and_wait,
    )
    assert response.text == "first"
    assert seen[-1] == "second"


@pytest.mark.parametrize(
    ("options", "env"),
    [
        (("--app", 'cli_factory_app:create_app("from the option")'), {}),
        ((), {"TRIOQUART_APP": 'cli_factory_app:create_app("from the option")'}),
    ],
    ids=["--app", "TRIOQUART_APP"],
)
@pytest.mark.parametrize("workers", ["1", "2"])
async def test_run_serves_an_app_from_a_factory_call(
    tmp_path: Path, options: tuple[str, ...], env: dict[str, str], workers: str
) -> None:
    """The factory is called with its arguments in the process that serves (each worker
    calls it for itself), and every request is answered by the app it made."""
    (tmp_path / "cli_factory_app.py").write_text(
        textwrap.dedent(
            """
            import os
            from trioquart import TrioQuart


            def create_app(label):
                app = TrioQuart(__name__)

                @app.get("/")
                async def index():
                    return f"{label} in {os.getpid()}"

                return app
            """
        )
    )
    port = free_port()
    command = [sys.executable, "-m", "trioquart.cli", *options, "run", "--port", str(port)]
    command += ["--workers", workers]
    with (tmp_path / "out.txt").open("wb") as out, (tmp_path / "err.txt").open("wb") as err:
        process = await trio.lowlevel.open_process(
            command, stdout=out, stderr=err, cwd=tmp_path, env={**os.environ, **env}
        )
    try:
        with trio.fail_after(20):
            async with httpx.AsyncClient() as client:
                while True:
                    assert process.poll() is None, (tmp_path / "err.txt").read_text()
                    try:
                        response = await client.get(f"http://127.0.0.1:{port}/")
                        break
                    except httpx.TransportError:
                        await trio.sleep(0.1)
        assert response.status_code == 200
        label, _, pid = response.text.partition(" in ")
        assert label == "from the option"
        assert (int(pid) == process.pid) == (workers == "1")
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            assert await process.wait() == 0, (tmp_path / "err.txt").read_text()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
    assert (
        'Serving cli_factory_app:create_app("from the option") on'
        in (tmp_path / "out.txt").read_text()
    )
