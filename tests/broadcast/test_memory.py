"""The broadcaster on its default, in-memory backend: fan-out, bounds, gaps, replay."""

from __future__ import annotations

import logging
import tracemalloc

import pytest
import trio

from trioquart import TrioQuart, websocket
from trioquart.broadcast import (
    Broadcast,
    Gap,
    Message,
    SubscriberTooSlow,
)
from trioquart.testing import WebsocketDisconnectError

TIMEOUT = 10


def make_app(**config: object) -> tuple[TrioQuart, Broadcast]:
    app = TrioQuart(__name__)
    app.config.update(config)
    return app, Broadcast(app)


async def test_every_subscriber_gets_every_message_once_in_order() -> None:
    app, broadcast = make_app()
    received: dict[int, list[Message | Gap]] = {0: [], 1: [], 2: []}
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            async with (
                broadcast.subscribe("room") as first,
                broadcast.subscribe("room") as second,
                broadcast.subscribe("room") as third,
            ):
                for index in range(20):
                    await broadcast.publish("room", f"m{index}")
                await broadcast.publish("room", b"\x00bytes")
                await broadcast.publish("elsewhere", "not for the room")
                for key, subscription in enumerate((first, second, third)):
                    for _ in range(21):
                        received[key].append(await subscription.__anext__())
    expected = [Message("room", f"m{index}") for index in range(20)]
    expected.append(Message("room", b"\x00bytes"))
    assert received[0] == received[1] == received[2] == expected


async def test_a_subscription_only_sees_what_is_published_after_it_starts() -> None:
    app, broadcast = make_app()
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            await broadcast.publish("room", "before")
            async with broadcast.subscribe("room") as subscription:
                await broadcast.publish("room", "after")
                assert await subscription.__anext__() == Message("room", "after")


async def test_channels_are_released_when_the_last_subscriber_leaves() -> None:
    app, broadcast = make_app()
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            async with broadcast.subscribe("a"), broadcast.subscribe("a"):
                async with broadcast.subscribe("b"):
                    health = broadcast.health()
                    assert (health.channels, health.subscribers) == (2, 3)
                assert broadcast.health().channels == 1
            health = broadcast.health()
            assert (health.channels, health.subscribers) == (0, 0)
            assert health.healthy and health.connected and health.backend == "memory"


async def test_a_subscriber_that_falls_behind_is_ended_and_the_others_get_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, broadcast = make_app(BROADCAST_BUFFER_SIZE=8)
    got: list[object] = []
    stuck = trio.Event()  # never set: the slow subscriber waits on it forever

    async def slow() -> None:
        async with broadcast.subscribe("room") as subscription:
            async for event in subscription:
                got.append(event)
                await stuck.wait()

    with trio.fail_after(TIMEOUT), caplog.at_level(logging.WARNING):
        async with app.test_app():
            async with broadcast.subscribe("room") as fast:
                with pytest.raises(ExceptionGroup) as info:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(slow)
                        await trio.testing.wait_all_tasks_blocked()
                        for index in range(30):
                            await broadcast.publish("room", str(index))
                            assert (await fast.__anext__()).data == str(index)
    assert info.group_contains(SubscriberTooSlow)
    assert got == [Message("room", "0")]
    warnings = [r for r in caplog.records if "fell 8 messages behind" in r.getMessage()]
    assert len(warnings) == 1
    assert broadcast.health().subscribers == 0


async def test_too_slow_is_raised_from_the_subscription_block() -> None:
    app, broadcast = make_app(BROADCAST_BUFFER_SIZE=2)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            with pytest.raises(SubscriberTooSlow) as info:
                async with broadcast.subscribe("room"):
                    for index in range(3):
                        await broadcast.publish("room", str(index))
                    await trio.sleep_forever()  # cancelled when the buffer overflows
    assert (info.value.code, info.value.reason) == (1013, "Try Again Later")
    assert info.value.channel == "room" and info.value.buffer_size == 2


async def test_drop_oldest_keeps_the_newest_and_marks_the_loss() -> None:
    app, broadcast = make_app(BROADCAST_BUFFER_SIZE=4, BROADCAST_OVERFLOW="drop_oldest")
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            async with broadcast.subscribe("room") as subscription:
                for index in range(10):
                    await broadcast.publish("room", str(index))
                events = [await subscription.__anext__() for _ in range(5)]
                await broadcast.publish("room", "later")
                assert await subscription.__anext__() == Message("room", "later")
    assert events == [Gap("room", "dropped", 6)] + [Message("room", str(i)) for i in range(6, 10)]


async def test_overflow_and_buffer_size_can_be_chosen_per_subscription() -> None:
    app, broadcast = make_app()
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            async with broadcast.subscribe(
                "room", buffer_size=1, overflow="drop_oldest"
            ) as subscription:
                for index in range(3):
                    await broadcast.publish("room", str(index))
                assert await subscription.__anext__() == Gap("room", "dropped", 2)
                assert await subscription.__anext__() == Message("room", "2")


