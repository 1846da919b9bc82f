"""A websocket client on a bare trio socket, built from wsproto's pieces, for tests that must
send what a well-behaved client library never would (a frame in the same write as the
upgrade request, a frame too big, a deflate bomb)."""

from __future__ import annotations

import base64
import os

import trio
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol, Opcode

__all__ = ["RawWebsocket", "upgrade_request"]


def upgrade_request(path: str, *, extensions: str | None = None) -> bytes:
    """The bytes of an HTTP/1.1 websocket upgrade request for ``path``."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if extensions is not None:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawWebsocket:
    """A client websocket on a socket: frames made and parsed by wsproto's frame protocol."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.frames = FrameProtocol(client=True, extensions=[])
        self._head = b""

    @classmethod
    async def connect(cls, host: str, port: int) -> RawWebsocket:
        return cls(await trio.open_tcp_stream(host, port))

    def text_frame(self, text: str) -> bytes:
        return self.frames.send_data(text, fin=True)

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def read_head(self) -> bytes:
        """The response head (status line and headers) of the handshake or its denial."""
        while b"\r\n\r\n" not in self._head:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                break
            self._head += chunk
        head, _, rest = self._head.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-extensions":
                # The server agreed to compress: frames both ways go through deflate now.
                deflate = PerMessageDeflate()
                deflate.finalize(value.decode().strip())
                self.frames = FrameProtocol(client=True, extensions=[deflate])
        self.frames.receive_bytes(rest)
        return head

    async def next_frame(self) -> tuple[Opcode, bytes | str] | None:
        """The next frame from the server: (opcode, payload); None at the end of the stream.
        A close frame's payload is its code and reason as bytes."""
        while True:
            for frame in self.frames.received_frames():
                return frame.opcode, frame.payload  # type: ignore[return-value]
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                return None
            self.frames.receive_bytes(chunk)

    async def aclose(self) -> None:
        await self.stream.aclose()
