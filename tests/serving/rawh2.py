"""An HTTP/2 client on a bare trio socket, built on the ``h2`` library, for tests that send
what client libraries never would (a ``:path`` with raw bytes, a body that goes on after
the response) and then check the same connection still serves."""

from __future__ import annotations

import attrs
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import trio

__all__ = ["RawH2", "StreamResult"]


@attrs.define
class StreamResult:
    status: int | None = None
    body: bytes = b""
    reset: int | None = None  # the error code of a RST_STREAM from the server
    ended: trio.Event = attrs.Factory(trio.Event)


class RawH2:
    """One HTTP/2 connection (prior knowledge), any number of streams on it."""

    def __init__(self, stream: trio.SocketStream) -> None:
        config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False)
        self.connection = h2.connection.H2Connection(config)
        self.connection.initiate_connection()
        self.stream = stream
        self.results: dict[int, StreamResult] = {}
        self.closed = trio.Event()

    @classmethod
    async def connect(cls, host: str, port: int) -> RawH2:
        client = cls(await trio.open_tcp_stream(host, port))
        await client.flush()
        return client

    async def flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            await self.stream.send_all(data)

    def start(
        self, method: str, path: bytes, headers: list[tuple[bytes, bytes]] = (), *, end: bool
    ) -> int:
        stream_id: int = self.connection.get_next_available_stream_id()
        self.results[stream_id] = StreamResult()
        self.connection.send_headers(
            stream_id,
            [
                (b":method", method.encode()),
                (b":scheme", b"http"),
                (b":authority", b"test"),
                (b":path", path),
                *headers,
            ],
            end_stream=end,
        )
        return stream_id

    def send_data(self, stream_id: int, data: bytes, *, end: bool = False) -> bool:
        """Queue body data; False if the stream is closed (the server reset it)."""
        try:
            self.connection.send_data(stream_id, data, end_stream=end)
        except h2.exceptions.StreamClosedError:
            return False
        return True

    async def read_until_closed(self) -> None:
        """Handle the server's frames until the connection ends (run it in a task)."""
        try:
            while data := await self.stream.receive_some(65536):
                for event in self.connection.receive_data(data):
                    self._handle(event)
                await self.flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the server dropped the connection, or this client closed it
        finally:
            self.closed.set()
            for result in self.results.values():
                result.ended.set()

    def _handle(self, event: h2.events.Event) -> None:
        result = self.results.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.ResponseReceived) and result is not None:
            result.status = int(dict(event.headers)[b":status"])
        elif isinstance(event, h2.events.DataReceived) and result is not None:
            result.body += event.data
            self.connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and result is not None:
            result.ended.set()
        elif isinstance(event, h2.events.StreamReset) and result is not None:
            result.reset = int(event.error_code)
            result.ended.set()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.closed.set()

    async def aclose(self) -> None:
        await self.stream.aclose()
