"""The websocket example ``examples/auth_websocket.py`` through a real server, with
trio-websocket as the client. (The chat example has its own tests: test_chat_example.py.)"""

from __future__ import annotations

import base64

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from examples import auth_websocket
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
