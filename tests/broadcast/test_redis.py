"""The broadcaster on a real redis-server: across apps (as across processes), one backend
subscription per channel, replay from Streams, and what an outage does."""

from __future__ import annotations

import logging
import re

import pytest
import trio

from tests.redis_server import RedisServer
from trioquart import TrioQuart
from trioquart.broadcast import (
    Broadcast,
    BroadcastUnavailable,
    Gap,
    Message,
    Subscription,
)

TIMEOUT = 20


def make_app(server: RedisServer, **config: object) -> tuple[TrioQuart, Broadcast]:
    app = TrioQuart(__name__)
    app.config.update({"BROADCAST_URL": server.url, "BROADCAST_PROBE_INTERVAL": 0.5, **config})
    return app, Broadcast(app)


def numsub(server: RedisServer, channel: str) -> int:
    """How many connections Redis has subscribed to our channel ``channel``."""
    reply = server.command("PUBSUB", "NUMSUB", f"trioquart:c:{channel}").decode()
    return int(reply.split("\r\n")[-2].lstrip(":"))


async def next_message(subscription: Subscription) -> Message:
    event = await subscription.__anext__()
    assert isinstance(event, Message), event
    return event


async def until(predicate: object, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.02)


async def test_messages_reach_the_subscribers_of_another_app_once_each(
    redis_server: RedisServer,
) -> None:
    first, first_broadcast = make_app(redis_server, BROADCAST_BUFFER_SIZE=200)
    second, second_broadcast = make_app(redis_server, BROADCAST_BUFFER_SIZE=200)
    with trio.fail_after(TIMEOUT):
        async with first.test_app(), second.test_app():
            async with (
                first_broadcast.subscribe("room") as here,
                second_broadcast.subscribe("room") as there,
                second_broadcast.subscribe("room") as there_too,
            ):
                for index in range(100):
                    broadcast = first_broadcast if index % 2 else second_broadcast
                    await broadcast.publish("room", f"m{index}")
                await first_broadcast.publish("room", b"\xffraw")
                for subscription in (here, there, there_too):
                    got = [(await next_message(subscription)).data for _ in range(101)]
                    assert got == [f"m{index}" for index in range(100)] + [b"\xffraw"]
                # Nothing more, nothing twice.
                with trio.move_on_after(0.3):
                    extra = await here.__anext__()
                    pytest.fail(f"unexpected {extra}")


async def test_one_redis_subscription_per_channel_per_process(
    redis_server: RedisServer,
) -> None:
    app, broadcast = make_app(redis_server)
    with trio.fail_after(TIMEOUT):
        async with app.test_app(), trio.open_nursery() as nursery:
            leave = trio.Event()
            joined = trio.Semaphore(0)

            async def member() -> None:
                async with broadcast.subscribe("room"):
                    joined.release()
                    await leave.wait()

            for _ in range(50):
                nursery.start_soon(member)
            for _ in range(50):
                await joined.acquire()
            assert numsub(redis_server, "room") == 1
            leave.set()
            await until(lambda: numsub(redis_server, "room") == 0)
            assert broadcast.health().channels == 0


async def test_concurrent_publishers_share_one_connection(redis_server: RedisServer) -> None:
    app, broadcast = make_app(redis_server, BROADCAST_BUFFER_SIZE=200)
    with trio.fail_after(TIMEOUT):
        async with app.test_app(), broadcast.subscribe("room") as subscription:
            async with trio.open_nursery() as nursery:
                for worker in range(8):
                    for index in range(25):
                        nursery.start_soon(broadcast.publish, "room", f"{worker}:{index}")
            got = {(await next_message(subscription)).data for _ in range(200)}
    assert len(got) == 200
    clients = redis_server.command("CLIENT", "LIST").decode().strip().splitlines()
    assert len(clients) <= 3  # the two broadcaster connections and this CLIENT LIST


async def test_replay_from_a_stream_resumes_after_the_last_id(
    redis_server: RedisServer,
) -> None:
    app, broadcast = make_app(redis_server, BROADCAST_REPLAY=1000)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            async with broadcast.subscribe("room") as subscription:
                for index in range(10):
                    await broadcast.publish("room", f"m{index}")
                seen = [await next_message(subscription) for _ in range(4)]
                last_id = subscription.last_id
            assert last_id == seen[-1].id
            # Away for a while: more is published.
            for index in range(10, 15):
                await broadcast.publish("room", f"m{index}")
            async with broadcast.subscribe("room", since=last_id) as resumed:
                await broadcast.publish("room", "live")
                got = [(await next_message(resumed)).data for _ in range(12)]
    assert got == [f"m{index}" for index in range(4, 15)] + ["live"]


async def test_replay_reports_a_gap_when_the_stream_was_trimmed(
    redis_server: RedisServer,
) -> None:
    app, broadcast = make_app(redis_server, BROADCAST_REPLAY=10)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            first = await broadcast.publish("room", "first")
            for index in range(500):  # MAXLEN ~ trims whole nodes, so go well past it
                await broadcast.publish("room", f"m{index}")
            async with broadcast.subscribe("room", since=first) as resumed:
                event = await resumed.__anext__()
                assert event == Gap("room", "trimmed")
                assert (await next_message(resumed)).data.startswith("m")
    length = int(redis_server.command("XLEN", "trioquart:h:room").decode().strip().lstrip(":"))
    assert length < 500  # capped


