"""Websockets through a real server (trioquart's), with trio-websocket as the client.

What only the wire can show: the 101 with its subprotocol and headers, a denial arriving as
a real HTTP response (``ConnectionRejected``), the close codes a browser would see, and the
client's own close code reaching the app (Hypercorn's own worker reports 1006 for every
close the client starts).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url
from werkzeug.datastructures import WWWAuthenticate

from trioquart import TrioQuart, abort, websocket
from trioquart.testing import serve_app

from ..wire import close_client_sockets  # noqa: F401 (a fixture)

TIMEOUT = 10


pytestmark = pytest.mark.usefixtures("close_client_sockets")


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)

    @app.websocket("/echo")
    async def echo() -> None:
        async for message in websocket:
            await websocket.send(message)

    return app


def code_and_reason(error: ConnectionClosed) -> tuple[int, str | None]:
    assert error.reason is not None
    return error.reason.code, error.reason.reason


async def close_seen(url: str) -> tuple[int, str | None]:
    """Connect to ``url`` and return the close code and reason the server sent."""
    async with open_websocket_url(url) as ws:
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await ws.get_message()
    return code_and_reason(info.value)


async def test_echo() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            async with open_websocket_url(server.ws_url + "/echo") as ws:
                await ws.send_message("hello")
                assert await ws.get_message() == "hello"
                await ws.send_message(b"\x00\xff")
                assert await ws.get_message() == b"\x00\xff"


async def test_accept_with_subprotocol_and_headers() -> None:
    app = make_app()

    @app.websocket("/chat")
    async def chat() -> None:
        await websocket.accept(headers={"X-Room": "lobby"}, subprotocol="chat.v1")
        await websocket.send(f"{websocket.requested_subprotocols} {websocket.subprotocol}")

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            async with open_websocket_url(
                server.ws_url + "/chat", subprotocols=["chat.v2", "chat.v1"]
            ) as ws:
                assert ws.subprotocol == "chat.v1"
                assert (b"x-room", b"lobby") in ws.handshake_headers
                assert await ws.get_message() == "['chat.v2', 'chat.v1'] chat.v1"


async def test_denial_arrives_as_the_real_response() -> None:
    app = make_app()

    @app.websocket("/private")
    async def private() -> None:
        if websocket.headers.get("Authorization") != "Bearer letmein":
            abort(401, www_authenticate=WWWAuthenticate("bearer"))
        await websocket.send("welcome")

    @app.websocket("/teapot")
    async def teapot() -> Any:
        return "short and stout", 418, {"X-Reason": "tea"}

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(server.ws_url + "/private"):
                    pass
            assert info.value.status_code == 401
            headers = dict(info.value.headers)
            assert headers[b"www-authenticate"].lower().startswith(b"bearer")
            assert b"Unauthorized" in (info.value.body or b"")

            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(server.ws_url + "/teapot"):
                    pass
            assert info.value.status_code == 418
            assert (b"x-reason", b"tea") in info.value.headers
            assert info.value.body == b"short and stout"

            async with open_websocket_url(
                server.ws_url + "/private", extra_headers=[(b"authorization", b"Bearer letmein")]
            ) as ws:
                assert await ws.get_message() == "welcome"


async def test_unknown_path_and_returning_none_are_denied() -> None:
    app = make_app()

    @app.websocket("/silent")
    async def silent() -> None:
        return None

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(server.ws_url + "/nowhere"):
                    pass
            assert info.value.status_code == 404
            with pytest.raises(ConnectionRejected) as info:
                async with open_websocket_url(server.ws_url + "/silent"):
                    pass
            assert info.value.status_code == 403


async def test_close_codes() -> None:
    app = make_app()

    @app.websocket("/done")
    async def done() -> None:
        await websocket.send("that is all")

    @app.websocket("/error")
    async def error() -> None:
        await websocket.accept()
        raise RuntimeError("a bug after accept")

    @app.websocket("/forbidden")
    async def forbidden() -> None:
        await websocket.accept()
        abort(403)

    @app.websocket("/bye")
    async def bye() -> None:
        await websocket.accept()
        await websocket.close(4000, "bye for now")

    @app.websocket("/json")
    async def json() -> None:
        await websocket.receive_json()

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            assert (await close_seen(server.ws_url + "/done"))[0] == 1000
            assert (await close_seen(server.ws_url + "/error"))[0] == 1011
            assert await close_seen(server.ws_url + "/forbidden") == (4403, "Forbidden")
            assert await close_seen(server.ws_url + "/bye") == (4000, "bye for now")
            async with open_websocket_url(server.ws_url + "/json") as ws:
                await ws.send_message("{oops")
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
            assert code_and_reason(info.value) == (4400, "Bad Request")


async def test_client_disconnect_cancels_the_handler_and_the_server_keeps_serving() -> None:
    app = make_app()
    events: list[str] = []
    torn_down = trio.Event()
    started = trio.Event()

    @app.websocket("/wait")
    async def wait() -> None:
        async def ticker() -> None:
            try:
                while True:
                    await trio.sleep(0.01)
            finally:
                events.append("task cancelled")

        await websocket.accept()
        websocket.nursery.start_soon(ticker)
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            events.append("handler finally")

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        if websocket.path == "/wait":
            events.append(f"teardown {websocket.close_code}")
            torn_down.set()

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            async with open_websocket_url(server.ws_url + "/wait"):
                await started.wait()
            with trio.fail_after(2):  # well before the server's shutdown would cancel it
                await torn_down.wait()
            async with open_websocket_url(server.ws_url + "/echo") as ws:
                await ws.send_message("still serving")
                assert await ws.get_message() == "still serving"
    # The code the client closed with (trio-websocket's default, 1000) reaches the app.
    # (Hypercorn's own worker reports 1006 for every close the client starts.)
    assert sorted(events) == ["handler finally", "task cancelled", "teardown 1000"]


async def test_the_clients_close_code_and_reason_reach_the_app() -> None:
    app = make_app()
    seen: list[tuple[int | None, str]] = []
    closed = trio.Event()

    @app.websocket("/listen")
    async def listen() -> None:
        try:
            async for _ in websocket:
                pass
        finally:
            seen.append((websocket.close_code, websocket.close_reason))
            closed.set()

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            async with open_websocket_url(server.ws_url + "/listen") as ws:
                await ws.send_message("hello")
                await ws.aclose(code=4001, reason="client bye")
            await closed.wait()
    assert seen == [(4001, "client bye")]
