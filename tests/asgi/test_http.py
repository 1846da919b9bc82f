"""The per-request nursery, cancellation, the exception-group boundary and timeouts,
driven through the ASGI callable and the in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.lowlevel
from werkzeug.datastructures import Headers
from werkzeug.sansio.utils import get_content_length

from trioquart import Response, TrioQuart, abort, g, has_request_context, request
from trioquart.testing import IncompleteResponseError


def http_scope(path: str = "/", method: str = "GET") -> dict[str, Any]:
    """A scope as a server sends it: no propagation flag, so errors must not escape."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.1"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
        "extensions": {},
    }


class Recorder:
    """A server stand-in: sends the body at once and the disconnect after the response."""

    def __init__(self, body: bytes = b"") -> None:
        self.inbox = [{"type": "http.request", "body": body, "more_body": False}]
        self.sent: list[dict[str, Any]] = []
        self.complete = trio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.inbox:
            return self.inbox.pop()
        await self.complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.complete.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def test_task_in_request_nursery_sees_the_request_context() -> None:
    app = TrioQuart(__name__)
    seen: list[Any] = []

    @app.get("/here")
    async def here() -> str:
        g.marker = "from-handler"
        done = trio.Event()

        async def child() -> None:
            seen.append((request.path, g.marker, has_request_context()))
            done.set()

        request.nursery.start_soon(child)
        await done.wait()
        return "ok"

    response = await app.test_client().get("/here")
    assert response.status_code == 200
    assert seen == [("/here", "from-handler", True)]


async def test_request_nursery_tasks_are_cancelled_when_the_response_is_complete() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []
    finished = trio.Event()

    @app.get("/")
    async def index() -> str:
        async def lingering() -> None:
            try:
                await trio.sleep_forever()
            finally:
                events.append("child cancelled")
                finished.set()

        request.nursery.start_soon(lingering)
        return "done"

    with trio.fail_after(5):
        response = await app.test_client().get("/")
        await finished.wait()
    assert await response.get_data() == b"done"
    assert events == ["child cancelled"]


def add_route_whose_task_fails(app: TrioQuart) -> None:
    """``GET /`` starts a task in the request's nursery that raises KeyError("from-child"),
    and waits."""

    @app.get("/")
    async def index() -> str:
        async def fails() -> None:
            raise KeyError("from-child")

        request.nursery.start_soon(fails)
        await trio.sleep_forever()
        return "unreachable"


async def test_error_in_child_task_reaches_the_error_handler() -> None:
    app = TrioQuart(__name__)

    @app.errorhandler(KeyError)
    async def on_key_error(error: KeyError) -> tuple[str, int]:
        return f"handled {error.args[0]}", 418

    add_route_whose_task_fails(app)

    with trio.fail_after(5):
        response = await app.test_client().get("/")
    assert response.status_code == 418
    assert await response.get_data() == b"handled from-child"


async def test_abort_in_child_task_gives_its_response() -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> str:
        async def denies() -> None:
            abort(403)

        request.nursery.start_soon(denies)
        await trio.sleep_forever()
        return "unreachable"

    with trio.fail_after(5):
        response = await app.test_client().get("/")
    assert response.status_code == 403


async def test_key_error_in_a_nested_nursery_matches_its_handler() -> None:
    app = TrioQuart(__name__)

    @app.errorhandler(KeyError)
    async def on_key_error(error: KeyError) -> tuple[str, int]:
        return "key error", 409

    @app.get("/")
    async def index() -> str:
        async def fails() -> None:
            raise KeyError("deep")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fails)
        return "unreachable"

    response = await app.test_client().get("/")
    assert response.status_code == 409


async def test_group_of_several_errors_picks_the_first_with_a_handler() -> None:
    app = TrioQuart(__name__)

    @app.errorhandler(ValueError)
    async def on_value_error(error: ValueError) -> tuple[str, int]:
        return f"value: {error}", 422

    @app.get("/")
    async def index() -> str:
        raise ExceptionGroup("two", [TypeError("no handler"), ValueError("handled one")])

    response = await app.test_client().get("/")
    assert response.status_code == 422
    assert await response.get_data() == b"value: handled one"


