"""Server-sent events: the wire format of ``ServerSentEvent`` and the ``event_stream``
response in-process (headers, no timeout, keep-alive comments, the end of the source, and
stopping the source when the client goes away)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel

from trioquart import TrioQuart, request
from trioquart.sse import KEEP_ALIVE_COMMENT, ServerSentEvent, event_stream
from trioquart.testing.client import TestHTTPConnection

TIMEOUT = 5


def parse_events(text: str) -> list[dict[str, Any]]:
    """Parse an event stream as a browser's EventSource does (comments included, under
    ``"comment"``, to check the keep-alive)."""
    events: list[dict[str, Any]] = []
    data: list[str] = []
    fields: dict[str, Any] = {}
    for line in re.split(r"\r\n|\r|\n", text):
        if line == "":
            if data or fields:
                if data:
                    fields["data"] = "\n".join(data)
                events.append(fields)
            data, fields = [], {}
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            fields.setdefault("comment", []).append(value)
        elif name == "data":
            data.append(value)
        else:
            fields[name] = value
    return events


# ---- the wire format ------------------------------------------------------------------


def test_encode_all_fields() -> None:
    event = ServerSentEvent(data="hello", event="greeting", id="7", retry=2500)
    assert event.encode() == b"event: greeting\nid: 7\nretry: 2500\ndata: hello\n\n"


def test_encode_data_only() -> None:
    assert ServerSentEvent("hello").encode() == b"data: hello\n\n"
    assert ServerSentEvent("").encode() == b"data: \n\n"  # an event with empty data


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\r"])
def test_multi_line_data_becomes_several_data_lines(separator: str) -> None:
    data = separator.join(["first", "", "  indented", "last"])
    encoded = ServerSentEvent(data).encode()
    assert encoded == b"data: first\ndata: \ndata:   indented\ndata: last\n\n"
    (parsed,) = parse_events(encoded.decode())
    assert parsed == {"data": "first\n\n  indented\nlast"}


def test_trailing_newline_and_unicode_survive() -> None:
    data = "caf\u00e9 \u2028 \x0c form feed and line separator are not line breaks\n"
    encoded = ServerSentEvent(data).encode()
    assert encoded.count(b"data: ") == 2
    (parsed,) = parse_events(encoded.decode())
    assert parsed["data"] == data


def test_data_none_sends_no_data_line() -> None:
    assert ServerSentEvent(retry=1000).encode() == b"retry: 1000\n\n"
    assert ServerSentEvent(id="42").encode() == b"id: 42\n\n"


def test_id_may_be_given_as_a_number() -> None:
    assert ServerSentEvent("x", id=12).id == "12"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "two\nlines"},
        {"event": "carriage\rreturn"},
        {"id": "a\nb"},
        {"id": "nul\0"},
        {"retry": -1},
        {"retry": 1.5},
    ],
)
def test_invalid_fields_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ServerSentEvent("data", **kwargs)


def test_events_are_immutable_records() -> None:
    event = ServerSentEvent("x", event="e")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert event == ServerSentEvent("x", event="e")


# ---- the response ---------------------------------------------------------------------


def make_app(testing: bool = True) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = testing
    return app


async def read_until(connection: TestHTTPConnection, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = await connection.receive()
        assert chunk, f"the stream ended before {marker!r}: {received!r}"
        received += chunk
    return received


async def test_headers_and_events_then_the_source_ends() -> None:
    app = make_app()
    app.config["RESPONSE_TIMEOUT"] = 0.05  # the stream outlives it: it has no timeout
    closed: list[str] = []

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[Any]:
            try:
                yield ServerSentEvent("one", event="first", id="1")
                await trio.sleep(0.2)
                yield "two\nlines"
                yield b": a comment of my own\n\n"
            finally:
                closed.append("source")

        return event_stream(source(), keep_alive=None)

    with trio.fail_after(TIMEOUT):
        response = await app.test_client().get("/events")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Length" not in response.headers
    text = await response.get_data(as_text=True)
    assert parse_events(text) == [
        {"event": "first", "id": "1", "data": "one"},
        {"data": "two\nlines"},
        {"comment": ["a comment of my own"]},
    ]
    assert closed == ["source"]


async def test_response_record() -> None:
    app = make_app()
    async with app.app_context():

        async def nothing() -> AsyncIterator[str]:
            yield "only"

        response = event_stream(nothing(), status=201, headers={"X-Extra": "1"})
        assert response.timeout is None
        assert response.status_code == 201
        assert response.headers["X-Extra"] == "1"
        assert response.is_streamed
        # Outside a request there is no nursery: the source is read directly.
        assert await response.get_data() == b"data: only\n\n"


@pytest.mark.parametrize("keep_alive", [None, 30.0], ids=["direct", "keep-alive task"])
async def test_disconnect_stops_the_source_and_runs_its_finally(
    keep_alive: float | None,
) -> None:
    app = make_app()
    progress: list[str] = []
    cleaned_up = trio.Event()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[ServerSentEvent]:
            try:
                for number in range(1_000_000):
                    progress.append(f"sent {number}")
                    yield ServerSentEvent(str(number), id=str(number))
                    await trio.sleep(0.01)
            finally:
                # A disconnect cancels the source where it waits; cleanup can still run.
                progress.append("finally")
                cleaned_up.set()

        return event_stream(source(), keep_alive=keep_alive)

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.request("/events") as connection:
            received = await read_until(connection, b"id: 2\n")
            assert connection.headers is not None
            assert connection.headers["Content-Type"].startswith("text/event-stream")
            await connection.disconnect()
            await cleaned_up.wait()
    parsed = parse_events(received.decode())
    assert [event["data"] for event in parsed[:3]] == ["0", "1", "2"]
    assert progress[-1] == "finally"
    sent = len(progress) - 1
    await trio.sleep(0.05)
    assert len(progress) - 1 == sent  # nothing ran after the disconnect


async def test_keep_alive_comment_while_the_source_is_idle() -> None:
    app = make_app()
    cleaned_up = trio.Event()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            try:
                yield "hello"
                await trio.sleep_forever()
                yield "never"
            finally:
                cleaned_up.set()

        return event_stream(source(), keep_alive=0.02)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().request("/events") as connection:
            received = await read_until(connection, KEEP_ALIVE_COMMENT * 3)
            await connection.disconnect()
            await cleaned_up.wait()
    assert received.startswith(b"data: hello\n\n")
    assert received[len(b"data: hello\n\n") :].startswith(KEEP_ALIVE_COMMENT)
    assert all(set(event) == {"comment"} for event in parse_events(received.decode())[1:])


async def test_keep_alive_waits_for_silence_and_does_not_break_the_source() -> None:
    app = make_app()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            # Events more often than the keep-alive period: no comment in between.
            for number in range(5):
                yield str(number)
                await trio.sleep(0.01)
            # Then idle for longer than one period: comments, and the source goes on.
            await trio.sleep(0.35)
            yield "after the pause"

        return event_stream(source(), keep_alive=0.1)

    with trio.fail_after(TIMEOUT):
        response = await app.test_client().get("/events")
    text = await response.get_data(as_text=True)
    parsed = parse_events(text)
    assert [event.get("data") for event in parsed[:5]] == ["0", "1", "2", "3", "4"]
    assert parsed[-1] == {"data": "after the pause"}
    comments = parsed[5:-1]
    assert 2 <= len(comments) <= 4
    assert all(event == {"comment": ["keep-alive"]} for event in comments)


async def test_source_sees_the_request_context() -> None:
    app = make_app()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            await trio.lowlevel.checkpoint()
            yield f"hello {request.args['name']}"

        return event_stream(source(), keep_alive=1.0)

    with trio.fail_after(TIMEOUT):
        response = await app.test_client().get("/events", query_string={"name": "ada"})
    assert await response.get_data() == b"data: hello ada\n\n"


async def test_memory_channel_source_is_closed_when_the_client_leaves() -> None:
    app = make_app()
    outcome: list[str] = []

    @app.get("/events")
    async def events() -> Any:
        send, receive = trio.open_memory_channel[ServerSentEvent](0)

        async def publisher() -> None:
            async with send:
                try:
                    for number in range(1_000_000):
                        await send.send(ServerSentEvent(str(number)))
                        await trio.sleep(0.01)
                except trio.BrokenResourceError:
                    outcome.append("subscriber gone")

        # The publisher lives in the app nursery, beyond this request.
        app.nursery.start_soon(publisher)
        return event_stream(receive, keep_alive=5)

    with trio.fail_after(TIMEOUT):
        async with app.test_app() as test_app:
            async with test_app.test_client().request("/events") as connection:
                await read_until(connection, b"data: 3\n")
                await connection.disconnect()
            while not outcome:
                await trio.sleep(0.01)
    assert outcome == ["subscriber gone"]


async def test_custom_event_objects_with_encode() -> None:
    app = make_app()

    @attrs.define
    class MyEvent:
        text: str

        def encode(self) -> bytes:
            return f"event: mine\ndata: {self.text}\n\n".encode()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[MyEvent]:
            yield MyEvent("ported from a Quart recipe")

        return event_stream(source())

    with trio.fail_after(TIMEOUT):
        response = await app.test_client().get("/events")
    assert parse_events(await response.get_data(as_text=True)) == [
        {"event": "mine", "data": "ported from a Quart recipe"}
    ]


@pytest.mark.parametrize("keep_alive", [None, 30.0], ids=["direct", "keep-alive task"])
@pytest.mark.parametrize("repeat", range(5))  # the error must never be lost in a race
async def test_an_error_in_the_source_breaks_the_stream(
    keep_alive: float | None, repeat: int
) -> None:
    app = make_app()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[Any]:
            yield "fine"
            await trio.lowlevel.checkpoint()
            yield 42  # not an event

        return event_stream(source(), keep_alive=keep_alive)

    received = b""
    with trio.fail_after(TIMEOUT), pytest.raises(TypeError, match="not int"):
        # The test client sees the error itself; a server logs it and closes the
        # connection without ending the response, so the client knows it broke.
        async with app.test_client().request("/events") as connection:
            while chunk := await connection.receive():
                received += chunk
    assert received == b"data: fine\n\n"


def test_keep_alive_must_be_positive() -> None:
    async def source() -> AsyncIterator[str]:
        yield "x"

    with pytest.raises(ValueError, match="keep_alive"):
        event_stream(source(), keep_alive=0)


async def test_streams_do_not_block_other_requests() -> None:
    app = make_app()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            while True:
                yield "tick"
                await trio.sleep(0.01)

        return event_stream(source(), keep_alive=0.5)

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.request("/events") as first, client.request("/events") as second:
            await read_until(first, b"tick")
            await read_until(second, b"tick")
            response = await client.get("/ping")
            assert await response.get_data() == b"pong"
            await read_until(first, b"tick\n\ndata: tick")


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
