"""The chat example (``examples/chat.py``) through a real server (``serve_app``), with
trio-websocket as the client: the page, the protocol, fan-out, a client that does not read,
the health check, and the Redis backend (two app instances as two workers, and an outage).

The browser side of the page is tested in ``tests/browser``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from examples import chat
from tests.redis_server import RedisServer, redis_server_running
from tests.wire import close_client_sockets  # noqa: F401 (a fixture)
from trioquart.testing import serve_app

pytestmark = pytest.mark.usefixtures("close_client_sockets")

TIMEOUT = 10
CHAT_SOURCE = Path(chat.__file__)
_loaded = itertools.count()


async def next_event(ws: WebSocketConnection) -> dict[str, Any]:
    message = await ws.get_message()
    assert isinstance(message, str), "the server sends JSON as text"
    event: dict[str, Any] = json.loads(message)
    return event


def said(name: str, text: str) -> dict[str, Any]:
    return {"type": "message", "name": name, "text": text}


async def wait_until_ready(ws: WebSocketConnection) -> None:
    assert await next_event(ws) == {"type": "ready"}


async def wait_for_subscribers(module: ModuleType, count: int) -> None:
    """Wait (bounded by the caller's timeout) until the app has ``count`` subscribers."""
    while module.broadcast.health().subscribers != count:
        await trio.sleep(0.01)


def load_chat(monkeypatch: pytest.MonkeyPatch, **environ: str) -> ModuleType:
    """A fresh copy of the example, imported with ``environ`` set, as ``trioquart run``
    would import it in a worker with that environment."""
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    name = f"chat_example_{next(_loaded)}"
    spec = importlib.util.spec_from_file_location(name, CHAT_SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server_running() as server:
        yield server


# -- the page ---------------------------------------------------------------------------------


async def test_the_page_has_its_controls_and_renders_text_as_text() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for control in ("name", "join", "message", "send", "messages", "status"):
        assert re.search(rf'\bid="{control}"', page), control
    assert "textContent" in page
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page
    assert "prompt(" not in page  # the name comes from the #name field


async def test_health_is_200_in_memory() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["healthy"] is True
    assert health["subscribers"] == 0


# -- the protocol -----------------------------------------------------------------------------


async def test_a_message_fans_out_to_every_member_as_json() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with (
                open_websocket_url(server.ws_url + "/ws?name=ann") as ann,
                open_websocket_url(server.ws_url + "/ws?name=bob") as bob,
                open_websocket_url(server.ws_url + "/ws?name=cy") as cy,
            ):
                for member in (ann, bob, cy):
                    await wait_until_ready(member)
                await ann.send_message("hi all")
                for member in (ann, bob, cy):  # the sender hears itself too
                    assert await next_event(member) == said("ann", "hi all")
                await bob.send_message("hi ann")
                for member in (ann, bob, cy):
                    assert await next_event(member) == said("bob", "hi ann")
            await wait_for_subscribers(chat, 0)  # everyone left: no subscription is left behind


async def test_a_message_said_right_after_ready_is_not_missed() -> None:
    # "ready" is sent once the member is subscribed, so whatever is said after it arrives.
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with open_websocket_url(server.ws_url + "/ws?name=host") as host:
                await wait_until_ready(host)
                for index in range(20):
                    url = server.ws_url + f"/ws?name=guest{index}"
                    async with open_websocket_url(url) as guest:
                        await wait_until_ready(guest)
                        await host.send_message(f"welcome {index}")
                        assert await next_event(guest) == said("host", f"welcome {index}")
                        assert await next_event(host) == said("host", f"welcome {index}")


async def test_a_message_said_right_after_ready_on_another_worker_is_not_missed(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each guest is alone on its worker, which so subscribes to the room on Redis afresh for
    # it: "ready" must wait until Redis has confirmed that subscription.
    first = load_chat(monkeypatch, TRIOQUART_BROADCAST_URL=redis.url)
    second = load_chat(monkeypatch, TRIOQUART_BROADCAST_URL=redis.url)
    with trio.fail_after(TIMEOUT):
        async with serve_app(first.app) as one, serve_app(second.app) as two:
            async with open_websocket_url(one.ws_url + "/ws?name=host") as host:
                await wait_until_ready(host)
                for index in range(20):
                    async with open_websocket_url(two.ws_url + f"/ws?name=g{index}") as guest:
                        await wait_until_ready(guest)
                        await host.send_message(f"welcome {index}")
                        assert await next_event(guest) == said("host", f"welcome {index}")
                        assert await next_event(host) == said("host", f"welcome {index}")
                    await wait_for_subscribers(second, 0)


async def test_markup_and_odd_text_arrive_unchanged() -> None:
    texts = ["<b>bold</b> & <script>alert(1)</script>", 'quotes " \\ \n newline', "ünïcödé 🙂"]
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            async with open_websocket_url(server.ws_url + "/ws?name=%3Ci%3Eeve%3C/i%3E") as ws:
                await wait_until_ready(ws)
                for text in texts:
                    await ws.send_message(text)
                    assert await next_event(ws) == said("<i>eve</i>", text)
                await ws.send_message(b"bytes \xff")  # binary is decoded, never fatal
                assert await next_event(ws) == said("<i>eve</i>", "bytes \ufffd")


async def test_a_missing_name_is_anonymous_and_a_long_one_is_cut() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            for query, name in [("", "anonymous"), ("?name=+", "anonymous"),
                                ("?name=" + "n" * 500, "n" * chat.MAX_NAME_LENGTH)]:
                async with open_websocket_url(server.ws_url + "/ws" + query) as ws:
                    await wait_until_ready(ws)
                    await ws.send_message("hello")
                    assert await next_event(ws) == said(name, "hello")


async def test_a_message_too_big_to_publish_is_reported_not_fatal() -> None:
    limit = chat.app.config.get("BROADCAST_MAX_MESSAGE_SIZE", 1024 * 1024)
    with trio.fail_after(TIMEOUT):
        async with serve_app(chat.app) as server:
            # (trio-websocket refuses to send or take more than 1 MiB by default.)
            async with open_websocket_url(
                server.ws_url + "/ws?name=ann", max_message_size=4 * limit
            ) as ann:
                await wait_until_ready(ann)
                await ann.send_message("x" * (limit + 1))
                error = await next_event(ann)
                assert error["type"] == "error"
                assert "not sent" in error["text"]
                await ann.send_message("still here")
                assert await next_event(ann) == said("ann", "still here")


# -- a client that does not read --------------------------------------------------------------


async def test_a_client_that_does_not_read_is_ended_with_1013_not_the_room() -> None:
    # Messages big enough that the slow client's socket buffers fill up: from then on its
    # sender waits, its subscription falls behind, and the broadcaster ends it. A room that
    # waited for its members would stop instead, and the fast client would hear nothing.
    most, size = 400, 128 * 1024
    with trio.fail_after(3 * TIMEOUT):
        async with serve_app(chat.app) as server:
            async with (
                open_websocket_url(server.ws_url + "/ws?name=slow") as slow,
                open_websocket_url(server.ws_url + "/ws?name=fast") as fast,
            ):
                await wait_until_ready(slow)  # ...and then it reads no more
                await wait_until_ready(fast)
                sent = 0
                # Until the server has ended the slow member, then as many again: every one
                # of them reaches the fast member, in order.
                while sent < most and chat.broadcast.health().subscribers == 2:
                    text = f"{sent:04d}" + "x" * size
                    await fast.send_message(text)
                    assert await next_event(fast) == said("fast", text)
                    sent += 1
                assert sent < most, "the slow client was never ended"
                await wait_for_subscribers(chat, 1)
                for index in range(sent, 2 * sent):
                    text = f"{index:04d}" + "x" * size
                    await fast.send_message(text)
                    assert await next_event(fast) == said("fast", text)
                # The close frame waits behind what the slow client has not read: reading
                # now, it gets some of the messages and then the close, with 1013.
                received = 0
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        event = await next_event(slow)
                        assert event["type"] == "message"
                        received += 1
                assert closed.value.reason.code == 1013
                assert 0 < received < sent


# -- Redis: two workers, an outage ------------------------------------------------------------


async def test_two_workers_on_redis_share_the_room(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_chat(monkeypatch, TRIOQUART_BROADCAST_URL=redis.url)
    second = load_chat(monkeypatch, TRIOQUART_BROADCAST_URL=redis.url)
    assert first.broadcast is not second.broadcast
    with trio.fail_after(TIMEOUT):
        async with serve_app(first.app) as one, serve_app(second.app) as two:
            async with (
                open_websocket_url(one.ws_url + "/ws?name=ann") as ann,
                open_websocket_url(two.ws_url + "/ws?name=bob") as bob,
            ):
                await wait_until_ready(ann)
                await wait_until_ready(bob)
                await ann.send_message("hi from worker one")
                await bob.send_message("hi from worker two")
                for ws in (ann, bob):
                    events = [await next_event(ws), await next_event(ws)]
                    assert said("ann", "hi from worker one") in events
                    assert said("bob", "hi from worker two") in events
            async with httpx.AsyncClient(base_url=one.url) as client:
                response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["healthy"] is True


async def test_a_redis_outage_is_reported_then_the_room_recovers(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_chat(
        monkeypatch,
        TRIOQUART_BROADCAST_URL=redis.url,
        TRIOQUART_BROADCAST_OUTAGE_LIMIT="0.5",  # unhealthy after half a second down
        TRIOQUART_BROADCAST_RECONNECT_MAX_DELAY="0.2",
        TRIOQUART_BROADCAST_PROBE_INTERVAL="0.2",
    )
    with trio.fail_after(3 * TIMEOUT):
        async with serve_app(module.app) as server, httpx.AsyncClient(base_url=server.url) as http:
            async with open_websocket_url(server.ws_url + "/ws?name=ann") as ann:
                await wait_until_ready(ann)
                assert (await http.get("/health")).status_code == 200

                redis.kill()
                while module.broadcast.health().connected:
                    await trio.sleep(0.01)
                # Publishing fails at once while Redis is down: the client is told its
                # message was not sent.
                events: list[dict[str, Any]] = []
                await ann.send_message("lost")
                while not events or events[-1] == {"type": "gap"}:
                    events.append(await next_event(ann))
                assert events[-1]["type"] == "error", events
                assert "not sent" in events[-1]["text"]
                while (response := await http.get("/health")).status_code != 503:
                    await trio.sleep(0.05)
                assert response.json()["healthy"] is False

                redis.start()
                while (await http.get("/health")).status_code != 200:
                    await trio.sleep(0.05)
                # Back: the room works again, and before the first message after the outage
                # the client was told that messages may be missing.
                while said("ann", "back") not in events:
                    await ann.send_message("back")
                    with trio.move_on_after(0.5):
                        while True:
                            events.append(await next_event(ann))
                assert {"type": "gap"} in events[: events.index(said("ann", "back"))]
                assert said("ann", "lost") not in events
