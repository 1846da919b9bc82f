"""Server-sent events: an endless ``text/event-stream`` response fed by an async iterable.

.. code-block:: python

    from trioquart.sse import ServerSentEvent, event_stream

    @app.get("/events")
    async def events():
        async def updates():
            async for price in watch_prices():
                yield ServerSentEvent(data=json.dumps(price), event="price", id=price["seq"])

        return event_stream(updates())

:func:`event_stream` makes the response: ``text/event-stream``, no caching, no proxy
buffering and no response timeout. While the source has nothing to send it writes a comment
line every ``keep_alive`` seconds, so proxies and load balancers do not close the idle
connection (and a client that has gone away is noticed on the next write). When the client
disconnects, the connection cancels the stream: the source is cancelled where it waits and
its ``finally`` blocks run.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio
from werkzeug.datastructures import Headers

from .globals import _cv_app, _cv_request

if TYPE_CHECKING:
    from .wrappers.response import Response

__all__ = ["KEEP_ALIVE_COMMENT", "ServerSentEvent", "event_stream"]

#: The comment line written while the source is idle (clients ignore comments).
KEEP_ALIVE_COMMENT = b": keep-alive\n\n"

# The event stream format ends a line with CRLF, LF or CR, and nothing else (unlike
# str.splitlines, which also splits on form feeds, U+2028 and others).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _single_line(name: str) -> Any:
    def check(instance: Any, attribute: Any, value: str | None) -> None:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError(f"An event's {name} cannot contain a line break: {value!r}")

    return check


def _check_id(instance: Any, attribute: Any, value: str | None) -> None:
    if value is not None and "\0" in value:
        raise ValueError("An event id cannot contain a NUL character (clients ignore it).")


def _check_retry(instance: Any, attribute: Any, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value < 0):
        raise ValueError(f"retry is a whole number of milliseconds, not {value!r}")


def _id_to_str(value: Any) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class ServerSentEvent:
    """One event of an event stream.

    ``data`` is the payload (text; serialise structured data yourself, with ``json.dumps``
    say); a multi-line payload is sent as several ``data:`` lines and arrives whole. None
    sends no data line at all: the event then only updates the client's last event id or
    reconnection delay and is not delivered to its listeners. ``event`` is the event type
    (the browser's ``EventSource`` delivers untyped events as ``message``). ``id`` becomes
    the client's last event id, which it sends back in the ``Last-Event-ID`` header when it
    reconnects. ``retry`` sets the client's reconnection delay, in milliseconds.
    """

    data: str | None = None
    event: str | None = attrs.field(default=None, validator=_single_line("event type"))
    id: str | None = attrs.field(
        default=None, converter=_id_to_str, validator=[_single_line("id"), _check_id]
    )
    retry: int | None = attrs.field(default=None, validator=_check_retry)

    def encode(self) -> bytes:
        """The event in the wire format, UTF-8 encoded and ended by a blank line."""
        lines = []
        if self.event is not None:
            lines.append(f"event: {self.event}\n")
        if self.id is not None:
            lines.append(f"id: {self.id}\n")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}\n")
        if self.data is not None:
            lines.extend(f"data: {line}\n" for line in _LINE_BREAK.split(self.data))
        lines.append("\n")
        return "".join(lines).encode()


def _encode(item: Any) -> bytes:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, str):
        return ServerSentEvent(item).encode()
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    encode = getattr(item, "encode", None)
    if callable(encode):
        # An event class of one's own (the ServerSentEvent recipe of Quart's docs, say).
        encoded = encode()
        return encoded.encode() if isinstance(encoded, str) else bytes(encoded)
    raise TypeError(
        f"An event stream sends ServerSentEvent, str or bytes items, not {type(item).__name__}."
    )


async def _close(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _direct(source: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    """The stream without keep-alive: the source is iterated where the body is sent."""
    iterator = aiter(source)
    try:
        async for item in iterator:
            yield _encode(item)
    finally:
        await _close(iterator)


@attrs.frozen
class _Failed:
    """The source (or encoding one of its items) raised this: the stream re-raises it."""

    error: Exception


async def _produce(
    source: AsyncIterable[Any],
    channel: trio.MemorySendChannel[bytes | _Failed],
    cancel_scope: trio.CancelScope,
) -> None:
    """Move the source's encoded events into ``channel``, in a task of the request's
    nursery.

    The source waits in a task of its own because cancelling a wait inside an async
    generator (to write a keep-alive in the meantime) would end the generator for good. An
    error from the source is handed over to the stream and raised there, as it would be
    without keep-alive. Closing the channel is synchronous: a checkpoint there could let
    the stream's cleanup cancel this task while an error is still on its way.
    """
    with cancel_scope, channel:
        iterator = aiter(source)
        try:
            while True:
                message: bytes | _Failed
                try:
                    message = _encode(await anext(iterator))
                except StopAsyncIteration:
                    return
                except Exception as error:
                    message = _Failed(error)
                try:
                    await channel.send(message)
                except trio.BrokenResourceError:
                    return  # the stream stopped reading: the response has ended
                if isinstance(message, _Failed):
                    return
        finally:
            await _close(iterator)


async def _with_keep_alive(
    source: AsyncIterable[Any], keep_alive: float, nursery: trio.Nursery
) -> AsyncIterator[bytes]:
    """The stream with a keep-alive comment whenever the source is idle for a while."""
    send_channel, receive_channel = trio.open_memory_channel[bytes | _Failed](0)
    producer_scope = trio.CancelScope()
    nursery.start_soon(_produce, source, send_channel, producer_scope, name="event source")
    try:
        with receive_channel:
            while True:
                message: bytes | _Failed = KEEP_ALIVE_COMMENT
                with trio.move_on_after(keep_alive):
                    try:
                        message = await receive_channel.receive()
                    except trio.EndOfChannel:
                        return
                # Outside the cancel scope: a generator must not yield inside one.
                if isinstance(message, _Failed):
                    raise message.error
                yield message
    finally:
        producer_scope.cancel()


async def _body(source: AsyncIterable[Any], keep_alive: float | None) -> AsyncIterator[bytes]:
    # Decided when sending starts: that is when the request's nursery is at hand.
    request_ctx = _cv_request.get()
    nursery = request_ctx.request._nursery if request_ctx is not None else None
    if keep_alive is None or nursery is None:
        stream = _direct(source)
    else:
        stream = _with_keep_alive(source, keep_alive, nursery)
    try:
        async for encoded in stream:
            yield encoded
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


def event_stream(
    source: AsyncIterable[Any],
    *,
    keep_alive: float | None = 15.0,
    status: int = 200,
    headers: Headers | Mapping[str, str] | None = None,
) -> Response:
    """A streamed ``text/event-stream`` response sending the events of ``source``.

    ``source`` is an async iterable (an async generator, a trio memory channel ...) of
    :class:`ServerSentEvent`; a ``str`` item is sent as an event's data, and a ``bytes``
    item is written as it is (it must already be in the wire format). The stream ends when
    the source does, and the source is closed (``aclose``) when the stream ends for any
    reason.

    ``keep_alive`` is how many seconds of silence pass before a ``: keep-alive`` comment is
    written; None turns the comments off. With keep-alive the source runs in a task of the
    request's nursery, so it sees the same context (``request``, ``session``, ``g``).

    The response has no timeout (``response.timeout = None``): it lasts until the source
    ends or the client goes away, and ``RESPONSE_TIMEOUT`` does not cut it short.
    """
    if keep_alive is not None and keep_alive <= 0:
        raise ValueError("keep_alive is a number of seconds greater than 0, or None.")
    app_ctx = _cv_app.get()
    if app_ctx is not None:
        response_class = app_ctx.app.response_class
    else:
        from .wrappers.response import Response

        response_class = Response
    response = response_class(
        _body(source, keep_alive), status=status, mimetype="text/event-stream"
    )
    response.headers["Cache-Control"] = "no-cache"
    # nginx buffers proxied responses unless told otherwise, which would hold events back.
    response.headers["X-Accel-Buffering"] = "no"
    if headers:
        response.headers.update(headers)
    response.timeout = None
    return response
