"""Helpers for tests that cross the wire: fixtures shared by tests/e2e and tests/serving."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import trio


@pytest.fixture
def close_client_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the client's sockets after each test.

    trio-websocket 0.12 leaves its TCP stream open when the server ends the connection (a
    close the server starts, or a refused handshake); the garbage collector closes it later
    with a ResourceWarning, which ``filterwarnings = error`` turns into a failure. Keeping
    the streams and closing them here keeps that client quirk out of the results. (A sync
    fixture: pytest-trio runs only the async fixtures a test names as arguments.)
    """
    streams: list[trio.SocketStream] = []
    open_tcp_stream = trio.open_tcp_stream

    async def open_and_keep(*args: Any, **kwargs: Any) -> trio.SocketStream:
        stream = await open_tcp_stream(*args, **kwargs)
        streams.append(stream)
        return stream

    monkeypatch.setattr(trio, "open_tcp_stream", open_and_keep)
    yield
    for stream in streams:
        fd = stream.socket.detach()  # the trio run is over: close the bare descriptor
        if fd >= 0:
            os.close(fd)
