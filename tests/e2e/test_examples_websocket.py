"""The websocket examples (``examples/auth_websocket.py``, ``examples/chat.py``) through a
real Hypercorn server, with trio-websocket as the client."""

from __future__ import annotations

import base64

import httpx
import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from examples import auth_websocket, chat
from tests.wire import close_client_sockets  # noqa: F401 (a fixture)
from trioquart.testing import serve_app

pytestmark = pytest.mark.usefixtures("close_client_sockets")

TIMEOUT = 10


def basic(username: str, password: str) -> list[tuple[bytes, bytes]]:
    token = base64.b64encode(f"{username}:{password}".encode())
    return [(b"authorization", b"Basic " + token)]


async def test_auth_example_denies_without_credentials() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(auth_websocket.app) as server:
            for headers in ([], basic("alice", "wrong"), basic("mallory", "wonderland")):
                with pytest.raises(ConnectionRejected) as info:
                    async with open_websocket_url(server.ws_url + "/echo", extra_headers=headers):
                        pass
                assert info.value.status_code == 401
                assert dict(info.value.headers)[b"www-authenticate"] == b"Basic realm=echo"
                assert info.value.body is not None
                assert b"401 Unauthorized" in info.value.body


async def test_auth_example_echoes_with_valid_credentials() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(auth_websocket.app) as server:
            async with open_websocket_url(
                server.ws_url + "/echo", extra_headers=basic("alice", "wonderland")
            ) as ws:
                await ws.send_message("hello")
                assert await ws.get_message() == "hello"
                await ws.send_message(b"\x01\x02")
                assert await ws.get_message() == b"\x01\x02"


async def test_chat_example_serves_its_page() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "new WebSocket(url)" in response.text


async def test_chat_example_fans_a_message_out_to_every_member() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with (
                open_websocket_url(server.ws_url + "/ws?name=ann") as ann,
                open_websocket_url(server.ws_url + "/ws?name=bob") as bob,
            ):
                await ann.send_message("hi bob")
                assert await ann.get_message() == "ann: hi bob"
                assert await bob.get_message() == "ann: hi bob"
                await bob.send_message("hi ann")
                assert await bob.get_message() == "bob: hi ann"
                assert await ann.get_message() == "bob: hi ann"
    assert not chat.room.members  # everyone left


async def test_chat_example_is_not_stalled_by_a_client_that_does_not_read() -> None:
    # Messages big enough that the slow client's socket buffers fill up: from then on, a
    # room that waited for its members would stop, and the fast client would hear nothing.
    count, size = 200, 128 * 1024
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with (
                open_websocket_url(server.ws_url + "/ws?name=slow"),  # never reads
                open_websocket_url(server.ws_url + "/ws?name=fast") as fast,
            ):
                for index in range(count):
                    text = f"{index:04d}" + "x" * size
                    await fast.send_message(text)
                    assert await fast.get_message() == f"fast: {text}"
