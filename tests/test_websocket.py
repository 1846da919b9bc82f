"""Websockets in-process, through ``app.test_client().websocket(...)``: routing, the
``websocket`` object and its context, hooks, accept and denial, messages, close codes, the
connection's nursery, the bounded inbox and the drain."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import pytest
import trio
import trio.lowlevel
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import BadRequest, Conflict, Forbidden

from trioquart import (
    Blueprint,
    CloseWebsocket,
    Response,
    TrioQuart,
    WebsocketDisconnectedError,
    WebsocketState,
    abort,
    copy_current_websocket_context,
    g,
    has_request_context,
    has_websocket_context,
    request,
    session,
    websocket,
)
from trioquart.testing import WebsocketDisconnectError, WebsocketResponseError

TIMEOUT = 5


def make_app(testing: bool = True) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = testing
    return app


def websocket_scope(path: str = "/ws") -> dict[str, Any]:
    """A websocket scope as Hypercorn sends it (no propagation flag)."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


async def denial(app: TrioQuart, path: str = "/ws", **kwargs: Any) -> Response:
    """The response a websocket handshake to ``path`` was denied with."""
    with trio.fail_after(TIMEOUT):
        with pytest.raises(WebsocketResponseError) as info:
            async with app.test_client().websocket(path, **kwargs):
                pass
    return info.value.response


async def close_of(app: TrioQuart, path: str = "/ws", send: str | None = None) -> tuple[int, str]:
    """Connect, send ``send`` if given, and return the close code and reason the app sent."""
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket(path) as ws:
            if send is not None:
                await ws.send(send)
            with pytest.raises(WebsocketDisconnectError) as info:
                while True:
                    await ws.receive()
    return info.value.code, info.value.reason


# ---- routing ------------------------------------------------------------------------------


async def test_app_websocket_route_echoes() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hello")
            assert await ws.receive() == "hello"
            await ws.send(b"\x00\x01")
            assert await ws.receive() == b"\x00\x01"


async def test_a_websocket_subclass_may_override_receive_and_send_with_async_defs() -> None:
    from trioquart import Websocket

    class Shouting(Websocket):
        async def receive(self) -> str | bytes:
            data = await super().receive()
            return data.upper() if isinstance(data, str) else data

        async def send(self, data: str | bytes) -> None:
            await super().send(data + "!" if isinstance(data, str) else data)

    app = make_app()
    app.websocket_class = Shouting

    @app.websocket("/ws")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hello")
            assert await ws.receive() == "HELLO!"


async def test_blueprint_websocket_route() -> None:
    app = make_app()
    bp = Blueprint("chat", __name__, url_prefix="/chat")

    @bp.websocket("/rooms/<name>")
    async def room(name: str) -> None:
        await websocket.send_json(
            {"name": name, "endpoint": websocket.endpoint, "blueprint": websocket.blueprint}
        )

    app.register_blueprint(bp)
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/chat/rooms/lobby") as ws:
            assert await ws.receive_json() == {
                "name": "lobby",
                "endpoint": "chat.room",
                "blueprint": "chat",
            }


async def test_add_websocket() -> None:
    app = make_app()

    async def handler() -> None:
        await websocket.send(websocket.endpoint or "")

    app.add_websocket("/added", "added_endpoint", handler)
    (rule,) = [r for r in app.url_map.iter_rules() if r.rule == "/added"]
    assert rule.websocket
    view: Any = app.view_functions["added_endpoint"]
    assert view is handler
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/added") as ws:
            assert await ws.receive() == "added_endpoint"


async def test_one_path_with_an_http_route_and_a_websocket_route() -> None:
    app = make_app()

    @app.get("/both")
    async def page() -> str:
        return f"http {request.endpoint}"

    @app.websocket("/both")
    async def socket() -> None:
        await websocket.send(f"websocket {websocket.endpoint}")

    client = app.test_client()
    response = await client.get("/both")
    assert await response.get_data() == b"http page"
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/both") as ws:
            assert await ws.receive() == "websocket socket"


async def test_websocket_to_an_http_only_rule_is_denied_with_400() -> None:
    app = make_app()

    @app.get("/page")
    async def page() -> str:
        return "a page"

    response = await denial(app, "/page")
    assert response.status_code == 400


async def test_websocket_to_an_unknown_path_is_denied_with_404() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()

    response = await denial(app, "/nowhere")
    assert response.status_code == 404


# ---- the websocket object and its context --------------------------------------------------


