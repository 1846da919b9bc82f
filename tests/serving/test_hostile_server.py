"""Bounded under hostile input (issue 10, part 4): what the server itself must refuse or
survive, through a real server (in this process, so its memory can be read) and raw
sockets. Each case checks the safe answer, and that a health GET is answered within 1 s
afterwards. (The app-level cases, 413, 408, bad JSON and UTF-8 and so on, are in
tests/e2e/test_hostile_http.py.)"""

from __future__ import annotations

import os
import socket
import struct
import zlib
from collections.abc import Iterator

import httpx
import pytest
import trio
from wsproto.frame_protocol import Opcode

from trioquart import TrioQuart, websocket
from trioquart.testing import LiveServer, serve_app

from .rawws import RawWebsocket, upgrade_request

TIMEOUT = 30
MIB = 1024 * 1024
LIMIT = MIB  # the app's WEBSOCKET_MAX_MESSAGE_SIZE in these tests


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = LIMIT

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.websocket("/echo")
    async def echo() -> None:
        async for message in websocket:
            await websocket.send(message)

    @app.websocket("/deaf")
    async def deaf() -> None:
        await websocket.accept()
        await trio.sleep_forever()

    return app


async def assert_healthy(server: LiveServer) -> None:
    with trio.fail_after(1):
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/health")
    assert response.status_code == 200


# ---- memory -----------------------------------------------------------------------------


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")  # resets VmHWM, the peak resident set size, to the current size


def status_kib(field: str) -> int:
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


class PeakGrowth:
    """The growth of this process's peak RSS over a block, in bytes."""

    def __enter__(self) -> PeakGrowth:
        reset_peak_rss()
        self.start = status_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bytes = status_kib("VmHWM") * 1024 - self.start


# ---- websocket frames a library would not send -------------------------------------------


def frame_header(opcode: int, length: int, *, compressed: bool = False, fin: bool = True) -> bytes:
    """A client frame's header (masked, with an all-zero mask so the payload goes as is)."""
    first = (0x80 if fin else 0) | (0x40 if compressed else 0) | opcode
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 1 << 16:
        size = bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        size = bytes([0x80 | 127]) + struct.pack("!Q", length)
    return bytes([first]) + size + b"\0\0\0\0"


