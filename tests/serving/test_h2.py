"""HTTP/2 input that breaks Hypercorn's h2 code, through trioquart's server: each is a
clear answer for its stream, and the connection (with its other streams) goes on."""

from __future__ import annotations

import logging

import pytest
import trio

from trioquart import TrioQuart, request
from trioquart.testing import LiveServer, serve_app

from .rawh2 import RawH2

TIMEOUT = 10


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1000

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.post("/upload")
    async def upload() -> str:
        return str(len(await request.get_data()))

    @app.post("/ignores-body")
    async def ignores_body() -> str:
        return "answered early"

    return app


async def health_on(client: RawH2) -> tuple[int | None, bytes]:
    stream_id = client.start("GET", b"/health", end=True)
    await client.flush()
    result = client.results[stream_id]
    await result.ended.wait()
    return result.status, result.body


def connection_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def open_client(server: LiveServer, nursery: trio.Nursery) -> RawH2:
    client = await RawH2.connect(server.host, server.port)
    nursery.start_soon(client.read_until_closed)
    return client


async def test_a_raw_non_ascii_path_is_a_stream_error(caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server, trio.open_nursery() as nursery:
            client = await open_client(server, nursery)
            stream_id = client.start("GET", b"/caf\xe9", end=True)
            await client.flush()
            await client.results[stream_id].ended.wait()
            assert await health_on(client) == (200, b"ok")  # the same connection
            await client.aclose()
    assert client.results[stream_id].reset == 1  # PROTOCOL_ERROR: a malformed request
    assert connection_failures(caplog) == []


@pytest.mark.parametrize(
    ("path", "answer"),
    [("/upload", (413, None)), ("/ignores-body", (200, b"answered early"))],
    ids=["413 from the Content-Length", "handler ignores the body"],
)
async def test_a_body_that_goes_on_after_the_response(
    path: str, answer: tuple[int, bytes | None], caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server, trio.open_nursery() as nursery:
            client = await open_client(server, nursery)
            headers = [(b"content-length", b"100000"), (b"content-type", b"text/plain")]
            stream_id = client.start("POST", path.encode(), headers, end=False)
            client.send_data(stream_id, b"x" * 500)
            await client.flush()
            result = client.results[stream_id]
            with trio.fail_after(2):
                while result.status is None:
                    await trio.sleep(0.01)
            # The response is in; the client goes on sending its body, as it may.
            for _ in range(20):
                if not client.send_data(stream_id, b"x" * 1000):
                    break  # the server reset the stream: the client may stop
                await client.flush()
                await trio.sleep(0.01)
            await result.ended.wait()
            assert await health_on(client) == (200, b"ok")  # the same connection
            await client.aclose()
    status, body = answer
    assert result.status == status
    if body is not None:
        assert result.body == body
    assert connection_failures(caplog) == []