async def test_websocket_fields() -> None:
    app = make_app()

    @app.websocket("/rooms/<int:room>")
    async def fields(room: int) -> None:
        await websocket.send_json(
            {
                "room": room,
                "path": websocket.path,
                "full_path": websocket.full_path,
                "args": websocket.args.to_dict(flat=False),
                "token": websocket.headers.get("X-Token"),
                "cookie": websocket.cookies.get("flavour"),
                "subprotocols": websocket.requested_subprotocols,
                "scheme": websocket.scheme,
                "host": websocket.host,
            }
        )

    client = app.test_client()
    client.set_cookie("localhost", "flavour", "mint")
    with trio.fail_after(TIMEOUT):
        async with client.websocket(
            "/rooms/7",
            query_string={"a": ["1", "2"], "b": "x"},
            headers={"X-Token": "secret-token"},
            subprotocols=["chat.v2", "chat.v1"],
        ) as ws:
            assert await ws.receive_json() == {
                "room": 7,
                "path": "/rooms/7",
                "full_path": "/rooms/7?a=1&a=2&b=x",
                "args": {"a": ["1", "2"], "b": ["x"]},
                "token": "secret-token",
                "cookie": "mint",
                "subprotocols": ["chat.v2", "chat.v1"],
                "scheme": "ws",
                "host": "localhost",
            }


async def test_websocket_authorization_from_auth() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def who() -> None:
        auth = websocket.authorization
        if auth is None:
            await websocket.send_json(None)
        else:
            await websocket.send_json([auth.type, auth.username, auth.password])

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/ws", auth=("alice", "s3cret")) as ws:
            assert await ws.receive_json() == ["basic", "alice", "s3cret"]
        async with client.websocket("/ws") as ws:
            assert await ws.receive_json() is None


async def test_has_websocket_context() -> None:
    app = make_app()
    seen: list[tuple[bool, bool]] = []

    @app.websocket("/ws")
    async def handler() -> None:
        seen.append((has_websocket_context(), has_request_context()))
        await websocket.accept()

    @app.get("/page")
    async def page() -> str:
        seen.append((has_websocket_context(), has_request_context()))
        return ""

    assert not has_websocket_context()
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws"):
            pass
    await app.test_client().get("/page")
    assert seen == [(True, False), (False, True)]
    assert not has_websocket_context()


async def test_copy_current_websocket_context() -> None:
    app = make_app()
    stashed: list[Callable[[], Awaitable[tuple[str, str, bool]]]] = []

    @app.websocket("/rooms/<name>")
    async def handler(name: str) -> None:
        @copy_current_websocket_context
        async def later() -> tuple[str, str, bool]:
            return websocket.path, session.get("user", "nobody"), has_websocket_context()

        stashed.append(later)
        await websocket.accept()

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/rooms/blue"):
            pass
    assert not has_websocket_context()
    # Called where no websocket context is active, it brings the copied one along.
    assert await stashed[0]() == ("/rooms/blue", "nobody", True)
    assert not has_websocket_context()
    with pytest.raises(RuntimeError):
        copy_current_websocket_context(stashed[0])


async def test_g_is_shared_by_hooks_and_handler() -> None:
    app = make_app()

    @app.before_websocket
    async def load_user() -> None:
        g.user = "alice"

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.send(g.user)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            assert await ws.receive() == "alice"


async def test_session_set_over_http_is_readable_in_a_websocket() -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "a test secret"

    @app.post("/login")
    async def login() -> str:
        session["user"] = "alice"
        return "logged in"

    @app.websocket("/ws")
    async def whoami() -> None:
        await websocket.send(session.get("user", "anonymous"))

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/ws") as ws:
            assert await ws.receive() == "anonymous"
        assert (await client.post("/login")).status_code == 200
        async with client.websocket("/ws") as ws:
            assert await ws.receive() == "alice"


# ---- hooks --------------------------------------------------------------------------------


async def test_hooks_run_in_order_and_after_websocket_gets_none_when_accepted() -> None:
    app = make_app()
    events: list[Any] = []

    @app.before_websocket
    async def before() -> None:
        events.append(("before", websocket.state))

    @app.after_websocket
    async def after(response: Response | None) -> Response | None:
        events.append(("after", response))
        return response

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        events.append(("teardown", exc, websocket.state))

    @app.websocket("/ws")
    async def handler() -> None:
        events.append("handler")
        await websocket.send("hi")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            assert await ws.receive() == "hi"
    assert events == [
        ("before", WebsocketState.CONNECTING),
        "handler",
        ("after", None),
        ("teardown", None, WebsocketState.CLOSED),
    ]


