"""The clients of the soak test (tests/serving/test_soak.py): well-behaved ones that check
every answer, and misbehaving ones on bare sockets that drop their connection mid-request or
mid-message. Each runs until ``stop`` is set, then finishes what it is doing and leaves
cleanly, and counts what it did in a shared :class:`Tally`."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import ssl
import struct
from collections import Counter
from typing import Any

import attrs
import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)
from wsproto.frame_protocol import Opcode

from .rawws import RawWebsocket, upgrade_request

__all__ = [
    "DROP_SHARE",
    "Tally",
    "big_body",
    "http_client",
    "websocket_client",
]

#: The share of connections that misbehave: each client, for each connection it opens,
#: drops it (one of the ways in :func:`drop_http` and :func:`drop_websocket`) this often.
DROP_SHARE = 0.1
#: Every wait of a client on the server is bounded by this (seconds).
TIMEOUT = 15
#: The most failures a tally keeps the text of (all are counted).
KEPT_FAILURES = 20

# httpx builds an SSL context for each client, which costs more CPU than a request; the
# clients talk plain HTTP, so one context serves them all.
SSL_CONTEXT = ssl.create_default_context()


@attrs.define
class Tally:
    """What the clients did, and what went wrong (a failure is anything a correct server
    would not have done)."""

    requests: Counter[str] = attrs.Factory(Counter)  # well-behaved HTTP requests, by kind
    statuses: Counter[int] = attrs.Factory(Counter)  # the statuses of their responses
    messages: int = 0  # websocket messages sent and echoed back exactly, in order
    websockets: int = 0  # well-behaved websockets opened, and closed by the client
    drops: Counter[str] = attrs.Factory(Counter)  # misbehaving connections, by kind
    failure_count: int = 0
    failures: list[str] = attrs.Factory(list)

    def fail(self, what: str) -> None:
        self.failure_count += 1
        if len(self.failures) < KEPT_FAILURES:
            self.failures.append(what)


def big_body(size: int) -> bytes:
    """What ``GET /big?size=SIZE`` answers (the served app makes it the same way)."""
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


# ---- well-behaved clients -----------------------------------------------------------------


async def http_client(url: str, tally: Tally, stop: trio.Event, seed: int) -> None:
    """GET, POST JSON and multipart uploads in a loop, a handful on each connection, each
    answer checked; one connection in ten is dropped instead (:func:`drop_http`)."""
    rng = random.Random(seed)
    while not stop.is_set():
        if rng.random() < DROP_SHARE:
            await drop_http(url, tally, rng)
            continue
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, verify=SSL_CONTEXT) as client:
            for _ in range(rng.randint(1, 20)):
                if stop.is_set():
                    break
                try:
                    with trio.fail_after(TIMEOUT):
                        await one_request(client, tally, rng)
                except (httpx.HTTPError, trio.TooSlowError) as error:
                    tally.fail(f"HTTP request failed: {error!r}")


async def one_request(client: httpx.AsyncClient, tally: Tally, rng: random.Random) -> None:
    kind = rng.choice(["get", "get big", "post json", "upload"])
    if kind == "get":
        number = rng.randrange(1_000_000)
        response = await client.get(f"/item/{number}", params={"q": f"q{number}"})
        expected: Any = {"number": number, "q": f"q{number}"}
        got: Any = response.json() if response.status_code == 200 else None
    elif kind == "get big":
        size = rng.choice([0, 1, 1000, 65536, 300_000])
        response = await client.get("/big", params={"size": size})
        expected, got = big_body(size), response.content
    elif kind == "post json":
        payload = {"n": rng.randrange(1_000_000), "text": "é" * rng.randrange(2000), "list": [1]}
        response = await client.post("/echo", json=payload)
        expected = {"echo": payload}
        got = response.json() if response.status_code == 200 else None
    else:
        # Mostly small files, kept in memory; one in ten past 500 KB, spooled to disk.
        size = rng.randrange(600_000, 700_000) if rng.random() < 0.1 else rng.randrange(100_000)
        data = rng.randbytes(size)
        name = f"file{rng.randrange(1000)}.bin"
        response = await client.post(
            "/upload",
            data={"note": name},
            files={"file": (name, data, "application/octet-stream")},
        )
        expected = {
            "size": size,
            "sha256": hashlib.sha256(data).hexdigest(),
            "filename": name,
            "note": name,
        }
        got = response.json() if response.status_code == 200 else None
    tally.statuses[response.status_code] += 1
    if response.status_code != 200:
        tally.fail(f"{kind}: status {response.status_code}: {response.text[:200]!r}")
    elif got != expected:
        tally.fail(f"{kind}: wrong answer: {str(got)[:200]!r}")
    else:
        tally.requests[kind] += 1


async def websocket_client(ws_url: str, tally: Tally, stop: trio.Event, seed: int) -> None:
    """Websockets one after another, each sending numbered messages in bursts and checking
    that each burst comes back exactly and in order, then closing; one in ten is dropped
    instead (:func:`drop_websocket`)."""
    rng = random.Random(seed)
    connection = 0
    while not stop.is_set():
        connection += 1
        if rng.random() < DROP_SHARE:
            await drop_websocket(ws_url, tally, rng)
            continue
        name = f"websocket {seed}/{connection}"
        try:
            async with open_websocket_url(
                ws_url + "/ws", connect_timeout=TIMEOUT, disconnect_timeout=TIMEOUT
            ) as ws:
                await echo_rounds(ws, name, tally, stop, rng)
        except HandshakeError as error:  # refused, or the opening or closing timed out
            tally.fail(f"{name}: {error!r}")
        else:
            tally.websockets += 1


async def echo_rounds(
    ws: WebSocketConnection, name: str, tally: Tally, stop: trio.Event, rng: random.Random
) -> None:
    try:
        for round_ in range(rng.randint(5, 100)):
            if stop.is_set():
                return
            burst: list[str | bytes] = []
            for index in range(rng.randint(1, 8)):
                text = f"{name}/{round_}/{index}:" + "x" * rng.randrange(2000)
                burst.append(text if rng.random() < 0.8 else text.encode())
            with trio.fail_after(TIMEOUT):
                for message in burst:
                    await ws.send_message(message)
                echoes = [await ws.get_message() for _ in burst]
            if echoes != burst:
                tally.fail(f"{name}: echoes out of order or wrong")
                return
            tally.messages += len(burst)
    except ConnectionClosed as closed:
        tally.fail(f"{name}: closed by the server: {closed.reason}")
    except trio.TooSlowError:
        tally.fail(f"{name}: an echo did not come back within {TIMEOUT} s")


# ---- misbehaving clients ------------------------------------------------------------------


async def abandon(stream: trio.SocketStream, rng: random.Random) -> str:
    """Close the connection, half the time with a reset (SO_LINGER 0) rather than a FIN;
    returns which."""
    if rng.random() < 0.5:
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()
        return "reset"
    await stream.aclose()
    return "close"


def http_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def drop_http(url: str, tally: Tally, rng: random.Random) -> None:
    """An HTTP connection dropped in the middle: half a head, half a JSON body, half a
    multipart upload, or a large response read only in part."""
    host, port = url.removeprefix("http://").split(":")
    kind = rng.choice(["half head", "half json", "half upload", "unread response"])
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream(host, int(port))
        try:
            if kind == "half head":
                head = http_head("POST", "/echo", {"Content-Length": "10"})
                await stream.send_all(head[: rng.randrange(1, len(head) - 4)])
            elif kind == "half json":
                body = json.dumps({"text": "y" * rng.randrange(10, 100_000)}).encode()
                head = http_head(
                    "POST",
                    "/echo",
                    {"Content-Type": "application/json", "Content-Length": str(len(body))},
                )
                await stream.send_all(head + body[: rng.randrange(len(body))])
            elif kind == "half upload":
                boundary = "soakboundary"
                body = (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file";'
                    ' filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode() + rng.randbytes(rng.randrange(10, 700_000))
                body += f"\r\n--{boundary}--\r\n".encode()
                head = http_head(
                    "POST",
                    "/upload",
                    {
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                        "Content-Length": str(len(body)),
                    },
                )
                await stream.send_all(head + body[: rng.randrange(len(body))])
            else:
                await stream.send_all(http_head("GET", "/big?size=5000000", {}))
                await stream.receive_some(65536)  # the response has started
            await trio.sleep(rng.uniform(0, 0.05))  # the server is waiting for the rest
        finally:
            how = await abandon(stream, rng)
    tally.drops[f"http {kind} ({how})"] += 1


async def drop_websocket(ws_url: str, tally: Tally, rng: random.Random) -> None:
    """A websocket that echoes a few messages, then is dropped without a closing frame:
    in the middle of a frame, between the fragments of a message, or after a whole one."""
    host, port = ws_url.removeprefix("ws://").split(":")
    kind = rng.choice(["half frame", "half message", "no close frame"])
    with trio.fail_after(TIMEOUT):
        raw = await RawWebsocket.connect(host, int(port))
        try:
            await raw.send(upgrade_request("/ws"))
            head = await raw.read_head()
            if not head.startswith(b"HTTP/1.1 101"):
                tally.fail(f"raw websocket: handshake answered {head[:60]!r}")
                return
            for index in range(rng.randint(0, 5)):
                text = f"raw {index}:" + "z" * rng.randrange(2000)
                await raw.send(raw.text_frame(text))
                if await raw.next_frame() != (Opcode.TEXT, text):
                    tally.fail("raw websocket: wrong echo")
                    return
            if kind == "half frame":
                frame = raw.text_frame("w" * rng.randrange(2, 50_000))
                await raw.send(frame[: rng.randrange(1, len(frame))])
            elif kind == "half message":
                await raw.send(raw.frames.send_data("the first fragment", fin=False))
            await trio.sleep(rng.uniform(0, 0.05))
        finally:
            how = await abandon(raw.stream, rng)
    tally.drops[f"websocket {kind} ({how})"] += 1