async def test_a_websocket_whose_subscriber_falls_behind_closes_with_1013() -> None:
    app, broadcast = make_app(BROADCAST_BUFFER_SIZE=4)
    subscribed = trio.Event()

    @app.websocket("/ws")
    async def feed() -> None:
        await websocket.accept()
        async with broadcast.subscribe("news") as subscription:
            subscribed.set()
            async for event in subscription:
                assert isinstance(event, Message)
                await trio.sleep_forever()  # a client send that never completes

    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            async with app.test_client().websocket("/ws") as ws:
                await subscribed.wait()
                for index in range(6):
                    await broadcast.publish("news", str(index))
                with pytest.raises(WebsocketDisconnectError) as info:
                    await ws.receive()
    assert (info.value.code, info.value.reason) == (1013, "Try Again Later")


async def test_publish_checks_size_and_type() -> None:
    app, broadcast = make_app(BROADCAST_MAX_MESSAGE_SIZE=10)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            await broadcast.publish("room", "é" * 5)  # 10 bytes in UTF-8
            with pytest.raises(ValueError, match="over BROADCAST_MAX_MESSAGE_SIZE"):
                await broadcast.publish("room", "é" * 6)
            with pytest.raises(TypeError, match="str or bytes"):
                await broadcast.publish("room", {"not": "text"})  # type: ignore[arg-type]


async def test_replay_resumes_after_the_last_id_seen() -> None:
    app, broadcast = make_app(BROADCAST_REPLAY=100)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            ids = [await broadcast.publish("room", f"m{index}") for index in range(5)]
            async with broadcast.subscribe("room", since=ids[1]) as subscription:
                await broadcast.publish("room", "live")
                events = [await subscription.__anext__() for _ in range(4)]
                assert subscription.last_id is not None
    assert [e.data for e in events if isinstance(e, Message)] == ["m2", "m3", "m4", "live"]


async def test_replay_marks_messages_no_longer_kept() -> None:
    app, broadcast = make_app(BROADCAST_REPLAY=3)
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            ids = [await broadcast.publish("room", f"m{index}") for index in range(10)]
            async with broadcast.subscribe("room", since=ids[0]) as subscription:
                events = [await subscription.__anext__() for _ in range(4)]
    assert events[0] == Gap("room", "trimmed", 6)
    assert [e.data for e in events[1:] if isinstance(e, Message)] == ["m7", "m8", "m9"]


async def test_since_needs_replay() -> None:
    app, broadcast = make_app()
    with trio.fail_after(TIMEOUT):
        async with app.test_app():
            with pytest.raises(ValueError, match="BROADCAST_REPLAY"):
                async with broadcast.subscribe("room", since="1-0"):
                    pass


async def test_a_bad_overflow_setting_fails_the_start() -> None:
    app, _ = make_app(BROADCAST_OVERFLOW="drop_newest")
    with trio.fail_after(TIMEOUT):
        with pytest.raises(Exception, match="BROADCAST_OVERFLOW"):
            async with app.test_app():
                pass


async def test_an_unknown_url_scheme_fails_the_start() -> None:
    app, _ = make_app(BROADCAST_URL="nats://127.0.0.1:4222")
    with trio.fail_after(TIMEOUT):
        with pytest.raises(Exception, match="expected memory:// or a Redis URL"):
            async with app.test_app():
                pass


async def test_the_in_memory_backend_works_without_the_lifespan() -> None:
    app, broadcast = make_app()
    with trio.fail_after(TIMEOUT):
        async with broadcast.subscribe("room") as subscription:
            await broadcast.publish("room", "hi")
            assert await subscription.__anext__() == Message("room", "hi")


async def test_the_redis_backend_needs_the_lifespan() -> None:
    app, broadcast = make_app(BROADCAST_URL="redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="lifespan"):
        await broadcast.publish("room", "hi")


async def test_a_thousand_subscribers_in_bounded_memory() -> None:
    # 1,000 subscribers that never read, 600 messages of 1 KiB: each keeps at most its
    # buffer (16 messages here), so memory stays flat however long publishing goes on.
    app, broadcast = make_app(BROADCAST_BUFFER_SIZE=16, BROADCAST_OVERFLOW="drop_oldest")
    payload = "x" * 1024
    with trio.fail_after(60):
        async with app.test_app():
            async with trio.open_nursery() as nursery:
                ready = trio.Semaphore(0)
                release = trio.Event()

                async def idle_subscriber() -> None:
                    async with broadcast.subscribe("room"):
                        ready.release()
                        await release.wait()

                for _ in range(1000):
                    nursery.start_soon(idle_subscriber)
                for _ in range(1000):
                    await ready.acquire()
                assert broadcast.health().subscribers == 1000
                tracemalloc.start()
                try:
                    for index in range(100):
                        await broadcast.publish("room", payload + str(index))
                    after_100 = tracemalloc.get_traced_memory()[0]
                    for index in range(500):
                        await broadcast.publish("room", payload + str(index))
                    after_600 = tracemalloc.get_traced_memory()[0]
                finally:
                    tracemalloc.stop()
                release.set()
    # Unbounded, 500 more messages would hold 1,000 x 500 more references (~4 MB) and the
    # 500 payloads (~0.5 MB).
    assert after_600 - after_100 < 500_000
