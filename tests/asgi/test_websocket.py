"""Reading in the websocket connection: direct reads, the watcher, and the switch between
them (see trioquart/asgi/websocket.py)."""

from __future__ import annotations

import trio

from trioquart import TrioQuart, websocket

TIMEOUT = 5


async def test_order_is_kept_when_the_watcher_takes_over_midway() -> None:
    app = TrioQuart(__name__)
    received: list[str | bytes] = []

    @app.websocket("/ws")
    async def handler() -> None:
        received.append(await websocket.receive())  # read directly
        received.append(await websocket.receive())
        await trio.sleep(0.05)  # a wait of its own: the watcher starts and reads ahead
        async for message in websocket:
            received.append(message)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            for index in range(10):
                await ws.send(str(index))
    assert received == [str(index) for index in range(10)]


async def test_concurrent_direct_readers_share_the_messages_without_loss() -> None:
    """The handler and a child both read directly (the handler only ever waits in its own
    receive): each message goes to exactly one of them."""
    app = TrioQuart(__name__)
    seen: list[str | bytes] = []

    @app.websocket("/ws")
    async def handler() -> None:
        async def child_reader() -> None:
            async for message in websocket:
                seen.append(message)

        websocket.nursery.start_soon(child_reader)
        async for message in websocket:
            seen.append(message)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            for index in range(20):
                await ws.send(str(index))
            while len(seen) < 20:
                await trio.sleep(0.01)
    assert sorted(seen, key=int) == [str(index) for index in range(20)]


async def test_a_handler_that_only_sends_is_cancelled_when_the_client_leaves() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []
    ticking = trio.Event()

    @app.websocket("/ticks")
    async def ticks() -> None:
        try:
            while True:
                await websocket.send("tick")
                ticking.set()
                await trio.sleep(0.01)
        finally:
            events.append("handler cancelled")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ticks") as ws:
            await ticking.wait()
            await ws.close(1001, "going away")
        while not events:
            await trio.sleep(0.01)
    assert events == ["handler cancelled"]


async def test_a_direct_reader_sees_the_close_and_other_tasks_are_cancelled() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []

    @app.websocket("/ws")
    async def handler() -> None:
        async def helper() -> None:
            try:
                await trio.sleep_forever()
            finally:
                events.append("helper cancelled")

        websocket.nursery.start_soon(helper)
        try:
            while True:
                await websocket.receive()
        finally:
            events.append(f"handler saw close {websocket.close_code}")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hello")
            await ws.close(4001, "bye")
        while len(events) < 2:
            await trio.sleep(0.01)
    assert sorted(events) == ["handler saw close 4001", "helper cancelled"]