async def test_after_websocket_gets_and_may_change_the_denial_response() -> None:
    app = make_app()
    seen: list[int] = []

    @app.after_websocket
    async def after(response: Response | None) -> Response | None:
        assert response is not None
        seen.append(response.status_code)
        response.headers["X-Seen-By"] = "after_websocket"
        return response

    @app.websocket("/ws")
    async def handler() -> Any:
        return "go away", 403

    response = await denial(app)
    assert seen == [403]
    assert response.headers["X-Seen-By"] == "after_websocket"


async def test_teardown_runs_after_a_denial_and_sees_the_error() -> None:
    app = make_app(testing=False)
    seen: list[Any] = []

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        seen.append((type(exc), websocket.state))

    @app.websocket("/ws")
    async def handler() -> None:
        raise RuntimeError("before accept")

    response = await denial(app)
    assert response.status_code == 500
    assert seen == [(RuntimeError, WebsocketState.DENIED)]


async def test_teardown_can_await_after_a_client_disconnect_and_sees_its_close() -> None:
    app = make_app()
    events: list[Any] = []
    torn_down = trio.Event()

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        await trio.sleep(0.01)  # awaiting still works: teardown is shielded
        events.append(("teardown", websocket.close_code, websocket.close_reason))
        torn_down.set()

    @app.websocket("/ws")
    async def echo() -> None:
        async for message in websocket:
            await websocket.send(message)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("ping")
            assert await ws.receive() == "ping"
            await ws.close(4001, "leaving now")
        await torn_down.wait()
    assert events == [("teardown", 4001, "leaving now")]


async def test_teardown_sees_the_client_close_while_the_handler_waits_elsewhere() -> None:
    app = make_app()
    events: list[Any] = []

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        await trio.lowlevel.checkpoint()
        events.append((websocket.close_code, websocket.close_reason, websocket.state))

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        try:
            await trio.sleep_forever()
        finally:
            events.append("handler cancelled")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.close(4002, "bye")
    assert events == ["handler cancelled", (4002, "bye", WebsocketState.CLOSED)]


async def test_blueprint_app_wide_websocket_hooks() -> None:
    app = make_app()
    bp = Blueprint("extras", __name__)
    events: list[Any] = []

    @bp.before_app_websocket
    async def before() -> None:
        events.append("before_app")

    @bp.after_app_websocket
    async def after(response: Response | None) -> Response | None:
        events.append(("after_app", response))
        return response

    @bp.teardown_app_websocket
    async def teardown(exc: BaseException | None) -> None:
        events.append(("teardown_app", exc))

    @app.websocket("/ws")  # an app route: the blueprint's app-wide hooks still run
    async def handler() -> None:
        events.append("handler")
        await websocket.accept()

    app.register_blueprint(bp)
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws"):
            pass
    assert events == ["before_app", "handler", ("after_app", None), ("teardown_app", None)]


async def test_blueprint_own_websocket_hooks_including_teardown() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    events: list[str] = []

    @bp.before_websocket
    async def before() -> None:
        events.append(f"before {websocket.path}")

    @bp.after_websocket
    async def after(response: Response | None) -> Response | None:
        events.append(f"after {websocket.path}")
        return response

    @bp.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        events.append(f"teardown {websocket.path}")

    @bp.websocket("/ws")
    async def inside() -> None:
        await websocket.accept()

    @app.websocket("/ws")
    async def outside() -> None:
        await websocket.accept()

    app.register_blueprint(bp)
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/bp/ws"):
            pass
        async with client.websocket("/ws"):
            pass
    # Quart never calls a blueprint's teardown_websocket; here it runs, for its own routes.
    assert events == ["before /bp/ws", "after /bp/ws", "teardown /bp/ws"]


