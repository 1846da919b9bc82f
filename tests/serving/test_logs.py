"""Logs a person can act on (issue 10, part 4): one access line per request, and an error
from a task in a request's or websocket's nursery shown once, not also inside its group."""

from __future__ import annotations

import logging

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from trioquart import TrioQuart, request, websocket
from trioquart.testing import serve_app

from ..wire import close_client_sockets  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("close_client_sockets")

TIMEOUT = 10


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> str:
        return "hello"

    @app.get("/task-fails")
    async def task_fails() -> str:
        async def fails() -> None:
            raise ValueError("the task failed")

        request.nursery.start_soon(fails)
        await trio.sleep_forever()
        return "unreachable"

    @app.websocket("/ws-task-fails")
    async def ws_task_fails() -> None:
        await websocket.accept()

        async def fails() -> None:
            raise ValueError("the websocket's task failed")

        websocket.nursery.start_soon(fails)
        await trio.sleep_forever()

    return app


async def test_a_client_that_closes_right_after_the_response_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hypercorn.access")
    access = logging.getLogger("hypercorn.access")
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app(), accesslog=access) as server:
            for _ in range(20):
                # As curl does: read the whole response, then close at once.
                async with await trio.open_tcp_stream(server.host, server.port) as stream:
                    await stream.send_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                    received = b""
                    while not received.endswith(b"hello"):
                        received += await stream.receive_some(1024)
    lines = [record.getMessage() for record in caplog.records if record.name == "hypercorn.access"]
    assert len(lines) == 20, lines
    assert all('"GET / 1.1" 200' in line for line in lines)


async def test_an_error_in_a_requests_task_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/task-fails")
    assert response.status_code == 500
    [record] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert record.exc_text is not None
    assert record.exc_text.count('raise ValueError("the task failed")') == 1
    assert "During handling of the above exception" not in record.exc_text


async def test_an_error_in_a_websockets_task_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            with pytest.raises(ConnectionClosed) as closed:
                async with open_websocket_url(server.ws_url + "/ws-task-fails") as ws:
                    await ws.get_message()
    assert closed.value.reason.code == 1011
    [record] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert record.exc_text is not None
    assert record.exc_text.count('raise ValueError("the websocket\'s task failed")') == 1
    assert "During handling of the above exception" not in record.exc_text
