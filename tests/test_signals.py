"""Signals: each is sent at its moment, with its arguments, to async and sync receivers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import trio
from blinker import NamedSignal

import trioquart.signals as signals
from trioquart import Response, TrioQuart, abort, g, has_request_context, request, session
from trioquart import websocket as websocket_proxy
from trioquart.testing import WebsocketDisconnectError

TIMEOUT = 5


def make_app(testing: bool = True) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = testing
    app.secret_key = "signals"
    return app


class Recorder:
    """Connects one async receiver per signal (for ``app`` only) and records the calls."""

    def __init__(self, app: TrioQuart, log: list[Any] | None = None) -> None:
        self.app = app
        self.log: list[Any] = log if log is not None else []
        self._stack = ExitStack()

    def listen(self, signal: NamedSignal, *keys: str) -> None:
        async def receiver(sender: Any, **kwargs: Any) -> None:
            assert sender is self.app
            assert set(kwargs) == set(keys), (signal.name, kwargs)
            self.log.append((signal.name, *(kwargs[key] for key in keys)))

        self._stack.enter_context(signal.connected_to(receiver, sender=self.app))

    def close(self) -> None:
        self._stack.close()

    def names(self) -> list[str]:
        return [entry[0] if isinstance(entry, tuple) else entry for entry in self.log]


@contextmanager
def recording(app: TrioQuart, log: list[Any] | None = None) -> Iterator[Recorder]:
    recorder = Recorder(app, log)
    try:
        yield recorder
    finally:
        recorder.close()


def test_signal_names_and_namespace() -> None:
    expected = {
        "appcontext_pushed": "appcontext-pushed",
        "appcontext_popped": "appcontext-popped",
        "appcontext_tearing_down": "appcontext-tearing-down",
        "request_started": "request-started",
        "request_finished": "request-finished",
        "request_tearing_down": "request-tearing-down",
        "got_request_exception": "got-request-exception",
        "websocket_started": "websocket-started",
        "websocket_finished": "websocket-finished",
        "websocket_tearing_down": "websocket-tearing-down",
        "websocket_received": "websocket-received",
        "websocket_sent": "websocket-sent",
        "got_websocket_exception": "got-websocket-exception",
        "got_background_exception": "got-background-exception",
        "got_serving_exception": "got-serving-exception",
        "template_rendered": "template-rendered",
        "before_render_template": "before-render-template",
        "message_flashed": "message-flashed",
    }
    for attribute, name in expected.items():
        signal = getattr(signals, attribute)
        assert isinstance(signal, NamedSignal)
        assert signal.name == name
    assert signals.signals_available is True


async def test_request_signals_in_order_with_their_arguments() -> None:
    app = make_app()
    log: list[Any] = []

    @app.before_request
    async def before() -> None:
        log.append("before_request")

    @app.get("/")
    async def index() -> str:
        log.append("view")
        session["seen"] = True
        return "hello"

    @app.after_request
    async def after(response: Response) -> Response:
        log.append("after_request")
        response.headers["X-After"] = "yes"
        return response

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        log.append(("teardown_request", exc))

    finished: list[Response] = []

    async def on_started(sender: TrioQuart) -> None:
        # Sent inside the request context, before the before_request functions.
        assert has_request_context()
        log.append(("request-started", request.path))

    async def on_finished(sender: TrioQuart, response: Response) -> None:
        finished.append(response)
        log.append("request-finished")

    with recording(app, log) as recorder:
        recorder.listen(signals.appcontext_pushed)
        recorder.listen(signals.request_tearing_down, "exc")
        recorder.listen(signals.appcontext_tearing_down, "exc")
        recorder.listen(signals.appcontext_popped)
        with (
            signals.request_started.connected_to(on_started, app),
            signals.request_finished.connected_to(on_finished, app),
        ):
            response = await app.test_client().get("/")

    assert await response.get_data() == b"hello"
    assert log == [
        ("appcontext-pushed",),
        ("request-started", "/"),
        "before_request",
        "view",
        "after_request",
        "request-finished",
        ("teardown_request", None),
        ("request-tearing-down", None),
        ("appcontext-tearing-down", None),
        ("appcontext-popped",),
    ]
    # request_finished gets the final response: after_request ran and the session is saved.
    (final,) = finished
    assert final.headers["X-After"] == "yes"
    assert final.headers["Set-Cookie"].startswith("session=")
    assert "Cookie" in final.vary


async def test_unhandled_error_signals() -> None:
    app = make_app(testing=False)
    error = RuntimeError("boom")

    @app.get("/boom")
    async def boom() -> str:
        raise error

    with recording(app) as recorder:
        recorder.listen(signals.got_request_exception, "exception")
        recorder.listen(signals.request_finished, "response")
        recorder.listen(signals.request_tearing_down, "exc")
        recorder.listen(signals.appcontext_tearing_down, "exc")
        response = await app.test_client().get("/boom")

    assert response.status_code == 500
    names = recorder.names()
    assert names == [
        "got-request-exception",
        "request-finished",
        "request-tearing-down",
        "appcontext-tearing-down",
    ]
    assert recorder.log[0] == ("got-request-exception", error)
    assert recorder.log[1][1].status_code == 500
    assert recorder.log[2] == ("request-tearing-down", error)
    assert recorder.log[3] == ("appcontext-tearing-down", error)


async def test_got_request_exception_also_fires_when_propagating() -> None:
    app = make_app(testing=True)

    @app.get("/boom")
    async def boom() -> str:
        raise KeyError("boom")

    with recording(app) as recorder:
        recorder.listen(signals.got_request_exception, "exception")
        with pytest.raises(KeyError):
            await app.test_client().get("/boom")
    assert recorder.names() == ["got-request-exception"]


async def test_handled_errors_do_not_send_got_request_exception() -> None:
    app = make_app(testing=False)

    @app.get("/missing")
    async def missing() -> str:
        abort(404)

    @app.get("/handled")
    async def handled() -> str:
        raise ValueError("handled")

    @app.errorhandler(ValueError)
    async def on_value_error(error: ValueError) -> tuple[str, int]:
        return "handled", 400

    with recording(app) as recorder:
        recorder.listen(signals.got_request_exception, "exception")
        recorder.listen(signals.request_tearing_down, "exc")
        client = app.test_client()
        assert (await client.get("/missing")).status_code == 404
        assert (await client.get("/handled")).status_code == 400
    assert recorder.log == [("request-tearing-down", None), ("request-tearing-down", None)]


async def test_app_context_signals() -> None:
    app = make_app()
    with recording(app) as recorder:
        recorder.listen(signals.appcontext_pushed)
        recorder.listen(signals.appcontext_tearing_down, "exc")
        recorder.listen(signals.appcontext_popped)

        async def pushed_sees_the_context(sender: TrioQuart) -> None:
            g.marker = "set by the receiver"

        with signals.appcontext_pushed.connected_to(pushed_sees_the_context, app):
            async with app.app_context():
                assert recorder.names() == ["appcontext-pushed"]
                assert g.marker == "set by the receiver"
        assert recorder.names() == [
            "appcontext-pushed",
            "appcontext-tearing-down",
            "appcontext-popped",
        ]

        error = LookupError("inside")
        recorder.log.clear()
        with pytest.raises(LookupError):
            async with app.app_context():
                raise error
        assert recorder.log[1] == ("appcontext-tearing-down", error)


async def test_receivers_for_another_app_are_not_called() -> None:
    app, other = make_app(), make_app()

    @app.get("/")
    async def index() -> str:
        return "x"

    with recording(other) as recorder:
        recorder.listen(signals.request_started)
        await app.test_client().get("/")
    assert recorder.log == []


async def test_sync_receiver_runs_in_a_worker_thread_with_the_context() -> None:
    app = make_app()
    calls: list[tuple[str, str, str]] = []

    @app.get("/sync")
    async def index() -> str:
        return "x"

    def sync_receiver(sender: TrioQuart, **extra: Any) -> None:
        calls.append((threading.current_thread().name, request.path, sender.name))

    with signals.request_started.connected_to(sync_receiver, app):
        await app.test_client().get("/sync")
    ((thread, path, name),) = calls
    assert thread != threading.main_thread().name
    assert path == "/sync"
    assert name == app.name


async def test_receiver_errors_are_not_swallowed() -> None:
    app = make_app()

    @app.get("/")
    async def index() -> str:
        return "x"

    async def broken(sender: TrioQuart) -> None:
        raise ZeroDivisionError

    with signals.request_started.connected_to(broken, app), pytest.raises(ZeroDivisionError):
        await app.test_client().get("/")


# ---- websockets ---------------------------------------------------------------------------


async def test_websocket_signals_in_order() -> None:
    app = make_app()
    log: list[Any] = []

    @app.before_websocket
    async def before() -> None:
        log.append("before_websocket")

    @app.websocket("/ws")
    async def ws() -> None:
        log.append("handler")
        await websocket_proxy.send("hi")

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        log.append(("teardown_websocket", exc))

    with recording(app, log) as recorder:
        recorder.listen(signals.websocket_started)
        recorder.listen(signals.websocket_finished, "response")
        recorder.listen(signals.websocket_tearing_down, "exc")
        recorder.listen(signals.got_websocket_exception, "exception")
        with trio.fail_after(TIMEOUT):
            async with app.test_client().websocket("/ws") as connection:
                assert await connection.receive() == "hi"
                with pytest.raises(WebsocketDisconnectError):
                    await connection.receive()
    assert log == [
        ("websocket-started",),
        "before_websocket",
        "handler",
        ("websocket-finished", None),
        ("teardown_websocket", None),
        ("websocket-tearing-down", None),
    ]


async def test_websocket_finished_gets_a_returned_denial_response() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def ws() -> Any:
        return "go away", 401

    with recording(app) as recorder:
        recorder.listen(signals.websocket_finished, "response")
        from trioquart.testing import WebsocketResponseError

        with trio.fail_after(TIMEOUT), pytest.raises(WebsocketResponseError):
            async with app.test_client().websocket("/ws"):
                pass
    ((name, response),) = recorder.log
    assert name == "websocket-finished"
    assert response.status_code == 401


async def test_got_websocket_exception(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    app = make_app(testing=False)
    error = RuntimeError("ws boom")

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket_proxy.accept()
        raise error

    with recording(app) as recorder:
        recorder.listen(signals.got_websocket_exception, "exception")
        recorder.listen(signals.websocket_tearing_down, "exc")
        with trio.fail_after(TIMEOUT):
            async with app.test_client().websocket("/ws") as connection:
                with pytest.raises(WebsocketDisconnectError) as closed:
                    await connection.receive()
    assert closed.value.code == 1011
    assert recorder.log == [
        ("got-websocket-exception", error),
        ("websocket-tearing-down", error),
    ]


async def test_websocket_message_signals() -> None:
    app = make_app()
    received: list[Any] = []
    sent: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        message = await websocket_proxy.receive()
        await websocket_proxy.send(f"echo {message!s}")

    async def on_received(data: str | bytes) -> None:
        # Sent inside the websocket's context, with the message as the sender (as Quart).
        received.append((data, websocket_proxy.path))

    def on_sent(data: str | bytes) -> None:  # a sync receiver
        sent.append(data)

    with (
        signals.websocket_received.connected_to(on_received),
        signals.websocket_sent.connected_to(on_sent),
        trio.fail_after(TIMEOUT),
    ):
        async with app.test_client().websocket("/ws") as connection:
            await connection.send(b"ping")
            assert await connection.receive() == "echo b'ping'"
    assert received == [(b"ping", "/ws")]
    assert sent == ["echo b'ping'"]


async def test_send_message_helper_uses_the_message_as_sender() -> None:
    app = make_app()
    got: list[Any] = []

    async def on_sent(data: str | bytes, **extra: Any) -> None:
        got.append((data, extra))

    with signals.websocket_sent.connected_to(on_sent):
        await signals.send_message(signals.websocket_sent, app, "hello")
    assert got == [("hello", {})]


# ---- background tasks and serving -----------------------------------------------------------


async def test_got_background_exception(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    app = make_app()
    error = OSError("the task failed")
    reported = trio.Event()
    log: list[Any] = []

    async def failing_task() -> None:
        raise error

    @app.post("/start")
    async def start() -> str:
        app.add_background_task(failing_task)
        return "started"

    async def on_error(sender: TrioQuart, exception: BaseException) -> None:
        log.append((sender, exception))
        reported.set()

    with signals.got_background_exception.connected_to(on_error, app), trio.fail_after(TIMEOUT):
        async with app.test_app() as test_app:
            response = await test_app.test_client().post("/start")
            assert response.status_code == 200
            await reported.wait()
    assert log == [(app, error)]


async def test_got_serving_exception() -> None:
    app = make_app()
    error = ConnectionError("no database")
    log: list[Any] = []

    @app.before_serving
    async def connect() -> None:
        raise error

    async def on_error(sender: TrioQuart, exception: BaseException) -> None:
        log.append(exception)

    with signals.got_serving_exception.connected_to(on_error, app), trio.fail_after(TIMEOUT):
        with pytest.raises(Exception):  # noqa: B017 (the lifespan reports the failure)
            async with app.test_app():
                pass
    assert log == [error]
