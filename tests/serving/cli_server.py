"""``trioquart run`` in a subprocess, for tests of what only the real command line shows:
signals, worker processes, exit codes."""

from __future__ import annotations

import os
import signal
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx
import pytest
import trio

__all__ = ["CliServer", "cli_server", "free_port"]

#: The app the tests serve, written next to the test's files: a health check, a slow
#: request, a websocket echo, the worker's pid, a service ticking in the app nursery, and a
#: marker file that says whether after_serving ran.
APP_SOURCE = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import trio

    from trioquart import TrioQuart, request, websocket

    app = TrioQuart(__name__)
    marker = Path(os.environ["TRIOQUART_TEST_MARKER"])


    async def ticker():
        while True:  # a service: must not hold up the shutdown
            await trio.sleep(0.05)


    @app.before_serving
    async def started():
        app.nursery.start_soon(ticker)


    @app.after_serving
    async def stopped():
        with marker.open("a") as file:
            file.write(f"after_serving {os.getpid()}\\n")


    @app.get("/health")
    async def health():
        return "ok"


    @app.get("/pid")
    async def pid():
        return str(os.getpid())


    @app.get("/exit")
    async def exit_now():
        os._exit(int(request.args["status"]))


    @app.get("/slow")
    async def slow():
        await trio.sleep(float(request.args["seconds"]))
        return "done"


    @app.websocket("/ws")
    async def echo():
        async for message in websocket:
            await websocket.send(message)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class CliServer:
    port: int
    process: trio.Process
    out_path: Path
    err_path: Path
    marker: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def send_signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    async def wait(self, timeout: float) -> int:
        with trio.fail_after(timeout):
            return await self.process.wait()

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def after_serving_runs(self) -> list[str]:
        return self.marker.read_text().splitlines() if self.marker.exists() else []


@asynccontextmanager
async def cli_server(
    tmp_path: Path,
    *options: str,
    source: str = APP_SOURCE,
    ready_path: str | None = "/health",
    port: int | None = None,
) -> AsyncIterator[CliServer]:
    """Run ``python -m trioquart.cli run served_app:app --port P OPTIONS`` in ``tmp_path``
    until it answers ``ready_path`` (at once if None); the process is killed on exit if it
    still runs."""
    (tmp_path / "served_app.py").write_text(source)
    port = free_port() if port is None else port
    marker = tmp_path / "after_serving.txt"
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "trioquart.cli", "run", "served_app:app"]
    command += ["--port", str(port), *options]
    env = {**os.environ, "TRIOQUART_TEST_MARKER": str(marker), "PYTHONUNBUFFERED": "1"}
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = await trio.lowlevel.open_process(
            command, stdout=out, stderr=err, cwd=tmp_path, env=env
        )
    server = CliServer(port, process, out_path, err_path, marker)
    try:
        with trio.fail_after(20):
            async with httpx.AsyncClient() as client:
                while ready_path is not None:
                    if process.poll() is not None:
                        pytest.fail(
                            f"the server exited with {process.returncode}:\n{server.stderr()}"
                        )
                    try:
                        if (await client.get(server.url + ready_path)).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.05)
        yield server
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
