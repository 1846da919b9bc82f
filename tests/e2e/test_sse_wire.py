"""Server-sent events through a real Hypercorn server: httpx reading a whole stream, and a
raw socket for keep-alive comments and for a client that goes away mid-stream (httpx's
nested generators warn when a stream is abandoned early)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest
import trio

from trioquart import TrioQuart, request
from trioquart.sse import ServerSentEvent, event_stream
from trioquart.testing import serve_app

TIMEOUT = 10


async def open_stream(host: str, port: int, path: str) -> trio.SocketStream:
    stream = await trio.open_tcp_stream(host, port)
    await stream.send_all(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    return stream


async def read_until(stream: trio.SocketStream, marker: bytes, received: bytes = b"") -> bytes:
    while marker not in received:
        chunk = await stream.receive_some(65536)
        assert chunk, f"the connection closed before {marker!r}: {received!r}"
        received += chunk
    return received


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    received = b""
    while chunk := await stream.receive_some(65536):
        received += chunk
    return received


async def test_httpx_reads_a_whole_event_stream() -> None:
    app = TrioQuart(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.1  # the stream takes longer: it has no timeout

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[ServerSentEvent]:
            for number in range(3):
                yield ServerSentEvent(f"line one\nline two {number}", event="tick", id=number)
                await trio.sleep(0.1)

        return event_stream(source())

    lines: list[str] = []
    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            async with client.stream("GET", "/events") as response:
                async with aclosing(response.aiter_lines()) as stream_lines:
                    async for line in stream_lines:
                        lines.append(line)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers.get("transfer-encoding") == "chunked"
    expected: list[str] = []
    for number in range(3):
        expected += ["event: tick", f"id: {number}", "data: line one"]
        expected += [f"data: line two {number}", ""]
    assert lines == expected


async def test_client_going_away_stops_the_source() -> None:
    app = TrioQuart(__name__)
    cleaned_up = trio.Event()
    sent: list[int] = []

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            try:
                number = 0
                while True:
                    sent.append(number)
                    yield f"{request.args['who']} {number}"
                    number += 1
                    await trio.sleep(0.02)
            finally:
                cleaned_up.set()

        return event_stream(source())

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            stream = await open_stream(server.host, server.port, "/events?who=ada")
            received = await read_until(stream, b"data: ada 2\n\n")
            await stream.aclose()
            await cleaned_up.wait()
            stopped_at = len(sent)
            await trio.sleep(0.1)
            assert len(sent) == stopped_at  # nothing more was produced
    head, _, _ = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-type: text/event-stream; charset=utf-8" in head.lower()


async def test_keep_alive_comments_on_the_wire_and_then_a_disconnect() -> None:
    app = TrioQuart(__name__)
    cleaned_up = trio.Event()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            try:
                yield "ready"
                await trio.sleep_forever()
                yield "never sent"
            finally:
                cleaned_up.set()

        return event_stream(source(), keep_alive=0.05)

    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            stream = await open_stream(server.host, server.port, "/events")
            received = await read_until(stream, b"data: ready\n\n")
            _, _, after = received.partition(b"data: ready\n\n")
            while after.count(b": keep-alive\n\n") < 2:
                chunk = await stream.receive_some(65536)
                assert chunk, "the connection closed"
                after += chunk
            await stream.aclose()
            await cleaned_up.wait()


async def test_an_error_in_the_source_closes_the_connection_unfinished(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = TrioQuart(__name__)

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "first"
            await trio.sleep(0.01)
            raise RuntimeError("the feed broke")

        return event_stream(source(), keep_alive=1.0)

    caplog.set_level(logging.ERROR)
    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            stream = await open_stream(server.host, server.port, "/events")
            received = await read_until_closed(stream)
            await stream.aclose()
    assert b"data: first\n\n" in received
    # No terminating chunk: the client can tell the stream broke and reconnect.
    assert not received.endswith(b"0\r\n\r\n")
    assert "the feed broke" in caplog.text


async def test_server_shutdown_ends_an_open_stream() -> None:
    app = TrioQuart(__name__)
    cleaned_up = trio.Event()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            try:
                while True:
                    yield "tick"
                    await trio.sleep(0.02)
            finally:
                cleaned_up.set()

        return event_stream(source())

    with trio.fail_after(TIMEOUT):
        async with serve_app(app, graceful_timeout=0.2) as server:
            stream = await open_stream(server.host, server.port, "/events")
            await read_until(stream, b"data: tick\n\n")
        # The block waited for the server to stop: the stream was cancelled and cleaned up.
        assert cleaned_up.is_set()
        await stream.aclose()
