"""Contexts and globals: current_app, g, request, session, the copy decorators, test request
contexts, the request nursery, and configuration from the environment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.lowlevel

from trioquart import (
    TrioQuart,
    copy_current_app_context,
    copy_current_request_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
)


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


async def test_current_app_g_and_request_in_a_view() -> None:
    app = make_app()
    app.config["GREETING"] = "hello"

    @app.before_request
    async def load_user() -> None:
        g.user = request.headers.get("X-User", "anonymous")

    @app.route("/whoami")
    async def whoami() -> dict[str, Any]:
        return {
            "same_app": current_app._get_current_object() is app,  # type: ignore[attr-defined]
            "greeting": current_app.config["GREETING"],
            "user": g.user,
            "path": request.path,
        }

    response = await app.test_client().get("/whoami", headers={"X-User": "zoe"})
    assert await response.get_json() == {
        "same_app": True,
        "greeting": "hello",
        "user": "zoe",
        "path": "/whoami",
    }


async def test_g_is_fresh_for_each_request() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        previous = g.get("counter", 0)
        g.counter = previous + 1
        return str(g.counter)

    client = app.test_client()
    assert await (await client.get("/")).get_data() == b"1"
    assert await (await client.get("/")).get_data() == b"1"


async def test_session_persists_across_requests() -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "not-very-secret"

    @app.route("/store/<value>")
    async def store(value: str) -> str:
        session["stored"] = value
        return "stored"

    @app.route("/read")
    async def read() -> str:
        return session.get("stored", "nothing")

    client = app.test_client()
    assert await (await client.get("/read")).get_data() == b"nothing"
    response = await client.get("/store/banana")
    assert "session=" in response.headers["Set-Cookie"]
    assert await (await client.get("/read")).get_data() == b"banana"
    # Another client has its own (empty) cookie jar.
    assert await (await app.test_client().get("/read")).get_data() == b"nothing"


async def test_session_cookie_with_a_wrong_key_is_ignored() -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "first key"

    @app.route("/store")
    async def store() -> str:
        session["n"] = 1
        return "ok"

    @app.route("/read")
    async def read() -> str:
        return str(session.get("n"))

    client = app.test_client()
    await client.get("/store")
    app.config["SECRET_KEY"] = "second key"
    assert await (await client.get("/read")).get_data() == b"None"


async def test_reading_the_session_varies_on_cookie() -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "k"

    @app.route("/read")
    async def read() -> str:
        return str(session.get("x"))

    response = await app.test_client().get("/read")
    assert "Cookie" in response.vary


async def test_session_without_secret_key_cannot_be_modified() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        session["x"] = 1
        return "unreachable"

    with pytest.raises(RuntimeError):
        await app.test_client().get("/")


async def test_has_context_inside_and_outside() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> dict[str, bool]:
        return {"app": has_app_context(), "request": has_request_context()}

    assert not has_app_context()
    assert not has_request_context()
    assert await (await app.test_client().get("/")).get_json() == {"app": True, "request": True}
    assert not has_app_context()
    assert not has_request_context()

    async with app.app_context():
        assert has_app_context()
        assert not has_request_context()
    assert not has_app_context()


async def test_globals_outside_a_context_raise() -> None:
    with pytest.raises(RuntimeError):
        _ = request.path
    with pytest.raises(RuntimeError):
        _ = current_app.name
    with pytest.raises(RuntimeError):
        _ = g.anything
    with pytest.raises(RuntimeError):
        _ = session.get("x")


async def test_proxies_behave_as_the_object_they_stand_for() -> None:
    app = make_app()
    seen: dict[str, Any] = {}

    @app.get("/")
    async def index() -> str:
        from trioquart.wrappers import Request

        real = request._get_current_object()  # type: ignore[attr-defined]
        seen["isinstance"] = isinstance(request, Request)
        seen["class"] = request.__class__ is type(real)
        seen["private"] = request._nursery is real._nursery  # an underscore name: the request's
        seen["repr"] = repr(request) == repr(real)
        seen["equal"] = request == real
        seen["method"] = request.get_data.__self__ is real
        seen["missing"] = not hasattr(request, "no_such_attribute")
        seen["underscore"] = not hasattr(request, "_")
        g.answer = 42  # setting and deleting go to the object too
        seen["g set"] = g.answer == 42 and "answer" in g and g.get("answer") == 42
        del g.answer
        seen["g deleted"] = "answer" not in g
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert seen == dict.fromkeys(seen, True)
    assert len(seen) == 10


async def test_a_context_pushed_inside_itself_tears_down_once_at_the_outermost_pop() -> None:
    app = make_app()
    torn: list[str] = []

    @app.teardown_request
    async def request_done(error: BaseException | None) -> None:
        torn.append("request")

    @app.teardown_appcontext
    async def app_done(error: BaseException | None) -> None:
        torn.append("app")

    other = make_app()
    ctx = app.test_request_context("/inner")
    async with ctx:
        async with other.app_context():  # another app's context in between
            async with ctx:  # the same request context again: it pushes its app's context
                assert request.path == "/inner"
                assert current_app._get_current_object() is app  # type: ignore[attr-defined]
            assert torn == ["app"]  # only the app context pushed for the inner push
            assert current_app._get_current_object() is other  # type: ignore[attr-defined]
        assert request.path == "/inner"
        assert torn == ["app"]
    assert torn == ["app", "request", "app"]
    assert not has_request_context() and not has_app_context()

    app_ctx = app.app_context()
    async with app_ctx:
        async with app_ctx:
            g.value = 1
        assert g.value == 1
        assert torn == ["app", "request", "app"]
    assert torn == ["app", "request", "app", "app"]
    with pytest.raises(RuntimeError):
        await app_ctx.pop()


async def test_app_context_gives_current_app_and_g() -> None:
    app = make_app()
    async with app.app_context():
        assert current_app.name == app.name
        g.value = 42
        assert g.value == 42
    async with app.app_context():
        assert "value" not in g


async def test_copy_current_request_context() -> None:
    app = make_app()
    saved: list[Callable[[], Awaitable[str]]] = []

    @app.route("/origin")
    async def origin() -> str:
        @copy_current_request_context
        async def later() -> str:
            return f"{request.path}?{request.query_string.decode()} {has_request_context()}"

        saved.append(later)
        return "saved"

    await app.test_client().get("/origin?x=1")
    assert not has_request_context()
    # Run after the request is over, from a place with no context of its own.
    assert await saved[0]() == "/origin?x=1 True"
    assert not has_request_context()


async def test_copy_current_app_context_shares_g() -> None:
    app = make_app()
    saved: list[Callable[[], Awaitable[str]]] = []

    @app.route("/")
    async def index() -> str:
        g.token = "abc"

        @copy_current_app_context
        async def later() -> str:
            return f"{current_app.name} {g.token} {has_request_context()}"

        saved.append(later)
        return "saved"

    await app.test_client().get("/")
    assert not has_app_context()
    assert await saved[0]() == f"{app.name} abc False"


async def test_copy_decorators_outside_a_context_raise() -> None:
    async def func() -> None:
        pass

    with pytest.raises(RuntimeError):
        copy_current_request_context(func)
    with pytest.raises(RuntimeError):
        copy_current_app_context(func)


async def test_copy_current_request_context_inside_only_an_app_context_raises() -> None:
    app = make_app()

    async def func() -> None:
        pass

    async with app.app_context():
        with pytest.raises(RuntimeError):
            copy_current_request_context(func)
        assert copy_current_app_context(func) is not func


async def test_test_request_context() -> None:
    app = make_app()

    @app.route("/path", methods=["POST"])
    async def view() -> str:
        return "view"

    async with app.test_request_context("/path?a=1&a=2", method="POST"):
        assert has_request_context()
        assert request.method == "POST"
        assert request.path == "/path"
        assert request.args.getlist("a") == ["1", "2"]
        assert request.endpoint == "view"
        assert current_app.name == app.name
    assert not has_request_context()


async def test_test_request_context_with_body() -> None:
    app = make_app()
    async with app.test_request_context("/", method="POST", json={"k": [1, 2]}):
        assert await request.get_json() == {"k": [1, 2]}
    async with app.test_request_context("/", method="POST", form={"name": "val"}):
        assert (await request.form)["name"] == "val"


async def test_task_in_request_nursery_sees_the_request_and_g() -> None:
    app = make_app()

    @app.route("/work/<item>")
    async def work(item: str) -> dict[str, Any]:
        g.item = item
        seen: dict[str, Any] = {}
        done = trio.Event()

        async def task() -> None:
            await trio.lowlevel.checkpoint()
            seen["path"] = request.path
            seen["g"] = g.item
            seen["app"] = current_app.name
            done.set()

        request.nursery.start_soon(task)
        await done.wait()
        return seen

    response = await app.test_client().get("/work/widget")
    assert await response.get_json() == {"path": "/work/widget", "g": "widget", "app": app.name}


async def test_request_nursery_task_is_cancelled_when_the_response_is_done() -> None:
    app = make_app()
    outcome: list[str] = []

    @app.route("/")
    async def index() -> str:
        async def forever() -> None:
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                outcome.append("cancelled")
                raise

        request.nursery.start_soon(forever)
        return "done"

    with trio.fail_after(5):
        response = await app.test_client().get("/")
    assert await response.get_data() == b"done"
    assert outcome == ["cancelled"]


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("TRIOQUART_ANSWER", "42", 42),
        ("TRIOQUART_FLAG", "true", True),
        ("TRIOQUART_NAME", "plain text", "plain text"),
        ("TRIOQUART_ITEMS", '["a", "b"]', ["a", "b"]),
    ],
)
async def test_config_from_prefixed_env(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, expected: Any
) -> None:
    monkeypatch.setenv(name, raw)
    monkeypatch.setenv("OTHER_PREFIX_ANSWER", "1")
    app = make_app()
    assert app.config.from_prefixed_env() is True
    key = name.removeprefix("TRIOQUART_")
    assert app.config[key] == expected
    assert "PREFIX_ANSWER" not in app.config


async def test_config_from_prefixed_env_nested_and_custom_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIOQUART_DB__HOST", "db.local")
    monkeypatch.setenv("MYAPP_SECRET_KEY", "s3cret")
    app = make_app()
    app.config["DB"] = {"PORT": 5432}
    app.config.from_prefixed_env()
    app.config.from_prefixed_env("MYAPP")
    assert app.config["DB"] == {"PORT": 5432, "HOST": "db.local"}
    assert app.config["SECRET_KEY"] == "s3cret"
    assert app.secret_key == "s3cret"