async def test_group_handler_takes_a_whole_group() -> None:
    app = TrioQuart(__name__)

    @app.errorhandler(ExceptionGroup)
    async def on_group(error: ExceptionGroup) -> tuple[str, int]:
        return f"{len(error.exceptions)} errors", 400

    @app.errorhandler(ValueError)
    async def on_value_error(error: ValueError) -> tuple[str, int]:
        return "value", 422

    @app.get("/")
    async def index() -> str:
        raise ExceptionGroup("two", [TypeError("a"), ValueError("b")])

    response = await app.test_client().get("/")
    assert response.status_code == 400
    assert await response.get_data() == b"2 errors"


async def test_catch_all_handler_does_not_swallow_a_group_whole() -> None:
    app = TrioQuart(__name__)

    @app.errorhandler(Exception)
    async def anything(error: Exception) -> tuple[str, int]:
        return f"caught {type(error).__name__}", 500

    @app.errorhandler(ValueError)
    async def on_value_error(error: ValueError) -> tuple[str, int]:
        return "value", 422

    @app.get("/")
    async def index() -> str:
        raise ExceptionGroup("two", [ValueError("b"), TypeError("a")])

    response = await app.test_client().get("/")
    assert (response.status_code, await response.get_data()) == (422, b"value")


async def test_group_without_any_handler_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> str:
        raise ExceptionGroup("two", [TypeError("a"), RuntimeError("b")])

    recorder = Recorder()
    await app(http_scope(), recorder.receive, recorder.send)
    assert recorder.status == 500
    assert any("Exception on GET /" in r.getMessage() for r in caplog.records)


class NotAnException(BaseException):
    pass


