"""The lifespan: serving hooks, the app nursery, background tasks and shutdown order."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
import trio

from trioquart import TrioQuart, current_app, has_request_context
from trioquart.testing import LifespanError


async def test_serving_hooks_run_in_order() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []

    @app.before_serving
    async def start() -> None:
        events.append(f"before_serving in {current_app.name}")

    @app.while_serving
    async def lifetime() -> AsyncGenerator[None, None]:
        events.append("while_serving start")
        yield
        events.append("while_serving end")

    @app.after_serving
    async def stop() -> None:
        events.append(f"after_serving, shutdown_event set: {app.shutdown_event.is_set()}")

    async with app.test_app():
        events.append("serving")
    assert events == [
        f"before_serving in {app.name}",
        "while_serving start",
        "serving",
        "while_serving end",
        "after_serving, shutdown_event set: True",
    ]


async def test_app_nursery_exists_only_while_serving() -> None:
    app = TrioQuart(__name__)
    with pytest.raises(RuntimeError, match="not serving"):
        app.nursery  # noqa: B018
    async with app.test_app():
        assert app.nursery.cancel_scope is not None
    with pytest.raises(RuntimeError, match="not serving"):
        app.nursery  # noqa: B018


async def test_background_task_runs_in_a_fresh_app_context() -> None:
    app = TrioQuart(__name__)
    seen: list[Any] = []
    done = trio.Event()

    async def job(value: int) -> None:
        await trio.sleep(0.01)  # the request is over by now
        seen.append((value, current_app.name, has_request_context()))
        done.set()

    @app.get("/")
    async def index() -> str:
        app.add_background_task(job, 7)
        return "queued"

    with trio.fail_after(5):
        async with app.test_app() as test_app:
            response = await test_app.test_client().get("/")
            assert await response.get_data() == b"queued"
            await done.wait()
    assert seen == [(7, app.name, False)]


async def test_sync_background_task_runs_in_a_thread() -> None:
    app = TrioQuart(__name__)
    seen: list[str] = []

    def job() -> None:
        seen.append(current_app.name)

    with trio.fail_after(5):
        async with app.test_app():
            app.add_background_task(job)
    assert seen == [app.name]


async def test_failing_background_task_is_logged_and_siblings_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = TrioQuart(__name__)
    results: list[str] = []

    async def fails() -> None:
        raise ValueError("background boom")

    async def succeeds() -> None:
        await trio.sleep(0.05)
        results.append("sibling finished")

    with trio.fail_after(5):
        async with app.test_app():
            app.add_background_task(succeeds)
            app.add_background_task(fails)
            await trio.sleep(0.01)
            app.add_background_task(succeeds)  # the nursery still takes new tasks
    assert results == ["sibling finished", "sibling finished"]
    logged = [r for r in caplog.records if r.getMessage() == "Error in background task"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and "background boom" in str(logged[0].exc_info[1])


async def test_failing_task_started_on_app_nursery_does_not_stop_the_app() -> None:
    app = TrioQuart(__name__)
    results: list[str] = []

    async def fails() -> None:
        raise KeyError("direct")

    async def ticks() -> None:
        await trio.sleep(0.05)
        results.append("still running")

    with trio.fail_after(5):
        async with app.test_app() as test_app:
            app.nursery.start_soon(ticks)
            app.nursery.start_soon(fails)
            await trio.sleep(0.1)
            response = await test_app.test_client().get("/missing")
            assert response.status_code == 404
    assert results == ["still running"]


async def test_background_tasks_get_the_shutdown_timeout_then_are_cancelled() -> None:
    app = TrioQuart(__name__)
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0.1
    events: list[str] = []

    async def stubborn() -> None:
        try:
            await trio.sleep_forever()
        finally:
            events.append("task cancelled")

    async def watches_shutdown() -> None:
        await app.shutdown_event.wait()
        events.append("task saw shutdown_event and finished")

    @app.after_serving
    async def stop() -> None:
        events.append("after_serving")

    with trio.fail_after(5):
        async with app.test_app():
            app.add_background_task(stubborn)
            app.add_background_task(watches_shutdown)
            await trio.sleep(0.01)
    assert events == ["task saw shutdown_event and finished", "task cancelled", "after_serving"]


async def test_add_background_task_needs_a_serving_app() -> None:
    app = TrioQuart(__name__)
    app.testing = True

    @app.get("/")
    async def index() -> str:
        app.add_background_task(trio.sleep, 0)
        return "unreachable"

    with pytest.raises(RuntimeError, match="not serving"):
        await app.test_client().get("/")


async def test_startup_failure_raises_with_its_message() -> None:
    app = TrioQuart(__name__)

    @app.before_serving
    async def broken() -> None:
        raise ConnectionError("database unreachable")

    with trio.fail_after(5), pytest.raises(LifespanError, match="database unreachable"):
        async with app.test_app():
            pass


async def test_startup_failure_is_reported_and_the_lifespan_does_not_return() -> None:
    app = TrioQuart(__name__)

    @app.before_serving
    async def broken() -> None:
        raise ConnectionError("database unreachable")

    to_app, app_inbox = trio.open_memory_channel[dict[str, Any]](10)
    app_outbox, from_app = trio.open_memory_channel[dict[str, Any]](10)
    returned: list[bool] = []

    async def run() -> None:
        await app(
            {"type": "lifespan", "asgi": {"version": "3.0"}}, app_inbox.receive, app_outbox.send
        )
        returned.append(True)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await to_app.send({"type": "lifespan.startup"})
            reply = await from_app.receive()
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert reply["type"] == "lifespan.startup.failed"
    assert "database unreachable" in reply["message"]
    # Returning here would crash Hypercorn's trio worker (ClosedResourceError).
    assert returned == []


async def test_services_are_cancelled_at_once_and_jobs_get_the_grace_period() -> None:
    """``app.nursery.start_soon`` starts a service: a ``while True`` loop must not hold up the
    shutdown for BACKGROUND_TASK_SHUTDOWN_TIMEOUT. ``add_background_task`` starts a job,
    which keeps its grace period."""
    app = TrioQuart(__name__)
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 30
    events: list[str] = []

    async def ticker() -> None:
        try:
            while True:
                await trio.sleep(0.01)
        finally:
            events.append(f"service cancelled, shutdown_event set: {app.shutdown_event.is_set()}")

    async def job() -> None:
        await app.shutdown_event.wait()
        await trio.sleep(0.2)  # finishing up, within the grace period
        events.append("job finished")

    @app.after_serving
    async def stop() -> None:
        events.append("after_serving")

    with trio.fail_after(5):
        async with app.test_app():
            app.nursery.start_soon(ticker)
            app.add_background_task(job)
            await trio.sleep(0.05)
            stopping = trio.current_time()
        took = trio.current_time() - stopping
    assert events == [
        "service cancelled, shutdown_event set: True",
        "job finished",
        "after_serving",
    ]
    assert took < 2  # the job's 0.2 s, not the ticker's 30 s timeout
