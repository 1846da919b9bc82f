"""Graceful shutdown a user can rely on (issue 10, part 3), through ``trioquart run``.

SIGTERM or SIGINT: the listening socket closes at once, requests in flight get the graceful
timeout, every open websocket is closed with 1001, ``after_serving`` runs, and the process
exits within the graceful timeout plus one second. A second signal forces the stop.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from ..wire import close_client_sockets  # noqa: F401 (a fixture)
from .cli_server import CliServer, cli_server

pytestmark = pytest.mark.usefixtures("close_client_sockets")

WEBSOCKETS = 50
DEFAULT_GRACEFUL_TIMEOUT = 3.0


async def refused(server: CliServer) -> bool:
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    except OSError:
        return True
    await stream.aclose()
    return False


async def hold_websocket(server: CliServer, codes: list[int], task_status: trio.TaskStatus) -> None:
    """Open a websocket, check it echoes, then wait for the server to close it."""
    ws: WebSocketConnection
    async with open_websocket_url(server.ws_url + "/ws") as ws:
        await ws.send_message("hi")
        assert await ws.get_message() == "hi"
        task_status.started()
        try:
            await ws.get_message()
        except ConnectionClosed as closed:
            codes.append(closed.reason.code)


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_the_server_gracefully(
    tmp_path: Path, signum: int, workers: str
) -> None:
    codes: list[int] = []
    slow: list[httpx.Response] = []
    async with cli_server(tmp_path, "--workers", workers) as server:
        async with trio.open_nursery() as nursery:
            with trio.fail_after(20):
                for _ in range(WEBSOCKETS):
                    await nursery.start(hold_websocket, server, codes)

            async def slow_request() -> None:
                async with httpx.AsyncClient(timeout=10) as client:
                    slow.append(await client.get(server.url + "/slow?seconds=1.5"))

            nursery.start_soon(slow_request)
            await trio.sleep(0.3)  # the slow request is in the app now
            signalled = trio.current_time()
            server.send_signal(signum)
            with trio.fail_after(0.5):
                while not await refused(server):
                    await trio.sleep(0.01)
            returncode = await server.wait(DEFAULT_GRACEFUL_TIMEOUT + 5)
            took = trio.current_time() - signalled
    assert returncode == 0, server.stderr()
    assert took < DEFAULT_GRACEFUL_TIMEOUT + 1
    assert codes == [1001] * WEBSOCKETS  # "going away", not a dropped connection (1006)
    assert [(response.status_code, response.text) for response in slow] == [(200, "done")]
    assert len(server.after_serving_runs()) == int(workers)


async def test_the_graceful_timeout_is_the_users_to_set(tmp_path: Path) -> None:
    responses: list[httpx.Response] = []
    async with cli_server(tmp_path, "--graceful-timeout", "8") as server:
        async with trio.open_nursery() as nursery:

            async def long_request() -> None:
                async with httpx.AsyncClient(timeout=20) as client:
                    responses.append(await client.get(server.url + "/slow?seconds=5"))

            nursery.start_soon(long_request)
            await trio.sleep(0.3)
            server.send_signal(signal.SIGTERM)
            returncode = await server.wait(12)
    assert returncode == 0, server.stderr()
    # Longer than the default graceful timeout (3 s), which would have cut it.
    assert [(response.status_code, response.text) for response in responses] == [(200, "done")]


async def test_requests_past_the_graceful_timeout_are_cut(tmp_path: Path) -> None:
    errors: list[Exception] = []
    async with cli_server(tmp_path, "--graceful-timeout", "0.5") as server:
        async with trio.open_nursery() as nursery:

            async def long_request() -> None:
                async with httpx.AsyncClient(timeout=20) as client:
                    try:
                        await client.get(server.url + "/slow?seconds=30")
                    except httpx.TransportError as error:
                        errors.append(error)

            nursery.start_soon(long_request)
            await trio.sleep(0.3)
            signalled = trio.current_time()
            server.send_signal(signal.SIGTERM)
            returncode = await server.wait(10)
            took = trio.current_time() - signalled
    assert returncode == 0, server.stderr()
    assert took < 0.5 + 1
    assert len(errors) == 1
    assert server.after_serving_runs()  # the lifespan shutdown still ran


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_second_signal_forces_the_stop_and_says_so(tmp_path: Path, workers: str) -> None:
    async with cli_server(tmp_path, "--workers", workers) as server:
        async with trio.open_nursery() as nursery:

            async def long_request() -> None:
                async with httpx.AsyncClient(timeout=20) as client:
                    try:
                        await client.get(server.url + "/slow?seconds=30")
                    except httpx.TransportError:
                        pass

            nursery.start_soon(long_request)
            await trio.sleep(0.3)
            server.send_signal(signal.SIGINT)
            await trio.sleep(0.3)
            signalled = trio.current_time()
            server.send_signal(signal.SIGINT)
            returncode = await server.wait(5)
            took = trio.current_time() - signalled
    assert returncode == 1
    assert took < 2
    assert "forc" in server.stderr().lower()
