"""The server side of one HTTP request: Hypercorn's stream, with its access line written once.

Hypercorn's :class:`~hypercorn.protocol.http_stream.HTTPStream` writes a request's access
line when the response is complete, and also, as cut short (``"GET / 1.1" - -``), when the
client closes the connection before that. A client that closes as soon as it has read the
response (curl does) often does so before the app's last, empty body message has reached
the stream, or while the last piece is being written: the request is logged twice, as cut
short and then with its status (Hypercorn issue #357; with curl, about one request in ten).

:class:`HTTPStream` writes exactly one line: the response's when it completes, and the cut
short line only if the app has finished without completing it. It also marks the response
complete before the last write. It is taken over when the app is spawned, like the
websocket stream (see :mod:`trioquart.serving.websocket`).
"""

from __future__ import annotations

from time import time
from typing import Any

from hypercorn.protocol.events import EndBody, Event, StreamClosed
from hypercorn.protocol.http_stream import ASGIHTTPState
from hypercorn.protocol.http_stream import HTTPStream as HypercornHTTPStream

__all__ = ["HTTPStream"]


class HTTPStream(HypercornHTTPStream):
    """Hypercorn's HTTP stream, logging each request once. Never constructed: see
    :meth:`take_over`."""

    #: The client left before the response was complete; the line waits for the app's end.
    _left_early: bool = False

    @classmethod
    def take_over(cls, stream: HypercornHTTPStream) -> None:
        if type(stream) is not HypercornHTTPStream:
            raise RuntimeError(f"Expected Hypercorn's HTTPStream, got {type(stream).__name__}")
        stream.__class__ = cls

    async def handle(self, event: Event) -> None:
        if isinstance(event, StreamClosed) and self.state != ASGIHTTPState.CLOSED:
            # Hypercorn's branch for StreamClosed, with its access line left for later.
            self.closed = True
            self._left_early = True
            if self.app_put is not None:
                await self.app_put({"type": "http.disconnect"})
            return
        await super().handle(event)

    async def app_send(self, message: Any) -> None:
        await super().app_send(message)
        if message is None and self._left_early and self.state != ASGIHTTPState.CLOSED:
            self._left_early = False  # the app is done, and the response never completed
            no_response: Any = None  # what Hypercorn logs a request cut short with
            await self.config.log.access(self.scope, no_response, time() - self.start_time)

    async def _send_closed(self) -> None:
        self.state = ASGIHTTPState.CLOSED  # before the write that may notice the client leave
        await self.send(EndBody(stream_id=self.stream_id))
        await self.config.log.access(self.scope, self.response, time() - self.start_time)
        await self.send(StreamClosed(stream_id=self.stream_id))
