"""The server side of one HTTP request: Hypercorn's stream, with its access line written once.

Hypercorn's :class:`~hypercorn.protocol.http_stream.HTTPStream` marks a response complete
only after its last piece is written. A client that closes the connection as soon as it has
read the response (curl does) is noticed during that write, while the stream still looks
unfinished, so the request is logged once as cut short and then again with its status
(Hypercorn issue #357). :class:`HTTPStream` marks the response complete before the last
write. It is taken over when the app is spawned, like the websocket stream (see
:mod:`trioquart.serving.websocket`).
"""

from __future__ import annotations

from time import time

from hypercorn.protocol.events import EndBody, StreamClosed
from hypercorn.protocol.http_stream import ASGIHTTPState
from hypercorn.protocol.http_stream import HTTPStream as HypercornHTTPStream

__all__ = ["HTTPStream"]


class HTTPStream(HypercornHTTPStream):
    """Hypercorn's HTTP stream, logging each request once. Never constructed: see
    :meth:`take_over`."""

    @classmethod
    def take_over(cls, stream: HypercornHTTPStream) -> None:
        if type(stream) is not HypercornHTTPStream:
            raise RuntimeError(f"Expected Hypercorn's HTTPStream, got {type(stream).__name__}")
        stream.__class__ = cls

    async def _send_closed(self) -> None:
        self.state = ASGIHTTPState.CLOSED  # before the write that may notice the client leave
        await self.send(EndBody(stream_id=self.stream_id))
        await self.config.log.access(self.scope, self.response, time() - self.start_time)
        await self.send(StreamClosed(stream_id=self.stream_id))
