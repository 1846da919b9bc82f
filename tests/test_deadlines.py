"""trioquart.deadlines.within: a timeout armed only at the first wait."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel

from trioquart.deadlines import within


async def raised_by(coro: Any, timeout: float) -> type[BaseException] | None:
    """The type of what ``within`` raised (caught here, so that a stray ``Cancelled`` shows
    as a failure rather than ending the test quietly)."""
    try:
        await within(coro, timeout)
    except BaseException as error:
        return type(error)
    return None


async def test_a_coroutine_that_does_not_wait_returns_its_value() -> None:
    async def at_once() -> int:
        return 7

    assert await within(at_once(), 0) == 7


async def test_shielded_checkpoints_are_not_bounded() -> None:
    async def shielded() -> str:
        await trio.lowlevel.cancel_shielded_checkpoint()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return "done"

    assert await within(shielded(), 0) == "done"


async def test_a_wait_past_the_timeout_raises_too_slow_and_runs_finally() -> None:
    cleaned = []

    async def slow() -> None:
        try:
            await trio.sleep_forever()
        finally:
            cleaned.append(True)

    assert await raised_by(slow(), 0.01) is trio.TooSlowError
    assert cleaned == [True]


async def test_the_deadline_is_shared_by_every_wait(autojump_clock: trio.abc.Clock) -> None:
    async def several() -> None:
        for _ in range(10):
            await trio.sleep(0.01)

    start = trio.current_time()
    assert await raised_by(several(), 0.035) is trio.TooSlowError
    assert trio.current_time() - start == pytest.approx(0.035)


async def test_a_coroutine_waiting_inside_its_own_cancel_scope_is_bounded() -> None:
    async def scoped() -> str:
        with trio.CancelScope():
            await trio.lowlevel.checkpoint()
            async with trio.open_nursery():
                await trio.lowlevel.checkpoint()
        with trio.CancelScope():
            await trio.sleep_forever()
        return "unreachable"

    assert await raised_by(scoped(), 0.01) is trio.TooSlowError


async def test_a_fast_coroutine_with_scopes_of_its_own_finishes() -> None:
    async def scoped() -> str:
        with trio.move_on_after(10):
            await trio.lowlevel.checkpoint()
        return "ok"

    assert await within(scoped(), 1) == "ok"


async def test_an_outer_cancellation_reaches_the_coroutine() -> None:
    seen = []

    async def waits() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            seen.append("cancelled")
            raise

    with trio.move_on_after(0.01) as outer:
        await within(waits(), 10)
    assert outer.cancelled_caught
    assert seen == ["cancelled"]