async def test_base_exception_never_escapes_the_asgi_callable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> str:
        raise NotAnException("would kill Hypercorn's trio worker")

    recorder = Recorder()
    await app(http_scope(), recorder.receive, recorder.send)
    assert recorder.status == 500
    assert recorder.complete.is_set()
    assert any("would kill" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


async def test_unhandled_error_under_a_server_is_a_500_not_an_escape() -> None:
    app = TrioQuart(__name__)
    app.testing = True  # propagation is only for the in-process client's scopes

    @app.get("/")
    async def index() -> str:
        raise RuntimeError("boom")

    recorder = Recorder()
    await app(http_scope(), recorder.receive, recorder.send)
    assert recorder.status == 500


async def test_client_disconnect_cancels_handler_and_streaming_generator() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []
    generator_started = trio.Event()

    @app.get("/stream")
    async def stream() -> Any:
        async def chunks() -> Any:
            try:
                yield "first"
                generator_started.set()
                await trio.sleep_forever()
                yield "never"
            finally:
                events.append("generator finally")

        return chunks()

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        await trio.sleep(0.01)  # teardown can still await after the disconnect
        events.append("teardown awaited")

    with trio.fail_after(5):
        async with app.test_client().request("/stream") as connection:
            await connection.send_complete()
            assert await connection.receive() == b"first"
            await generator_started.wait()
            await connection.disconnect()
    assert events == ["generator finally", "teardown awaited"]


async def test_client_disconnect_cancels_a_slow_handler() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []
    entered = trio.Event()

    @app.get("/slow")
    async def slow() -> str:
        entered.set()
        try:
            await trio.sleep_forever()
        finally:
            events.append("handler cancelled")
        return "unreachable"

    with trio.fail_after(5):
        async with app.test_client().request("/slow") as connection:
            await connection.send_complete()
            await entered.wait()
            await connection.disconnect()
    assert events == ["handler cancelled"]


async def test_teardown_is_bounded_by_teardown_timeout(caplog: pytest.LogCaptureFixture) -> None:
    app = TrioQuart(__name__)
    app.config["TEARDOWN_TIMEOUT"] = 0.05
    app_teardown_ran: list[bool] = []

    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.teardown_request
    async def stuck(exc: BaseException | None) -> None:
        await trio.sleep_forever()

    @app.teardown_appcontext
    async def after(exc: BaseException | None) -> None:
        app_teardown_ran.append(True)

    with trio.fail_after(5):
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert app_teardown_ran == [True]
    assert any("TEARDOWN_TIMEOUT" in r.getMessage() for r in caplog.records)


async def test_response_timeout_closes_without_completing(caplog: pytest.LogCaptureFixture) -> None:
    app = TrioQuart(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.1

    @app.get("/slow-stream")
    async def slow_stream() -> Any:
        async def chunks() -> Any:
            yield "part one, "
            await trio.sleep(10)
            yield "part two"

        return chunks()

    with trio.fail_after(5), pytest.raises(IncompleteResponseError) as info:
        await app.test_client().get("/slow-stream")
    assert info.value.response.status_code == 200
    assert await info.value.response.get_data() == b"part one, "
    assert any("took longer than its timeout" in r.getMessage() for r in caplog.records)


async def test_response_timeout_none_lets_a_stream_run() -> None:
    app = TrioQuart(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.05

    @app.get("/events")
    async def events() -> Any:
        async def chunks() -> Any:
            for index in range(3):
                await trio.sleep(0.03)
                yield f"{index};"

        response = await app.make_response(chunks())
        response.timeout = None
        return response

    with trio.fail_after(5):
        response = await app.test_client().get("/events")
    assert await response.get_data() == b"0;1;2;"


async def test_body_timeout_is_a_408_that_closes_the_connection() -> None:
    app = TrioQuart(__name__)
    app.config["BODY_TIMEOUT"] = 0.1

    @app.post("/upload")
    async def upload() -> str:
        return str(len(await request.get_data()))

    with trio.fail_after(5):
        async with app.test_client().request("/upload", method="POST") as connection:
            await connection.send(b"only part of it")
            response = await connection.as_response()
    assert response.status_code == 408
    assert response.headers["Connection"] == "close"


async def test_error_while_streaming_closes_without_completing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> Any:
        async def chunks() -> Any:
            yield "started"
            raise RuntimeError("mid-stream")

        return chunks()

    recorder = Recorder()
    await app(http_scope(), recorder.receive, recorder.send)
    assert recorder.status == 200
    assert recorder.body == b"started"
    assert not recorder.complete.is_set()
    assert sum("Exception on GET /" in r.getMessage() for r in caplog.records) == 1


async def test_final_send_is_not_interrupted_by_a_disconnect() -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> str:
        return "whole"

    final_started = trio.Event()
    events: list[str] = []
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop()
        await final_started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            final_started.set()
            await trio.sleep(0.05)  # the disconnect lands while this send is in flight
            events.append("final send finished")

    with trio.fail_after(5):
        await app(http_scope(), receive, send)
    assert events == ["final send finished"]


def app_with_a_lingering_task(events: list[str]) -> TrioQuart:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> str:
        async def lingering() -> None:
            try:
                await trio.sleep_forever()
            finally:
                events.append("child cancelled")

        request.nursery.start_soon(lingering)
        await trio.lowlevel.checkpoint()  # a wait outside the connection's I/O: the watcher runs
        return "whole"

    return app


@pytest.mark.parametrize("disconnect", [False, True])
async def test_the_handlers_tasks_run_until_the_slow_final_send_is_done(disconnect: bool) -> None:
    events: list[str] = []
    app = app_with_a_lingering_task(events)
    final_started = trio.Event()
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop()
        await final_started.wait()
        if not disconnect:
            await trio.sleep_forever()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            final_started.set()
            await trio.sleep(0.05)  # a disconnect would land while this send is in flight
            events.append("final send finished")

    with trio.fail_after(5):
        await app(http_scope(), receive, send)
    if disconnect:  # the client has gone: the tasks end at once, the send is not cut short
        assert sorted(events) == ["child cancelled", "final send finished"]
    else:
        assert events == ["final send finished", "child cancelled"]


async def test_error_handler_may_stream_its_response() -> None:
    app = TrioQuart(__name__)

    @app.errorhandler(KeyError)
    async def on_key_error(error: KeyError) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"handled "
            await trio.lowlevel.checkpoint()
            yield error.args[0].encode()

        return Response(chunks(), status=418)

    add_route_whose_task_fails(app)

    recorder = Recorder()
    with trio.fail_after(5):
        await app(http_scope(), recorder.receive, recorder.send)
    assert recorder.status == 418
    assert recorder.body == b"handled from-child"
    assert recorder.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_streamed_500_for_a_base_exception_before_any_wait() -> None:
    app = TrioQuart(__name__)

    class Stop(BaseException):
        pass

    @app.errorhandler(500)
    async def on_500(error: Exception) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"streamed "
            yield b"500"

        return Response(chunks(), status=500)

    @app.get("/")
    async def index() -> str:
        raise Stop  # not an Exception: it ends the request's nursery, before any wait

    recorder = Recorder()
    with trio.fail_after(5):
        await app(http_scope(), recorder.receive, recorder.send)
    assert recorder.status == 500
    assert recorder.body == b"streamed 500"


async def test_head_sends_no_body_and_does_not_run_the_stream() -> None:
    app = TrioQuart(__name__)
    ran: list[bool] = []

    @app.get("/")
    async def index() -> Any:
        async def chunks() -> Any:
            ran.append(True)
            yield "body"

        return chunks()

    recorder = Recorder()
    await app(http_scope(method="HEAD"), recorder.receive, recorder.send)
    assert recorder.status == 200
    assert recorder.body == b""
    assert ran == []


async def test_http_exception_from_before_request_is_answered() -> None:
    app = TrioQuart(__name__)

    @app.before_request
    async def guard() -> None:
        abort(401)

    @app.get("/")
    async def index() -> str:
        return "secret"

    response = await app.test_client().get("/")
    assert response.status_code == 401
    assert b"secret" not in await response.get_data()


async def test_request_body_is_read_with_bounded_buffering() -> None:
    """Body messages are pulled from the server only as fast as the buffer drains: the
    app holds BODY_BUFFER_CHUNKS chunks (plus the one in hand) until the handler reads."""
    app = TrioQuart(__name__)
    app.config["BODY_BUFFER_CHUNKS"] = 2
    reading = trio.Event()
    pulled_before_reading: list[int] = []
    pulled = 0

    @app.post("/")
    async def index() -> str:
        await trio.sleep(0.1)  # give the receiving task every chance to run ahead
        pulled_before_reading.append(pulled)
        reading.set()
        total = 0
        async for chunk in request.body:
            total += len(chunk)
        return str(total)

    complete = trio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < 100:
            pulled += 1
            return {"type": "http.request", "body": b"x" * 10, "more_body": pulled < 100}
        await complete.wait()
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            complete.set()

    scope = http_scope(method="POST")
    scope["headers"].append((b"transfer-encoding", b"chunked"))
    with trio.fail_after(5):
        await app(scope, receive, send)
    assert pulled_before_reading == [3]
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"1000"


async def test_stream_parked_at_a_yield_is_closed_when_sending_stops() -> None:
    """The client stops reading, so the server's send() blocks while the generator waits
    at a yield; when the response timeout ends the send, the generator is closed at once."""
    app = TrioQuart(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.1
    events: list[str] = []

    @app.get("/")
    async def index() -> Any:
        async def chunks() -> Any:
            try:
                yield "one"
                yield "two"
            finally:
                events.append("generator closed")

        return chunks()

    async def receive() -> dict[str, Any]:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await trio.sleep_forever()  # a client that has stopped reading

    with trio.fail_after(5):
        await app(http_scope(), receive, send)
        events.append("app returned")
    assert events == ["generator closed", "app returned"]


async def test_a_request_leaves_none_of_its_objects_to_the_cyclic_gc() -> None:
    """Requests freed by reference counting alone keep a busy server's garbage collector
    quiet (werkzeug's route matcher makes one small cycle of its own, which is allowed)."""
    import gc

    from trioquart.ctx import AppContext, RequestContext
    from trioquart.wrappers import Body, Request, Response

    app = TrioQuart(__name__)

    @app.post("/")
    async def index() -> Any:
        return {"got": await request.get_json()}

    client = app.test_client()
    await client.post("/", json={"warm": "up"})
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            recorder = Recorder(b'{"a": 1}')
            scope = http_scope(method="POST")
            scope["headers"] += [(b"content-type", b"application/json"), (b"content-length", b"8")]
            await app(scope, recorder.receive, recorder.send)
            assert recorder.status == 200
        gc.collect()
        ours = (AppContext, RequestContext, Request, Body, Response)
        left = [type(obj).__name__ for obj in gc.garbage if isinstance(obj, ours)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def chunked_scope() -> dict[str, Any]:
    scope = http_scope(method="POST")
    scope["headers"].append((b"transfer-encoding", b"chunked"))
    return scope


async def test_body_read_directly_then_by_the_watcher_keeps_every_byte_in_order() -> None:
    app = TrioQuart(__name__)

    @app.post("/")
    async def index() -> str:
        parts = []
        chunks = aiter(request.body)
        parts.append(await anext(chunks))  # read directly by the handler
        await trio.sleep(0.05)  # a wait of its own: the watcher takes over the rest
        async for chunk in chunks:
            parts.append(chunk)
        return b"".join(parts).decode()

    pieces = [f"{index:02d}".encode() for index in range(20)]
    inbox = [
        {"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1}
        for index, piece in enumerate(pieces)
    ]
    complete = trio.Event()

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        await complete.wait()
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            complete.set()

    with trio.fail_after(5):
        await app(chunked_scope(), receive, send)
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"".join(pieces)


async def test_client_leaving_during_a_direct_body_read_ends_the_request() -> None:
    app = TrioQuart(__name__)
    events: list[str] = []

    @app.post("/")
    async def index() -> str:
        try:
            await request.get_data()
        finally:
            events.append("handler ended")
        return "unreachable"

    messages = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with trio.fail_after(5):
        await app(chunked_scope(), receive, send)
    assert events == ["handler ended"]
    assert sent == []  # nobody left to answer


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"4")],
        [(b"content-length", b"0004")],
        [(b"content-length", b" 4 ")],
        [(b"content-length", b"4"), (b"content-length", b"9")],
        [(b"content-length", b"4"), (b"transfer-encoding", b"chunked")],
        [(b"transfer-encoding", b"chunked"), (b"content-length", b"4")],
        [(b"Content-Length", b"7"), (b"content-length", b"4")],
        [(b"content-length", b"4"), (b"Transfer-Encoding", b"chunked")],
        [(b"content-length", b"+4")],
        [(b"content-length", b"four")],
    ],
    ids=[
        "plain",
        "zeros",
        "spaces",
        "twice",
        "chunked-after",
        "chunked-before",
        "other-case-first",
        "other-case-chunked",
        "plus",
        "not-a-number",
    ],
)
async def test_content_length_is_what_werkzeug_makes_of_the_headers(
    headers: list[tuple[bytes, bytes]],
) -> None:
    app = TrioQuart(__name__)
    seen: list[int | None] = []

    @app.post("/")
    async def index() -> str:
        seen.append(request.content_length)
        return "ok"

    scope = http_scope(method="POST")
    scope["headers"] = scope["headers"] + headers
    recorder = Recorder(b"data")
    await app(scope, recorder.receive, recorder.send)
    assert recorder.status == 200
    expected = Headers([(name.decode(), value.decode()) for name, value in headers])
    assert seen == [
        get_content_length(expected.get("Content-Length"), expected.get("Transfer-Encoding"))
    ]
