"""The broadcaster through real servers and real websocket clients, on a real Redis."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.redis_server import RedisServer
from tests.serving.cli_server import cli_server
from tests.wire import close_client_sockets  # noqa: F401 -- the fixture
from trioquart import TrioQuart, websocket
from trioquart.broadcast import Broadcast, Message
from trioquart.testing import serve_app

TIMEOUT = 30

# trio-websocket leaves a client's socket open when the server closes (tests/wire.py).
pytestmark = pytest.mark.usefixtures("close_client_sockets")

#: The app both ``trioquart run`` processes serve: its websocket says "ready" once it is
#: subscribed, then forwards the room; POST /publish publishes the body.
APP_SOURCE = textwrap.dedent(
    """
    from trioquart import TrioQuart, request, websocket
    from trioquart.broadcast import Broadcast, Message

    app = TrioQuart(__name__)
    app.config.from_prefixed_env("TRIOQUART")
    app.config["BROADCAST_BUFFER_SIZE"] = 1000
    broadcast = Broadcast(app)


    @app.get("/health")
    async def health():
        status = broadcast.health()
        return status.as_dict(), 200 if status.healthy and status.connected else 503


    @app.post("/publish")
    async def publish():
        await broadcast.publish("room", await request.get_data(as_text=True))
        return "", 204


    @app.websocket("/ws")
    async def room():
        async with broadcast.subscribe("room") as subscription:
            await websocket.send("ready")
            async for event in subscription:
                await websocket.send(event.data if isinstance(event, Message) else "GAP")
    """
)


async def test_two_trioquart_run_processes_share_one_room(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIOQUART_BROADCAST_URL", redis_server.url)
    count, per_server = 200, 3
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    received: dict[int, list[str]] = {}
    with trio.fail_after(TIMEOUT):
        async with (
            cli_server(tmp_path / "one", "--no-access-log", source=APP_SOURCE) as one,
            cli_server(tmp_path / "two", "--no-access-log", source=APP_SOURCE) as two,
        ):
            async with trio.open_nursery() as nursery:
                ready = trio.Semaphore(0)

                async def member(key: int, url: str) -> None:
                    async with open_websocket_url(url + "/ws") as ws:
                        assert await ws.get_message() == "ready"
                        ready.release()
                        received[key] = [await ws.get_message() for _ in range(count)]

                for key in range(2 * per_server):
                    nursery.start_soon(member, key, (one, two)[key % 2].ws_url)
                for _ in range(2 * per_server):
                    await ready.acquire()
                async with httpx.AsyncClient() as client:
                    for index in range(count):
                        server = (one, two)[index % 2]
                        response = await client.post(server.url + "/publish", content=f"m{index}")
                        assert response.status_code == 204
    expected = [f"m{index}" for index in range(count)]
    assert len(received) == 2 * per_server
    for messages in received.values():
        assert messages == expected  # each once, in publishing order, no gap


async def test_a_slow_websocket_client_gets_1013_while_the_others_keep_up(
    redis_server: RedisServer,
) -> None:
    app = TrioQuart(__name__)
    app.config.update(BROADCAST_URL=redis_server.url, BROADCAST_BUFFER_SIZE=16)
    broadcast = Broadcast(app)

    @app.websocket("/ws")
    async def room() -> None:
        async with broadcast.subscribe("room") as subscription:
            await websocket.send("ready")
            async for event in subscription:
                assert isinstance(event, Message)
                await websocket.send(event.data)

    # Big messages, so the slow client's socket buffers fill and its sends stop.
    count, size = 200, 64 * 1024
    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            async with (
                open_websocket_url(server.ws_url + "/ws", max_message_size=2 * size) as slow,
                open_websocket_url(server.ws_url + "/ws", max_message_size=2 * size) as fast,
            ):
                assert await slow.get_message() == "ready"
                assert await fast.get_message() == "ready"
                for index in range(count):
                    text = f"{index:04d}" + "x" * size
                    await broadcast.publish("room", text)
                    assert await fast.get_message() == text
                assert broadcast.health().subscribers == 1  # the slow one was ended
                with pytest.raises(ConnectionClosed) as info:
                    for _ in range(count + 1):
                        await slow.get_message()
    assert info.value.reason.code == 1013