async def test_url_value_preprocessor_does_not_break_websocket_routes() -> None:
    app = make_app()
    bp = Blueprint("lang", __name__, url_prefix="/<lang>")

    @app.url_value_preprocessor
    def app_preprocessor(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.app_saw = endpoint

    @bp.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        assert values is not None
        g.lang = values.pop("lang")

    @app.websocket("/plain")
    async def plain() -> None:
        await websocket.send(g.app_saw)

    @bp.websocket("/ws")
    async def localized() -> None:  # no lang argument: the preprocessor took it
        await websocket.send(f"{g.app_saw} {g.lang}")

    app.register_blueprint(bp)
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/plain") as ws:
            assert await ws.receive() == "plain"
        async with client.websocket("/fr/ws") as ws:
            assert await ws.receive() == "lang.localized fr"


async def test_nested_blueprint_hook_order_matches_requests() -> None:
    app = make_app()
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")
    events: list[str] = []

    for scaffold, name in ((app, "app"), (parent, "parent"), (child, "child")):
        for kind in ("request", "websocket"):

            async def before(name: str = name, kind: str = kind) -> None:
                events.append(f"{kind} before {name}")

            async def after(response: Any, name: str = name, kind: str = kind) -> Any:
                events.append(f"{kind} after {name}")
                return response

            async def teardown(exc: Any, name: str = name, kind: str = kind) -> None:
                events.append(f"{kind} teardown {name}")

            getattr(scaffold, f"before_{kind}")(before)
            getattr(scaffold, f"after_{kind}")(after)
            getattr(scaffold, f"teardown_{kind}")(teardown)

    @child.get("/page")
    async def page() -> str:
        events.append("request view")
        return "page"

    @child.websocket("/ws")
    async def socket() -> None:
        events.append("websocket view")
        await websocket.accept()

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    client = app.test_client()
    await client.get("/parent/child/page")
    request_events = [e.removeprefix("request ") for e in events]
    events.clear()
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/parent/child/ws"):
            pass
    websocket_events = [e.removeprefix("websocket ") for e in events]
    assert websocket_events == request_events
    assert websocket_events == [
        "before app",
        "before parent",
        "before child",
        "view",
        "after child",
        "after parent",
        "after app",
        "teardown child",
        "teardown parent",
        "teardown app",
    ]


# ---- error handlers -----------------------------------------------------------------------


async def test_error_handler_answers_an_error_before_accept() -> None:
    app = make_app()

    @app.errorhandler(LookupError)
    async def not_found(error: LookupError) -> Any:
        return f"no such thing: {error}", 404

    @app.websocket("/ws")
    async def handler() -> None:
        raise KeyError("room")

    response = await denial(app)
    assert response.status_code == 404
    assert await response.get_data() == b"no such thing: 'room'"


async def test_blueprint_error_handler_applies_to_its_websockets() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.errorhandler(403)
    async def forbidden(error: Forbidden) -> Any:
        return "blueprint says no", 403, {"X-Handler": "bp"}

    @bp.websocket("/ws")
    async def handler() -> None:
        abort(403)

    app.register_blueprint(bp)
    response = await denial(app, "/bp/ws")
    assert response.status_code == 403
    assert response.headers["X-Handler"] == "bp"
    assert await response.get_data() == b"blueprint says no"


async def test_error_handler_answer_after_accept_closes_with_4000_plus_status() -> None:
    app = make_app()

    @app.errorhandler(ValueError)
    async def conflict(error: ValueError) -> Any:
        return "conflict", 409

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        raise ValueError("taken")

    assert await close_of(app) == (4409, "Conflict")


async def test_500_error_handler_answers_an_unhandled_error_before_accept() -> None:
    app = make_app(testing=False)

    @app.errorhandler(500)
    async def server_error(error: Exception) -> Any:
        return "sorry", 500

    @app.websocket("/ws")
    async def handler() -> None:
        raise RuntimeError("boom")

    response = await denial(app)
    assert response.status_code == 500
    assert await response.get_data() == b"sorry"


# ---- accept -------------------------------------------------------------------------------


async def test_accept_with_headers_and_subprotocol_twice_is_harmless() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept(headers={"X-Extra": "yes"}, subprotocol="chat.v1")
        await websocket.accept()  # harmless: already accepted
        await websocket.accept(headers={"X-Other": "ignored"}, subprotocol="chat.v2")
        await websocket.send(f"{websocket.subprotocol} {websocket.accepted}")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws", subprotocols=["chat.v2", "chat.v1"]) as ws:
            assert await ws.receive() == "chat.v1 True"
            assert ws.subprotocol == "chat.v1"
            assert ws.headers is not None
            assert ws.headers["X-Extra"] == "yes"
            assert "X-Other" not in ws.headers


async def test_accepting_a_subprotocol_the_client_did_not_offer_is_an_error() -> None:
    app = make_app()
    errors: list[BaseException] = []

    @app.websocket("/ws")
    async def handler() -> None:
        try:
            await websocket.accept(subprotocol="not-offered")
        except ValueError as error:
            errors.append(error)
        await websocket.accept(subprotocol="offered")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws", subprotocols=["offered"]) as ws:
            assert ws.subprotocol == "offered"
    assert len(errors) == 1
    assert "not-offered" in str(errors[0])


async def test_unoffered_subprotocol_unhandled_is_a_500_denial() -> None:
    app = make_app(testing=False)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept(subprotocol="not-offered")

    response = await denial(app, subprotocols=["chat"])
    assert response.status_code == 500


async def test_first_send_accepts_implicitly() -> None:
    app = make_app()
    states: list[WebsocketState] = []

    @app.websocket("/ws")
    async def handler() -> None:
        states.append(websocket.state)
        await websocket.send("first")
        states.append(websocket.state)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            assert ws.headers is not None  # accepted
            assert await ws.receive() == "first"
    assert states == [WebsocketState.CONNECTING, WebsocketState.ACCEPTED]


async def test_first_receive_accepts_implicitly() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        message = await websocket.receive()
        assert isinstance(message, str)
        await websocket.send(f"got {message}")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            assert ws.headers is not None
            await ws.send("one")
            assert await ws.receive() == "got one"


async def test_state_through_connecting_accepted_closed() -> None:
    app = make_app()
    states: list[Any] = []

    @app.websocket("/ws")
    async def handler() -> None:
        states.append((websocket.state, websocket.accepted, websocket.close_code))
        await websocket.accept()
        states.append((websocket.state, websocket.accepted, websocket.close_code))
        await websocket.close(4000, "done")
        states.append((websocket.state, websocket.accepted, websocket.close_code))
        await websocket.close(4001, "again")  # closing twice does nothing
        states.append((websocket.state, websocket.accepted, websocket.close_code))

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            with pytest.raises(WebsocketDisconnectError) as info:
                await ws.receive()
    assert (info.value.code, info.value.reason) == (4000, "done")
    assert states == [
        (WebsocketState.CONNECTING, False, None),
        (WebsocketState.ACCEPTED, True, None),
        (WebsocketState.CLOSED, False, 4000),
        (WebsocketState.CLOSED, False, 4000),
    ]


async def test_state_denied_and_close_before_accept_denies_with_403() -> None:
    app = make_app()
    states: list[WebsocketState] = []

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.close(4000)  # before accept: refuses the handshake
        states.append(websocket.state)

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        states.append(websocket.state)

    response = await denial(app)
    assert response.status_code == 403
    assert states == [WebsocketState.DENIED, WebsocketState.DENIED]


# ---- denial -------------------------------------------------------------------------------


def login_required(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        auth = websocket.authorization
        if auth is None or (auth.username, auth.password) != ("alice", "s3cret"):
            abort(401, www_authenticate=WWWAuthenticate("basic", {"realm": "chat"}))
        return await func(*args, **kwargs)

    return wrapper


async def test_denial_by_abort_401_in_a_login_required_decorator() -> None:
    app = make_app()

    @app.websocket("/ws")
    @login_required
    async def echo() -> None:
        async for message in websocket:
            await websocket.send(message)

    response = await denial(app)
    assert response.status_code == 401
    assert response.www_authenticate.type == "basic"
    assert response.www_authenticate.parameters == {"realm": "chat"}
    assert b"Unauthorized" in await response.get_data()

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws", auth=("alice", "s3cret")) as ws:
            await ws.send("let me in")
            assert await ws.receive() == "let me in"


async def test_denial_by_abort_in_before_websocket() -> None:
    app = make_app()
    handled: list[str] = []

    @app.before_websocket
    async def gate() -> None:
        if websocket.args.get("key") != "open":
            abort(403)

    @app.websocket("/ws")
    async def handler() -> None:
        handled.append("handler")
        await websocket.send("in")

    response = await denial(app)
    assert response.status_code == 403
    assert b"Forbidden" in await response.get_data()
    assert handled == []
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws?key=open") as ws:
            assert await ws.receive() == "in"


async def test_denial_by_returning_a_body_and_status() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> Any:
        return "go away", 403

    response = await denial(app)
    assert response.status_code == 403
    assert await response.get_data() == b"go away"
    assert response.headers["Content-Type"].startswith("text/html")


async def test_denial_by_returning_a_response_object() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> Response:
        return Response('{"error": "teapot"}', 418, {"X-Reason": "tea", "Content-Type": "x/y"})

    response = await denial(app)
    assert response.status_code == 418
    assert response.headers["X-Reason"] == "tea"
    assert response.headers["Content-Type"] == "x/y"
    assert await response.get_data() == b'{"error": "teapot"}'


async def test_denial_by_a_streamed_response() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> Any:
        async def parts() -> Any:
            yield b"not "
            yield b"today"

        return parts(), 429

    response = await denial(app)
    assert response.status_code == 429
    assert await response.get_data() == b"not today"


async def test_denial_by_raising_or_returning_an_http_exception() -> None:
    app = make_app()

    @app.websocket("/raised")
    async def raised() -> None:
        raise Conflict("name taken")

    @app.websocket("/returned")
    async def returned() -> Any:
        return Forbidden("not for you")

    response = await denial(app, "/raised")
    assert response.status_code == 409
    assert b"name taken" in await response.get_data()
    response = await denial(app, "/returned")
    assert response.status_code == 403
    assert b"not for you" in await response.get_data()


async def test_denial_error_is_raised_bare() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        abort(401)

    with trio.fail_after(TIMEOUT):
        try:
            async with app.test_client().websocket("/ws"):
                pass
        except BaseException as error:
            assert type(error) is WebsocketResponseError
            assert error.response.status_code == 401
        else:
            pytest.fail("the denial did not raise")


async def test_denial_without_the_extension_closes_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        abort(401)

    with caplog.at_level(logging.WARNING):
        response = await denial(app, scope_base={"extensions": {}})
    assert response.status_code == 403  # what servers answer a close before accept with
    warnings = [r for r in caplog.records if "websocket.http.response" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "401" in warnings[0].getMessage()


async def test_returning_none_without_accepting_is_denied_with_403() -> None:
    app = make_app()
    after: list[Any] = []

    @app.after_websocket
    async def record(response: Response | None) -> Response | None:
        after.append(response)
        return response

    @app.websocket("/ws")
    async def handler() -> None:
        return None

    response = await denial(app)
    assert response.status_code == 403
    assert after == [None]


# ---- messages -----------------------------------------------------------------------------


async def test_receive_gives_str_for_text_and_bytes_for_binary() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        kinds = []
        for _ in range(4):
            message = await websocket.receive()
            kinds.append([type(message).__name__, len(message)])
        await websocket.send_json(kinds)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("text")
            await ws.send(b"binary")
            await ws.send(b"")
            await ws.send("")
            assert await ws.receive_json() == [
                ["str", 4],
                ["bytes", 6],
                ["bytes", 0],
                ["str", 0],
            ]


async def test_send_json_and_receive_json() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})
        await websocket.send_json(total=sum(data["numbers"]))
        await websocket.send_json(1, 2)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send_json({"numbers": [1, 2, 3]})
            assert await ws.receive_json() == {"got": {"numbers": [1, 2, 3]}}
            assert await ws.receive_json() == {"total": 6}
            assert await ws.receive_json() == [1, 2]


async def test_invalid_json_closes_with_4400() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.receive_json()

    assert await close_of(app, send="{not json") == (4400, "Bad Request")


async def test_invalid_json_can_be_handled() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        while True:
            try:
                data = await websocket.receive_json()
            except BadRequest:
                await websocket.send_json({"error": "send JSON"})
            else:
                await websocket.send_json({"ok": data})

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("nope")
            assert await ws.receive_json() == {"error": "send JSON"}
            await ws.send("[1]")
            assert await ws.receive_json() == {"ok": [1]}


async def test_async_for_receives_until_the_client_closes() -> None:
    app = make_app()
    received: list[str | bytes] = []
    done = trio.Event()

    @app.websocket("/ws")
    async def handler() -> None:
        async for message in websocket:
            received.append(message)
        received.append("loop ended")
        done.set()

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("a")
            await ws.send(b"b")
        await done.wait()
    assert received == ["a", b"b", "loop ended"]


# ---- close codes --------------------------------------------------------------------------


async def test_unhandled_error_after_accept_closes_with_1011_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(testing=False)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        raise RuntimeError("boom after accept")

    with caplog.at_level(logging.ERROR):
        code, _ = await close_of(app)
    assert code == 1011
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert len(logged) == 1
    assert "/ws" in logged[0].getMessage()


async def test_returning_after_accept_closes_with_1000() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.send("bye")

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            assert await ws.receive() == "bye"
            with pytest.raises(WebsocketDisconnectError) as info:
                await ws.receive()
    assert info.value.code == 1000


async def test_a_value_returned_after_accept_is_ignored_and_closes_with_1000() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> Any:
        await websocket.accept()
        return "too late to deny", 403

    assert await close_of(app) == (1000, "")


async def test_abort_after_accept_closes_with_4000_plus_status() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        abort(403)

    assert await close_of(app) == (4403, "Forbidden")


async def test_server_error_after_accept_closes_with_1011() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        abort(503)

    code, _ = await close_of(app)
    assert code == 1011


async def test_close_websocket_raised_after_accept_closes_with_its_code_unlogged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()  # testing: other errors would propagate to the test client

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        raise CloseWebsocket(1008, "token expired")

    with caplog.at_level(logging.WARNING):
        assert await close_of(app) == (1008, "token expired")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_close_websocket_from_a_nursery_task_closes_with_its_code() -> None:
    app = make_app()

    async def watchdog() -> None:
        await trio.lowlevel.checkpoint()
        raise CloseWebsocket(1013, "Try Again Later")

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        websocket.nursery.start_soon(watchdog)
        await trio.sleep_forever()

    assert await close_of(app) == (1013, "Try Again Later")


async def test_close_websocket_before_accept_denies_with_403() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def handler() -> None:
        raise CloseWebsocket(1008)

    with trio.fail_after(TIMEOUT):
        with pytest.raises(WebsocketResponseError) as info:
            async with app.test_client().websocket("/ws"):
                pass
    assert info.value.response.status_code == 403


async def test_an_error_handler_for_close_websocket_takes_precedence() -> None:
    app = make_app()

    @app.errorhandler(CloseWebsocket)
    async def closing(error: CloseWebsocket) -> Any:
        return "handled", 409

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        raise CloseWebsocket(1008)

    assert (await close_of(app))[0] == 4409


async def test_app_close_reaches_the_client_with_code_and_reason() -> None:
    app = make_app()
    after_close: list[type[BaseException]] = []

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.send("closing")
        await websocket.close(4000, "bye")
        try:
            await websocket.send("too late")
        except Exception as error:
            after_close.append(type(error))

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            assert await ws.receive() == "closing"
            with pytest.raises(WebsocketDisconnectError) as info:
                await ws.receive()
    assert (info.value.code, info.value.reason) == (4000, "bye")
    assert after_close == [WebsocketDisconnectedError]


# ---- the connection's nursery -------------------------------------------------------------


async def test_nursery_sender_and_receiver_see_the_context_and_end_with_the_connection() -> None:
    app = make_app()
    events: list[str] = []
    ended = trio.Event()

    @app.websocket("/rooms/<name>")
    async def room(name: str) -> None:
        await websocket.accept()
        outbox_in, outbox = trio.open_memory_channel[str](10)

        async def receiver() -> None:
            try:
                async for message in websocket:
                    assert isinstance(message, str)
                    await outbox_in.send(f"{websocket.path}: {message}")
                    if message == "stop":
                        return
            finally:
                events.append("receiver ended")

        async def sender() -> None:
            try:
                async for message in outbox:
                    await websocket.send(message)
            finally:
                events.append("sender ended")
                ended.set()

        websocket.nursery.start_soon(receiver)
        websocket.nursery.start_soon(sender)
        while "receiver ended" not in events:
            await trio.sleep(0.01)
        # Returning ends the connection: the sender, still waiting, is cancelled.

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/rooms/blue") as ws:
            await ws.send("hello")
            assert await ws.receive() == "/rooms/blue: hello"
            await ws.send("stop")
            assert await ws.receive() == "/rooms/blue: stop"
            with pytest.raises(WebsocketDisconnectError) as info:
                await ws.receive()
        await ended.wait()
    assert info.value.code == 1000
    assert events == ["receiver ended", "sender ended"]


async def test_an_error_in_a_nursery_task_is_handled_as_the_handlers() -> None:
    app = make_app(testing=False)
    cancelled: list[str] = []

    @app.errorhandler(ValueError)
    async def conflict(error: ValueError) -> Any:
        return str(error), 409

    async def failing(error: Exception) -> None:
        raise error

    @app.websocket("/handled")
    async def handled() -> None:
        await websocket.accept()
        websocket.nursery.start_soon(failing, ValueError("taken"))
        try:
            await trio.sleep_forever()
        finally:
            cancelled.append("handled")

    @app.websocket("/unhandled")
    async def unhandled() -> None:
        await websocket.accept()
        websocket.nursery.start_soon(failing, RuntimeError("bug"))
        await trio.sleep_forever()

    @app.websocket("/denied")
    async def denied() -> None:
        websocket.nursery.start_soon(failing, ValueError("before accept"))
        await trio.sleep_forever()

    assert await close_of(app, "/handled") == (4409, "Conflict")
    assert cancelled == ["handled"]
    assert (await close_of(app, "/unhandled"))[0] == 1011
    response = await denial(app, "/denied")
    assert response.status_code == 409
    assert await response.get_data() == b"before accept"


async def test_client_disconnect_cancels_the_handler_and_its_tasks_promptly() -> None:
    app = make_app()
    events: list[str] = []
    started = trio.Event()

    @app.websocket("/ws")
    async def handler() -> None:
        async def ticker() -> None:
            try:
                while True:
                    await websocket.send("tick")
                    await trio.sleep(0.01)
            finally:
                events.append("ticker cancelled")

        websocket.nursery.start_soon(ticker)
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            events.append("handler cancelled")

    with trio.fail_after(1):
        async with app.test_client().websocket("/ws") as ws:
            await started.wait()
            assert await ws.receive() == "tick"
            # leaving the block is the client closing
    assert sorted(events) == ["handler cancelled", "ticker cancelled"]


async def test_messages_sent_before_the_client_closed_are_still_delivered() -> None:
    app = make_app()
    received: list[str | bytes] = []

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        await trio.sleep(0.1)  # the client has sent and closed by now
        async for message in websocket:
            await trio.sleep(0.01)  # working on a message is not cut short, the last included
            received.append(message)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            for message in ("a", "b", "c"):
                await ws.send(message)
            await ws.close()
    assert received == ["a", "b", "c"]


async def test_a_handler_that_never_reads_is_cancelled_after_the_drain_timeout() -> None:
    app = make_app()
    app.config["WEBSOCKET_DRAIN_TIMEOUT"] = 0.2
    times: dict[str, float] = {}

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        try:
            await trio.sleep_forever()
        finally:
            times["cancelled"] = trio.current_time()

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("never read")
            times["closed"] = trio.current_time()
            await ws.close()
    waited = times["cancelled"] - times["closed"]
    assert 0.2 <= waited < 2


# ---- the bounded inbox and limits ---------------------------------------------------------


async def test_backpressure_pulls_at_most_queue_size_plus_one() -> None:
    app = TrioQuart(__name__)
    app.config["WEBSOCKET_QUEUE_SIZE"] = 2
    pulled = 0
    pulled_before_reading: list[int] = []
    read: list[str | bytes] = []

    @app.websocket("/ws")
    async def slow() -> None:
        await websocket.accept()
        await trio.sleep(0.1)  # give the receiving task every chance to run ahead
        pulled_before_reading.append(pulled)
        async for message in websocket:
            read.append(message)

    connected = disconnected = False

    async def receive() -> dict[str, Any]:
        nonlocal pulled, connected, disconnected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        if pulled < 20:
            pulled += 1
            return {"type": "websocket.receive", "text": f"m{pulled}", "bytes": None}
        if not disconnected:
            disconnected = True
            return {"type": "websocket.disconnect", "code": 1000}
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with trio.fail_after(TIMEOUT):
        await app(websocket_scope(), receive, send)
    assert pulled_before_reading[0] <= 3
    assert read == [f"m{n}" for n in range(1, 21)]
    assert sent[0]["type"] == "websocket.accept"


async def test_a_message_over_the_size_limit_closes_with_1009() -> None:
    app = make_app()
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10
    received: list[str | bytes] = []

    @app.websocket("/ws")
    async def handler() -> None:
        async for message in websocket:
            received.append(message)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("x" * 10)
            await ws.send(b"y" * 11)
            with pytest.raises(WebsocketDisconnectError) as info:
                await ws.receive()
    assert info.value.code == 1009
    assert received == ["x" * 10]


async def test_text_message_size_counts_utf8_bytes() -> None:
    app = make_app()
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10
    received: list[str | bytes] = []

    @app.websocket("/ws")
    async def handler() -> None:
        async for message in websocket:
            received.append(message)

    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("é" * 5)  # 5 characters, 10 bytes: at the limit
            await ws.send("é" * 6)  # 6 characters, 12 bytes: over it
            with pytest.raises(WebsocketDisconnectError) as info:
                await ws.receive()
    assert info.value.code == 1009
    assert received == ["é" * 5]


# ---- errors reaching the test -------------------------------------------------------------


async def test_with_testing_an_unhandled_error_reaches_the_test_as_itself() -> None:
    app = make_app(testing=True)

    class BoomError(Exception):
        pass

    @app.websocket("/before")
    async def before_accept() -> None:
        raise BoomError("before accept")

    @app.websocket("/after")
    async def after_accept() -> None:
        await websocket.accept()
        raise BoomError("after accept")

    @app.websocket("/task")
    async def in_a_task() -> None:
        async def fail() -> None:
            raise BoomError("in a task")

        await websocket.accept()
        websocket.nursery.start_soon(fail)
        await trio.sleep_forever()

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        with pytest.raises(BoomError, match="in a task"):
            async with client.websocket("/task") as ws:
                await ws.receive()
        with pytest.raises(BoomError, match="before accept"):
            async with client.websocket("/before"):
                pass
        with pytest.raises(BoomError, match="after accept"):
            async with client.websocket("/after") as ws:
                await ws.receive()
