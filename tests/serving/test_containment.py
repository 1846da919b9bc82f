"""No client can take trioquart's server down: one connection's failure ends only that
connection (issue 10, part 1). Through a real server, with raw sockets as the clients.

Hypercorn's own trio worker dies of the pipelined upgrade (a websocket frame in the same
write as the handshake) when the app answers at once, and of any error in its
per-connection code; ``test_hypercorns_worker_dies_of_it`` shows the input is the real one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
from hypercorn.protocol.h11 import H11Protocol
from trio_websocket import open_websocket_url
from wsproto.frame_protocol import Opcode

from trioquart import TrioQuart, abort, websocket
from trioquart.testing import LiveServer, serve_app

from ..wire import close_client_sockets  # noqa: F401 (a fixture)
from .cli_server import cli_server
from .rawws import RawWebsocket, upgrade_request

pytestmark = pytest.mark.usefixtures("close_client_sockets")

TIMEOUT = 30
ATTEMPTS = 50


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.websocket("/accept")
    async def accept_at_once() -> None:
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    @app.websocket("/close")
    async def close_at_once() -> None:
        await websocket.close(1000)

    @app.websocket("/deny")
    async def deny_at_once() -> None:
        abort(401)

    return app


async def assert_still_serving(server: LiveServer, open_ws: object) -> None:
    """A health GET answers within 1 s, and the websocket opened before still echoes."""
    with trio.fail_after(1):
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/health")
    assert response.status_code == 200 and response.text == "ok"
    with trio.fail_after(1):
        await open_ws.send_message("still here")  # type: ignore[attr-defined]
        assert await open_ws.get_message() == "still here"  # type: ignore[attr-defined]


async def pipelined_upgrade(server: LiveServer, path: str) -> bytes:
    """Send the upgrade and a text frame in one write; return the status line received."""
    raw = await RawWebsocket.connect(server.host, server.port)
    try:
        await raw.send(upgrade_request(path) + raw.text_frame("early"))
        head = await raw.read_head()
        if head.startswith(b"HTTP/1.1 101"):
            # The frame sent before the 101 is delivered (and echoed), not lost.
            assert await raw.next_frame() == (Opcode.TEXT, "early")
        return head.split(b"\r\n", 1)[0]
    finally:
        await raw.aclose()


@pytest.mark.parametrize(
    ("path", "status"),
    [("/accept", b"101"), ("/close", b"403"), ("/deny", b"401")],
    ids=["accepting", "closing", "denying"],
)
async def test_pipelined_upgrades_end_only_their_connection(path: str, status: bytes) -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            async with open_websocket_url(server.ws_url + "/accept") as open_ws:
                for _ in range(ATTEMPTS):
                    status_line = await pipelined_upgrade(server, path)
                    assert status_line.split()[1] == status
                await assert_still_serving(server, open_ws)


async def test_hypercorns_worker_dies_of_it() -> None:
    # The same input against Hypercorn's own worker: serve_app raises the crash.
    with trio.fail_after(TIMEOUT), pytest.RaisesGroup(Exception, flatten_subgroups=True):
        async with serve_app(make_app(), server="hypercorn") as server:
            for _ in range(ATTEMPTS):
                try:
                    await pipelined_upgrade(server, "/accept")
                except (OSError, trio.BrokenResourceError):
                    pass
            await trio.sleep_forever()  # the crash cancels this


CRASH_MARKER = b"x-crash-the-protocol"


@asynccontextmanager
async def protocol_that_raises_on(
    monkeypatch: pytest.MonkeyPatch, marker: bytes
) -> AsyncIterator[list[int]]:
    """Make Hypercorn's h11 protocol code raise for any data holding ``marker``: a fault in
    the server's own per-connection code, not in the app. Yields a list counting the faults."""
    handle = H11Protocol.handle
    faults: list[int] = []

    async def faulty_handle(self: H11Protocol, event: object) -> None:
        if marker in getattr(event, "data", b""):
            faults.append(1)
            raise RuntimeError("injected fault in the protocol code")
        await handle(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(H11Protocol, "handle", faulty_handle)
    yield faults


async def test_a_fault_in_the_servers_connection_code_ends_only_that_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    with trio.fail_after(TIMEOUT):
        async with (
            protocol_that_raises_on(monkeypatch, CRASH_MARKER) as faults,
            serve_app(make_app()) as server,
            open_websocket_url(server.ws_url + "/accept") as open_ws,
        ):
            for _ in range(ATTEMPTS):
                stream = await trio.open_tcp_stream(server.host, server.port)
                async with stream:
                    await stream.send_all(
                        b"GET /health HTTP/1.1\r\nhost: x\r\n" + CRASH_MARKER + b": 1\r\n\r\n"
                    )
                    assert await stream.receive_some(1024) == b""  # closed, no response
            await assert_still_serving(server, open_ws)
    assert len(faults) == ATTEMPTS
    failures = [r for r in caplog.records if "failed; closed it" in r.getMessage()]
    assert len(failures) == ATTEMPTS  # one log record per failed connection
    assert all("injected fault" in (record.exc_text or "") for record in failures)


async def test_the_same_fault_ends_hypercorns_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(TIMEOUT), pytest.RaisesGroup(RuntimeError, flatten_subgroups=True):
        async with (
            protocol_that_raises_on(monkeypatch, CRASH_MARKER),
            serve_app(make_app(), server="hypercorn") as server,
        ):
            stream = await trio.open_tcp_stream(server.host, server.port)
            async with stream:
                await stream.send_all(
                    b"GET / HTTP/1.1\r\nhost: x\r\n" + CRASH_MARKER + b": 1\r\n\r\n"
                )
                await trio.sleep_forever()  # the crash cancels this


async def test_an_app_that_lets_a_base_exception_out_fails_only_its_request() -> None:
    class NotAnException(BaseException):
        pass

    app = make_app()

    @app.get("/explode")
    async def explode() -> str:
        raise NotAnException

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            async with open_websocket_url(server.ws_url + "/accept") as open_ws:
                async with httpx.AsyncClient(base_url=server.url) as client:
                    response = await client.get("/explode")
                assert response.status_code == 500
                await assert_still_serving(server, open_ws)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_trioquart_run_survives_the_pipelined_upgrade(tmp_path: Path, workers: str) -> None:
    """The issue's reproduction, through the command line: what ended ``trioquart run``
    (and every worker of ``--workers 2``) on Hypercorn's worker."""
    async with cli_server(tmp_path, "--workers", workers) as server:
        live = LiveServer.from_url(server.url)
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(server.ws_url + "/ws") as open_ws:
                for _ in range(ATTEMPTS):
                    assert await pipelined_upgrade(live, "/ws") == b"HTTP/1.1 101 "
                await assert_still_serving(live, open_ws)
        server.send_signal()
        assert await server.wait(10) == 0
    assert "Traceback" not in server.stderr()
