"""Code built on asyncio, run in a trioquart app, fails with a note naming the asyncio call.

Under trio an asyncio function that needs its loop raises ``no running event loop``, and an
awaited asyncio future makes trio throw a ``TypeError`` into the awaiting code. Neither
names the call or says why; :func:`trioquart.errors.explain_asyncio` adds a note that does,
wherever trioquart reports an error: requests, websockets, serving hooks, background tasks,
teardown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import trio

from trioquart import TrioQuart
from trioquart.errors import ASYNCIO_NOTE_MARK, explain_asyncio
from trioquart.testing import LifespanError


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


def asyncio_notes(error: BaseException) -> list[str]:
    return [note for note in getattr(error, "__notes__", ()) if note.startswith(ASYNCIO_NOTE_MARK)]


@pytest.fixture
def foreign_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An asyncio loop that is not running, to make futures that only it could resolve."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


async def test_a_view_calling_an_asyncio_function_gets_a_note_naming_it() -> None:
    app = make_app()

    @app.get("/")
    async def index() -> str:
        # This needs asyncio's loop, of which there is none.
        await asyncio.sleep(0.01)
        return "unreachable"

    with trio.fail_after(5), pytest.raises(RuntimeError, match="no running event loop") as info:
        await app.test_client().get("/")
    [note] = asyncio_notes(info.value)
    assert "asyncio.sleep()" in note
    assert f"in {__name__} line" in note and "index()" in note
    assert "`await asyncio.sleep(0.01)`" in note
    assert "trioquart runs on trio" in note and "anyio" in note


async def test_a_c_level_asyncio_call_is_named_by_its_line() -> None:
    """``asyncio.get_running_loop`` is C code, with no frame of its own in the traceback:
    the note shows the line that called it."""
    app = make_app()

    @app.get("/")
    async def index() -> str:
        asyncio.get_running_loop()
        return "unreachable"

    with trio.fail_after(5), pytest.raises(RuntimeError) as info:
        await app.test_client().get("/")
    [note] = asyncio_notes(info.value)
    assert "an asyncio call" in note and "`asyncio.get_running_loop()`" in note


async def test_awaiting_an_asyncio_future_gets_a_note(
    foreign_loop: asyncio.AbstractEventLoop,
) -> None:
    app = make_app()

    @app.get("/")
    async def index() -> str:
        await foreign_loop.create_future()
        return "unreachable"

    with trio.fail_after(5), pytest.raises(TypeError, match="unrecognized yield") as info:
        await app.test_client().get("/")
    [note] = asyncio_notes(info.value)
    assert "Awaiting <Future pending" in note
    assert "`await foreign_loop.create_future()`" in note
    assert "only asyncio's event loop can wait on" in note


async def test_asyncio_sleep_zero_is_named_though_it_needs_no_loop() -> None:
    """``asyncio.sleep(0)`` yields a bare ``None`` to trio rather than asking for the loop."""
    app = make_app()

    @app.get("/")
    async def index() -> str:
        await asyncio.sleep(0)
        return "unreachable"

    with trio.fail_after(5), pytest.raises(TypeError) as info:
        await app.test_client().get("/")
    [note] = asyncio_notes(info.value)
    assert "Awaiting None (from asyncio.sleep())" in note and "index()" in note


async def test_a_library_error_wrapping_the_asyncio_one_is_explained() -> None:
    """Libraries re-raise the ``RuntimeError`` as their own error: the note goes on the
    error that is reported, and names the call found in its cause."""

    class LibraryConnectionError(Exception):
        pass

    async def library_connect() -> None:
        try:
            async with asyncio.timeout(1):
                await trio.lowlevel.checkpoint()  # the connection attempt
        except RuntimeError as error:
            raise LibraryConnectionError(str(error)) from error

    app = make_app()

    @app.get("/")
    async def index() -> str:
        await library_connect()
        return "unreachable"

    with trio.fail_after(5), pytest.raises(LibraryConnectionError) as info:
        await app.test_client().get("/")
    [note] = asyncio_notes(info.value)
    assert "asyncio.timeout()" in note and "library_connect()" in note


async def test_a_logged_500_carries_the_note(caplog: pytest.LogCaptureFixture) -> None:
    app = TrioQuart(__name__)  # not testing: the error is logged and answered with a 500

    @app.get("/")
    async def index() -> str:
        await asyncio.sleep(0.01)
        return "unreachable"

    with trio.fail_after(5):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert asyncio_notes(record.exc_info[1])
    assert "asyncio.sleep()" in caplog.text  # the logged traceback prints the note


async def test_a_websocket_handler_gets_the_note() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def ws() -> None:
        await asyncio.sleep(0.01)

    with trio.fail_after(5), pytest.raises(RuntimeError) as info:
        async with app.test_client().websocket("/ws") as connection:
            await connection.receive()
    assert "asyncio.sleep()" in asyncio_notes(info.value)[0]


async def test_a_failed_before_serving_says_which_asyncio_call() -> None:
    app = make_app()

    @app.before_serving
    async def connect() -> None:
        await asyncio.sleep(0.01)

    with trio.fail_after(5), pytest.raises(LifespanError) as info:
        async with app.test_app():
            pass
    message = str(info.value)
    assert message.startswith("RuntimeError: no running event loop\n" + ASYNCIO_NOTE_MARK)
    assert "asyncio.sleep()" in message and "connect()" in message


async def test_a_failed_after_serving_says_which_asyncio_call(
    foreign_loop: asyncio.AbstractEventLoop,
) -> None:
    app = make_app()

    @app.after_serving
    async def disconnect() -> None:
        await foreign_loop.create_future()

    with trio.fail_after(5), pytest.raises(LifespanError) as info:
        async with app.test_app():
            pass
    assert "Awaiting <Future pending" in str(info.value) and "disconnect()" in str(info.value)


async def test_a_background_task_and_a_teardown_get_the_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()

    async def job() -> None:
        await asyncio.sleep(0.01)

    @app.get("/")
    async def index() -> str:
        app.add_background_task(job)
        return "queued"

    @app.teardown_request
    async def close(error: BaseException | None) -> None:
        asyncio.get_running_loop()

    with trio.fail_after(5):
        async with app.test_app() as test_app:
            assert (await test_app.test_client().get("/")).status_code == 200
    errors = {r.getMessage(): r.exc_info for r in caplog.records if r.levelno == logging.ERROR}
    assert set(errors) == {"Error in background task", f"Error in teardown function {close!r}"}
    for exc_info in errors.values():
        assert exc_info is not None and exc_info[1] is not None
        assert asyncio_notes(exc_info[1])


def test_other_errors_get_no_note() -> None:
    for error in (ValueError("no"), RuntimeError("some other loop trouble"), TypeError("x")):
        assert explain_asyncio(error) is None
        assert not hasattr(error, "__notes__")


def test_an_unprintable_error_does_not_break_the_explanation() -> None:
    """An error whose ``str()`` fails is skipped (its report must not fail here); its
    context, never raised so without a traceback, is explained by its message alone."""

    class UnprintableError(Exception):
        def __str__(self) -> str:
            raise RuntimeError("cannot show this error")

    error = UnprintableError()
    error.__context__ = RuntimeError("no running event loop")
    note = explain_asyncio(error)
    assert note is not None and "an asyncio call needs a running asyncio event loop" in note
    assert asyncio_notes(error) == [note]


def test_the_note_is_added_once() -> None:
    async def needs_loop() -> None:
        await asyncio.sleep(0.01)

    with pytest.raises(RuntimeError) as info:
        trio.run(needs_loop)
    error = info.value
    first = explain_asyncio(error)
    assert first is not None and first.startswith(ASYNCIO_NOTE_MARK)
    assert explain_asyncio(error) is None
    assert asyncio_notes(error) == [first]


def test_a_group_is_explained_by_its_members() -> None:
    async def needs_loop() -> None:
        await asyncio.sleep(0.01)

    async def two_tasks() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(needs_loop)
            nursery.start_soon(trio.sleep_forever)

    with pytest.raises(BaseExceptionGroup) as info:
        trio.run(two_tasks)
    note = explain_asyncio(info.value)
    assert note is not None and "asyncio.sleep()" in note and "needs_loop()" in note