def deflate_bomb(inflated_size: int) -> bytes:
    """A permessage-deflate payload (RFC 7692: raw deflate, the trailing 00 00 ff ff cut)
    that inflates to ``inflated_size`` zero bytes."""
    compressor = zlib.compressobj(wbits=-15)
    chunk = bytes(MIB)
    pieces = [compressor.compress(chunk) for _ in range(inflated_size // MIB)]
    pieces.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    payload = b"".join(pieces)
    assert payload.endswith(b"\x00\x00\xff\xff")
    return payload[:-4]


async def open_raw(server: LiveServer, path: str, *, extensions: str | None = None) -> RawWebsocket:
    raw = await RawWebsocket.connect(server.host, server.port)
    await raw.send(upgrade_request(path, extensions=extensions))
    head = await raw.read_head()
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


async def close_code(raw: RawWebsocket) -> int | None:
    """Read frames until the server's close frame; its code (None if the stream ended)."""
    while (frame := await raw.next_frame()) is not None:
        opcode, payload = frame
        if opcode is Opcode.CLOSE:
            return int(payload[0])  # type: ignore[index]
    return None


async def send_ignoring_close(raw: RawWebsocket, data: bytes) -> None:
    """Send as much of ``data`` as the server reads before it closes the connection."""
    try:
        await raw.send(data)
    except trio.BrokenResourceError:
        pass


async def test_a_deflate_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = deflate_bomb(400 * MIB)  # about 400 KB on the wire
    assert len(bomb) < MIB
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            with PeakGrowth() as growth:
                raws = [
                    await open_raw(server, "/echo", extensions="permessage-deflate")
                    for _ in range(3)
                ]
                codes: list[int | None] = []
                async with trio.open_nursery() as nursery:
                    for raw in raws:

                        async def bomb_one(raw: RawWebsocket = raw) -> None:
                            header = frame_header(0x2, len(bomb), compressed=True)
                            nursery.start_soon(send_ignoring_close, raw, header + bomb)
                            codes.append(await close_code(raw))

                        nursery.start_soon(bomb_one)
                for raw in raws:
                    await raw.aclose()
            await assert_healthy(server)
    assert codes == [1009, 1009, 1009]  # message too big
    # Three at once, each capped at the 1 MiB limit, not 400 MB each.
    assert growth.bytes < 40 * MIB, growth.bytes


async def test_compressed_messages_within_the_limit_still_work() -> None:
    text = "hello " * 100_000  # 600 KB, deflated to a few KB
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            raw = await open_raw(server, "/echo", extensions="permessage-deflate")
            await raw.send(raw.text_frame(text))
            frame = await raw.next_frame()
            await raw.aclose()
    assert frame == (Opcode.TEXT, text)


async def test_a_100_mb_message_is_refused_at_the_apps_limit() -> None:
    size = 100 * MIB
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            raw = await open_raw(server, "/echo")
            with PeakGrowth() as growth:
                async with trio.open_nursery() as nursery:

                    async def send_100_mb() -> None:
                        await send_ignoring_close(raw, frame_header(0x2, size))
                        chunk = bytes(MIB)
                        for _ in range(100):
                            await send_ignoring_close(raw, chunk)

                    nursery.start_soon(send_100_mb)
                    code = await close_code(raw)
                    nursery.cancel_scope.cancel()
            await raw.aclose()
            await assert_healthy(server)
    assert code == 1009
    assert growth.bytes < 16 * MIB, growth.bytes  # the 1 MiB limit and a read or two


async def test_messages_to_a_handler_that_never_reads_are_held_back_by_the_socket() -> None:
    message = frame_header(0x1, 1000) + b"x" * 1000
    sent = 0
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            raw = await open_raw(server, "/deaf")
            with PeakGrowth() as growth:
                with trio.move_on_after(3):
                    for _ in range(100_000):
                        await raw.send(message)
                        sent += 1
            await assert_healthy(server)
            await raw.aclose()
    assert sent < 100_000  # the client was slowed down: nothing buffers 100 MB for it
    assert growth.bytes < 16 * MIB, growth.bytes


# ---- headers ------------------------------------------------------------------------------


async def raw_request(server: LiveServer, request: bytes) -> bytes:
    async with await trio.open_tcp_stream(server.host, server.port) as stream:
        await stream.send_all(request)
        received = b""
        while chunk := await stream.receive_some(65536):
            received += chunk
        return received


@pytest.mark.parametrize(
    "headers",
    [
        [f"x-field-{index}: {index}" for index in range(150)],  # too many fields
        [f"x-big: {'a' * 20_000}"],  # 20 KB, in one read (h11 takes it whole)
        [f"x-huge-{index}: {'a' * 8_000}" for index in range(9)],  # 72 KB, several reads
    ],
    ids=["150 fields", "20 KB in one field", "72 KB"],
)
async def test_oversized_header_blocks_get_431(headers: list[str]) -> None:
    request = ("GET /health HTTP/1.1\r\nhost: x\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode()
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            response = await raw_request(server, request)
            await assert_healthy(server)
    assert response.startswith(b"HTTP/1.1 431 ")


async def test_header_limits_are_the_servers_to_set() -> None:
    headers = "".join(f"x-field-{index}: {index}\r\n" for index in range(150))
    request = f"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{headers}\r\n".encode()
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app(), max_header_count=200) as server:
            response = await raw_request(server, request)
    assert response.startswith(b"HTTP/1.1 200 ")


async def test_slow_header_connections_are_closed_and_others_are_served() -> None:
    connections = 200
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app(), keep_alive_timeout=2) as server:
            streams = [
                await trio.open_tcp_stream(server.host, server.port) for _ in range(connections)
            ]
            for stream in streams:
                await stream.send_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
            started = trio.current_time()
            closed: list[float] = []
            async with trio.open_nursery() as nursery:

                async def trickle(stream: trio.SocketStream) -> None:
                    try:
                        while True:
                            await stream.send_all(b"x-slow: 1\r\n")
                            await trio.sleep(0.5)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass

                async def wait_for_close(stream: trio.SocketStream) -> None:
                    with trio.move_on_after(10):
                        while await stream.receive_some(1024):
                            pass
                        closed.append(trio.current_time() - started)

                for stream in streams:
                    nursery.start_soon(trickle, stream)
                    nursery.start_soon(wait_for_close, stream)
                await trio.sleep(0.5)
                await assert_healthy(server)  # served while 200 connections trickle
                await trio.sleep(4)
                nursery.cancel_scope.cancel()
            for stream in streams:
                await stream.aclose()
            await assert_healthy(server)
    assert len(closed) == connections
    assert max(closed) < 2 + 1  # the keep-alive timeout bounds an unfinished request head


# ---- many dropped connections -------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def count_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> Iterator[trio.lowlevel.Task]:
        yield task
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                yield from walk(child)

    return sum(1 for _ in walk(trio.lowlevel.current_root_task()))  # type: ignore[arg-type]


async def test_a_thousand_websockets_dropped_without_a_close_leave_nothing_behind() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            await assert_healthy(server)
            fds, tasks = open_fds(), count_tasks()
            raws = []
            for _ in range(1000):
                raws.append(await open_raw(server, "/echo"))
            await trio.sleep(0.2)
            assert count_tasks() > tasks + 1000  # they were all being served
            for raw in raws:
                # An abortive close: RST, no closing frame.
                raw.stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                await raw.aclose()
            with trio.fail_after(5):
                while open_fds() > fds or count_tasks() > tasks:
                    await trio.sleep(0.05)
            await assert_healthy(server)


@pytest.mark.parametrize("reset", [False, True], ids=["FIN", "RST"])
async def test_connections_dropped_mid_request_are_released_at_once(reset: bool) -> None:
    """Not after the keep-alive timeout: Hypercorn leaves a connection whose client left in
    the middle of a request head with its keep-alive timer running, and keeps the
    connection's tasks (and, after a reset, its socket) until the timer runs out, so a client
    churning connections holds ``rate x keep_alive_timeout`` of them."""
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app(), keep_alive_timeout=30) as server:
            await assert_healthy(server)
            await trio.sleep(0.1)
            fds, tasks = open_fds(), count_tasks()
            for _ in range(100):
                stream = await trio.open_tcp_stream(server.host, server.port)
                await stream.send_all(b"GET /health HTTP/1.1\r\nhos")
                await trio.sleep(0.001)
                if reset:
                    linger = struct.pack("ii", 1, 0)
                    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                await stream.aclose()
            with trio.fail_after(1):  # far less than the 30 s keep-alive timeout
                while open_fds() > fds or count_tasks() > tasks:
                    await trio.sleep(0.01)
