"""``Turn``: one task at a time through a section, handed to waiters in order."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel
import trio.testing

from trioquart.asgi.turns import Turn


async def test_a_free_turn_is_taken_at_once_and_a_taken_one_is_not() -> None:
    turn = Turn()
    assert turn.take_nowait()
    assert turn.taken
    assert not turn.take_nowait()
    turn.give()
    assert not turn.taken
    assert turn.take_nowait()


async def test_only_one_task_is_inside_at_a_time() -> None:
    turn = Turn()
    inside = 0
    most = 0

    async def worker() -> None:
        nonlocal inside, most
        for _ in range(20):
            async with turn:
                inside += 1
                most = max(most, inside)
                await trio.lowlevel.checkpoint()
                inside -= 1

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(worker)
    assert most == 1
    assert not turn.taken


async def test_the_turn_goes_to_waiters_in_order_even_if_the_giver_asks_again() -> None:
    turn = Turn()
    order: list[str] = []
    turn.take_nowait()

    async def waiter(name: str) -> None:
        await turn.take()
        order.append(name)
        turn.give()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, "first")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter, "second")
        await trio.testing.wait_all_tasks_blocked()
        turn.give()  # handed to "first" before this task can take it back
        assert not turn.take_nowait()
        await turn.take()  # queued behind "second"
        order.append("giver")
        turn.give()
    assert order == ["first", "second", "giver"]
    assert not turn.taken


async def test_a_waiter_cancelled_while_waiting_does_not_get_the_turn() -> None:
    turn = Turn()
    turn.take_nowait()
    got: list[str] = []

    async def waiter(name: str, scope_out: list[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            scope_out.append(scope)
            await turn.take()
            got.append(name)
            turn.give()

    scopes: list[trio.CancelScope] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, "cancelled", scopes)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter, "next", scopes)
        await trio.testing.wait_all_tasks_blocked()
        scopes[0].cancel()
        await trio.testing.wait_all_tasks_blocked()
        turn.give()
    assert got == ["next"]
    assert not turn.taken


async def test_an_error_inside_gives_the_turn_back() -> None:
    turn = Turn()
    with pytest.raises(ValueError):
        async with turn:
            raise ValueError("inside")
    assert not turn.taken