async def test_publishing_while_redis_is_down_raises_at_once(
    redis_server: RedisServer,
) -> None:
    app, broadcast = make_app(redis_server)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            await broadcast.publish("room", "up")
            redis_server.kill()
            started = trio.current_time()
            with pytest.raises(BroadcastUnavailable, match="Redis is unreachable"):
                await broadcast.publish("room", "down")
            assert trio.current_time() - started < 1.0
            redis_server.start()
            await broadcast.publish("room", "up again")  # no waiting for the reconnect


async def test_a_redis_restart_gives_each_subscription_a_gap_then_messages_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app, broadcast = make_app(redis_server, BROADCAST_OUTAGE_LIMIT=0.5)
    with trio.fail_after(TIMEOUT), caplog.at_level(logging.INFO, "trioquart.broadcast"):
        async with app.test_app():
            async with broadcast.subscribe("a") as first, broadcast.subscribe("b") as second:
                await broadcast.publish("a", "before")
                assert (await next_message(first)).data == "before"
                redis_server.kill()
                await until(lambda: not broadcast.health().connected)
                await until(lambda: not broadcast.health().healthy)  # past the outage limit
                assert broadcast.health().down_for is not None
                redis_server.start()
                assert await first.__anext__() == Gap("a", "reconnected")
                assert await second.__anext__() == Gap("b", "reconnected")
                assert broadcast.health().healthy and broadcast.health().connected
                await broadcast.publish("a", "after")
                await broadcast.publish("b", "after")
                assert (await next_message(first)).data == "after"
                assert (await next_message(second)).data == "after"
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "lost the connection" in m]) == 1
    assert len([m for m in messages if "unreachable for" in m]) == 1
    assert len([m for m in messages if "reconnected to Redis" in m]) == 1
    assert not any("unexpected error" in m for m in messages)


async def test_every_restart_is_survived(redis_server: RedisServer) -> None:
    # coredis's own reconnect sometimes resubscribes and then delivers nothing (5 of 12
    # restarts, measured); ours rebuilds the subscription, so every restart must recover.
    app, broadcast = make_app(redis_server)
    with trio.fail_after(60):
        async with app.test_app(), broadcast.subscribe("room") as subscription:
            for restart in range(8):
                redis_server.kill()
                redis_server.start()
                assert await subscription.__anext__() == Gap("room", "reconnected")
                await broadcast.publish("room", f"after restart {restart}")
                assert (await next_message(subscription)).data == f"after restart {restart}"


async def test_a_deaf_subscription_is_caught_by_the_probe(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Make the first subscribing connection deaf the way coredis's was seen to be: still
    # subscribed on the server, delivering nothing, raising nothing.
    from coredis.patterns.pubsub import BasePubSub

    original = BasePubSub._consume_push_messages
    deafened: list[object] = []

    async def consume(self: BasePubSub) -> None:  # type: ignore[type-arg]
        if deafened:
            await original(self)
            return
        deafened.append(self)
        async for response in self.connection.push_messages:
            if response[0] in (b"message", "message"):
                continue  # swallowed; subscription confirmations still get through
            self._send_stream.send_nowait(await self._handle_message(response))

    app, broadcast = make_app(redis_server, BROADCAST_PROBE_INTERVAL=0.3)
    with trio.fail_after(TIMEOUT), caplog.at_level(logging.WARNING, "trioquart.broadcast"):
        monkeypatch.setattr(BasePubSub, "_consume_push_messages", consume)
        async with app.test_app(), broadcast.subscribe("room") as subscription:
            await broadcast.publish("room", "lost")
            assert await subscription.__anext__() == Gap("room", "reconnected")
            await broadcast.publish("room", "heard")
            assert (await next_message(subscription)).data == "heard"
    assert deafened
    assert any(re.search("probe did not come back", r.getMessage()) for r in caplog.records)


async def test_subscribing_during_an_outage_yields_a_gap_once_live(
    redis_server: RedisServer,
) -> None:
    app, broadcast = make_app(redis_server)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            redis_server.kill()
            await until(lambda: not broadcast.health().connected)
            async with broadcast.subscribe("room") as subscription:
                redis_server.start()
                assert await subscription.__anext__() == Gap("room", "reconnected")
                await broadcast.publish("room", "hello")
                assert (await next_message(subscription)).data == "hello"


async def test_the_app_starts_while_redis_is_down_and_connects_later(
    redis_server: RedisServer,
) -> None:
    redis_server.kill()
    app, broadcast = make_app(redis_server, BROADCAST_CONNECT_TIMEOUT=0.3)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            assert not broadcast.health().connected
            redis_server.start()
            await until(lambda: broadcast.health().connected)
            async with broadcast.subscribe("room") as subscription:
                await broadcast.publish("room", "hello")
                assert (await next_message(subscription)).data == "hello"
