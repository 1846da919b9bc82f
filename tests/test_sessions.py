"""Sessions: the signed cookie interface (keys and key rotation, permanence, the cookie
settings, refreshing), ``Vary: Cookie`` on every read, websockets, and a custom async
interface."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import flask
import pytest
import trio
import trio.lowlevel
from flask.sessions import SecureCookieSession
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from werkzeug.http import parse_date

from trioquart import Response, TrioQuart, session, websocket
from trioquart.sessions import SecureCookieSessionInterface, SessionInterface, SessionMixin
from trioquart.wrappers.request import Request
from trioquart.wrappers.websocket import Websocket


def make_app(secret_key: str | None = "the current key") -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    app.secret_key = secret_key

    @app.post("/set/<key>/<value>")
    async def set_value(key: str, value: str) -> str:
        session[key] = value
        return "set"

    @app.get("/get/<key>")
    async def get_value(key: str) -> str:
        return str(session.get(key, "-"))

    @app.post("/clear")
    async def clear() -> str:
        session.clear()
        return "cleared"

    @app.get("/untouched")
    async def untouched() -> str:
        return "no session here"

    return app


def set_cookie_of(response: Response, name: str = "session") -> SimpleCookie:
    """The parsed Set-Cookie header for ``name`` (fails if there is none)."""
    for header in response.headers.getlist("Set-Cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            return parsed
    raise AssertionError(f"no Set-Cookie for {name!r} in {response.headers}")


def raw_set_cookie(response: Response) -> str:
    (header,) = response.headers.getlist("Set-Cookie")
    return header


def serializer_for(*keys: str) -> URLSafeTimedSerializer:
    """A serializer as the cookie interface builds it, with ``keys`` (newest last)."""
    app = TrioQuart(__name__)
    app.secret_key = keys[-1]
    app.config["SECRET_KEY_FALLBACKS"] = list(keys[:-1])
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer


def vary(response: Response) -> set[str]:
    return {item.lower() for item in response.vary}


# ---- the signed cookie ----------------------------------------------------------------


async def test_session_round_trip_through_the_cookie() -> None:
    app = make_app()
    client = app.test_client()
    response = await client.post("/set/user/ada")
    cookie = set_cookie_of(response)["session"]
    assert cookie["httponly"] is True
    assert cookie["path"] == "/"
    assert cookie["expires"] == ""  # a browser-session cookie unless permanent
    # The payload is Flask's: the same serializer and salt read it back.
    assert serializer_for("the current key").loads(cookie.value) == {"user": "ada"}
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "ada"


async def test_cookie_signed_with_another_key_is_ignored() -> None:
    app = make_app()
    client = app.test_client()
    forged = serializer_for("somebody else's key").dumps({"user": "root"})
    client.set_cookie("localhost", "session", forged)
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "-"
    assert "Set-Cookie" not in response.headers  # nothing changed: nothing written


async def test_tampered_cookie_is_ignored() -> None:
    app = make_app()
    client = app.test_client()
    value = serializer_for("the current key").dumps({"user": "ada"})
    client.set_cookie("localhost", "session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "-"


async def test_expired_cookie_is_ignored() -> None:
    app = make_app()
    app.permanent_session_lifetime = timedelta(seconds=10)
    client = app.test_client()
    serializer = serializer_for("the current key")
    signed_at = int(datetime.now(UTC).timestamp()) - 20

    class EarlierSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return signed_at

    # itsdangerous timestamps the payload; one signed 20 s ago is past a 10 s lifetime.
    serializer.signer = EarlierSigner
    client.set_cookie("localhost", "session", serializer.dumps({"user": "ada"}))
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "-"

    app.permanent_session_lifetime = timedelta(seconds=60)
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "ada"


async def test_no_secret_key_gives_a_read_only_null_session() -> None:
    app = make_app(secret_key=None)
    app.testing = False
    client = app.test_client()
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "-"
    assert "Set-Cookie" not in response.headers
    response = await client.post("/set/user/ada")
    assert response.status_code == 500  # "The session is unavailable because no secret key"


async def test_clearing_the_session_deletes_the_cookie() -> None:
    app = make_app()
    client = app.test_client()
    await client.post("/set/user/ada")
    response = await client.post("/clear")
    cookie = set_cookie_of(response)["session"]
    assert cookie.value == ""
    assert cookie["expires"].startswith("Thu, 01 Jan 1970")
    assert "cookie" in vary(response)
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "-"


async def test_cookies_are_interchangeable_with_flask() -> None:
    flask_app = flask.Flask("reference")
    flask_app.secret_key = "the current key"

    @flask_app.get("/set")
    def flask_set() -> str:
        flask.session["user"] = "from flask"
        flask.session["tags"] = ("a", "b")  # the tagged serializer keeps tuples
        return "ok"

    @flask_app.get("/get")
    def flask_get() -> str:
        return repr(flask.session.get("user"))

    flask_client = flask_app.test_client()
    flask_client.get("/set")
    flask_cookie = flask_client.get_cookie("session")
    assert flask_cookie is not None

    app = make_app()

    @app.get("/tags")
    async def tags() -> str:
        return repr(session.get("tags"))

    client = app.test_client()
    client.set_cookie("localhost", "session", flask_cookie.value)
    assert await (await client.get("/get/user")).get_data(as_text=True) == "from flask"
    assert await (await client.get("/tags")).get_data(as_text=True) == "('a', 'b')"

    response = await client.post("/set/user/from-trioquart")
    flask_client.set_cookie("session", set_cookie_of(response)["session"].value)
    assert flask_client.get("/get").get_data(as_text=True) == "'from-trioquart'"


# ---- key rotation --------------------------------------------------------------------


async def test_newest_key_signs_and_fallbacks_still_verify() -> None:
    app = make_app(secret_key="new key")
    app.config["SECRET_KEY_FALLBACKS"] = ["oldest key", "old key"]
    client = app.test_client()

    # A cookie signed with a fallback key is accepted.
    client.set_cookie("localhost", "session", serializer_for("old key").dumps({"user": "ada"}))
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "ada"
    assert "Set-Cookie" not in response.headers  # reading alone does not rewrite it

    client.set_cookie("localhost", "session", serializer_for("oldest key").dumps({"user": "bob"}))
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "bob"

    # Once modified, the session is re-signed with the newest key only.
    response = await client.post("/set/role/admin")
    value = set_cookie_of(response)["session"].value
    assert serializer_for("new key").loads(value) == {"user": "bob", "role": "admin"}
    with pytest.raises(Exception, match="Signature"):
        serializer_for("oldest key").loads(value)
    with pytest.raises(Exception, match="Signature"):
        serializer_for("old key").loads(value)


async def test_a_key_dropped_from_the_fallbacks_no_longer_verifies() -> None:
    app = make_app(secret_key="new key")
    client = app.test_client()
    client.set_cookie("localhost", "session", serializer_for("old key").dumps({"user": "ada"}))
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "-"


async def test_serializer_is_cached_per_key_set_and_skipped_without_a_cookie(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(secret_key="first")
    interface = SecureCookieSessionInterface()
    app.session_interface = interface
    built: list[Any] = []
    real_init = URLSafeTimedSerializer.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(args[0])
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "__init__", counting_init)
    client = app.test_client()
    for _ in range(3):
        await client.get("/get/user")  # no cookie sent: no serializer needed
    assert built == []

    for index in range(3):
        await client.post(f"/set/n/{index}")
    assert built == [["first"]]  # built once, then reused
    first = interface.get_signing_serializer(app)
    assert first is interface.get_signing_serializer(app)

    # Rotating the key at run time takes effect on the next request.
    app.secret_key = "second"
    app.config["SECRET_KEY_FALLBACKS"] = ["first"]
    response = await client.get("/get/n")
    assert await response.get_data(as_text=True) == "2"
    assert built == [["first"], ["first", "second"]]
    assert interface.get_signing_serializer(app) is not first


# ---- permanence and refreshing -------------------------------------------------------


async def test_permanent_session_cookie_expires_after_the_lifetime() -> None:
    app = make_app()
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=3)

    @app.post("/remember")
    async def remember() -> str:
        session.permanent = True
        session["user"] = "ada"
        return "ok"

    before = datetime.now(UTC)
    response = await app.test_client().post("/remember")
    expires = parse_date(set_cookie_of(response)["session"]["expires"])
    assert expires is not None
    expected = before + timedelta(days=3)
    assert expected - timedelta(seconds=5) <= expires <= expected + timedelta(seconds=5)


async def test_permanent_session_is_refreshed_on_each_request() -> None:
    app = make_app()

    @app.post("/remember")
    async def remember() -> str:
        session.permanent = True
        session["user"] = "ada"
        return "ok"

    client = app.test_client()
    await client.post("/remember")
    # Never touched by the view, yet re-sent so its expiry moves forward.
    response = await client.get("/untouched")
    assert "Expires=" in raw_set_cookie(response)
    assert "cookie" in vary(response)

    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    response = await client.get("/untouched")
    assert "Set-Cookie" not in response.headers
    response = await client.get("/get/user")
    assert "Set-Cookie" not in response.headers
    assert await response.get_data(as_text=True) == "ada"


async def test_non_permanent_session_is_not_rewritten_when_unchanged() -> None:
    app = make_app()
    client = app.test_client()
    await client.post("/set/user/ada")
    response = await client.get("/get/user")
    assert "Set-Cookie" not in response.headers


# ---- the cookie settings ---------------------------------------------------------------


async def test_cookie_settings_shape_the_cookie() -> None:
    app = make_app()
    app.config.update(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.com",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    response = await app.test_client().post("/set/user/ada")
    header = raw_set_cookie(response)
    assert header.startswith("sid=")
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert "httponly" not in attributes
    assert "secure" in attributes
    assert "partitioned" not in attributes
    assert "Domain=example.com" in header
    assert "Path=/app" in header
    assert "SameSite=Lax" in header


async def test_partitioned_cookie() -> None:
    app = make_app()
    app.config.update(SESSION_COOKIE_PARTITIONED=True, SESSION_COOKIE_SECURE=True)
    response = await app.test_client().post("/set/user/ada")
    header = raw_set_cookie(response)
    assert "Partitioned" in header
    assert "Secure" in header


async def test_cookie_path_falls_back_to_application_root() -> None:
    app = make_app()
    app.config["APPLICATION_ROOT"] = "/prefix"
    response = await app.test_client().post("/set/user/ada")
    assert "Path=/prefix" in raw_set_cookie(response)


async def test_deleting_uses_the_same_cookie_settings() -> None:
    app = make_app()
    app.config.update(
        SESSION_COOKIE_NAME="sid", SESSION_COOKIE_DOMAIN="example.com", SESSION_COOKIE_PATH="/"
    )
    client = app.test_client()
    await client.post("/set/user/ada")
    client.set_cookie("localhost", "sid", serializer_for("the current key").dumps({"u": 1}))
    response = await client.post("/clear")
    header = raw_set_cookie(response)
    assert header.startswith("sid=;")
    assert "Domain=example.com" in header


async def test_custom_cookie_name_is_read_back() -> None:
    app = make_app()
    app.config["SESSION_COOKIE_NAME"] = "sid"
    client = app.test_client()
    await client.post("/set/user/ada")
    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "ada"


# ---- Vary: Cookie -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "read",
    [
        lambda: session.get("user"),
        lambda: session["user"] if "user" in session else None,
        lambda: list(session.keys()),
        lambda: len(session),
        lambda: session.permanent,
    ],
    ids=["get", "contains", "keys", "len", "permanent"],
)
async def test_reading_the_session_adds_vary_cookie(read: Any) -> None:
    app = make_app()

    @app.get("/read")
    async def read_view() -> str:
        read()
        return "read"

    client = app.test_client()
    # Without any session cookie ...
    response = await client.get("/read")
    assert "cookie" in vary(response)
    assert "Set-Cookie" not in response.headers
    # ... and with one.
    await client.post("/set/user/ada")
    response = await client.get("/read")
    assert "cookie" in vary(response)
    assert "Set-Cookie" not in response.headers


async def test_a_view_that_never_touches_the_session_does_not_vary_on_cookie() -> None:
    app = make_app()
    client = app.test_client()
    await client.post("/set/user/ada")
    response = await client.get("/untouched")
    assert "Vary" not in response.headers
    assert "Set-Cookie" not in response.headers


async def test_reading_in_a_hook_or_an_error_handler_counts() -> None:
    app = make_app()
    app.testing = False

    @app.before_request
    async def peek() -> None:
        if "user" in session:
            pass

    response = await app.test_client().get("/untouched")
    assert "cookie" in vary(response)

    app2 = make_app()
    app2.testing = False

    @app2.get("/boom")
    async def boom() -> str:
        raise KeyError("boom")

    @app2.errorhandler(KeyError)
    async def handle(error: KeyError) -> tuple[str, int]:
        return f"user was {session.get('user')}", 400

    response = await app2.test_client().get("/boom")
    assert response.status_code == 400
    assert "cookie" in vary(response)


async def test_reading_from_a_sync_view_counts() -> None:
    app = make_app()
    threads: list[str] = []

    @app.get("/sync")
    def sync_view() -> str:
        threads.append(threading.current_thread().name)
        return str(session.get("user"))

    response = await app.test_client().get("/sync")
    assert threads and threads[0] != threading.main_thread().name
    assert "cookie" in vary(response)


async def test_vary_keeps_other_values() -> None:
    app = make_app()

    @app.get("/both")
    async def both() -> Any:
        session.get("user")
        return "both", {"Vary": "Accept-Encoding"}

    response = await app.test_client().get("/both")
    assert vary(response) == {"accept-encoding", "cookie"}


# ---- websockets -------------------------------------------------------------------------


async def test_session_is_readable_in_a_websocket() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(str(session.get("user", "-")))

    client = app.test_client()
    await client.post("/set/user/ada")
    with trio.fail_after(5):
        async with client.websocket("/ws") as connection:
            assert await connection.receive() == "ada"

    other = app.test_client()
    with trio.fail_after(5):
        async with other.websocket("/ws") as connection:
            assert await connection.receive() == "-"


# ---- a custom, server-side interface ------------------------------------------------------


class ServerSession(SecureCookieSession):
    """A session whose data lives on the server; the cookie holds only its id."""

    def __init__(self, sid: str, initial: dict[str, Any] | None = None) -> None:
        super().__init__(initial)
        self.sid = sid


class MemorySessionInterface(SessionInterface):
    """Keeps sessions in a dict, awaiting as a real store's I/O would."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.opened = 0
        self.saved = 0
        self._next_id = 0

    async def open_session(self, app: TrioQuart, request: Request | Websocket) -> ServerSession:
        await trio.lowlevel.checkpoint()
        self.opened += 1
        sid = request.cookies.get("sid")
        if sid is not None and sid in self.store:
            return ServerSession(sid, self.store[sid])
        self._next_id += 1
        return ServerSession(f"s{self._next_id}")

    async def save_session(self, app: TrioQuart, session: SessionMixin, response: Response) -> None:
        await trio.lowlevel.checkpoint()
        self.saved += 1
        assert isinstance(session, ServerSession)
        if session.accessed:
            response.vary.add("Cookie")
        if session.modified:
            self.store[session.sid] = dict(session)
            response.set_cookie("sid", session.sid, httponly=True)


async def test_custom_async_session_interface() -> None:
    app = make_app(secret_key=None)  # a server-side store needs no signing key
    interface = MemorySessionInterface()
    app.session_interface = interface

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(session["user"])

    client = app.test_client()

    response = await client.post("/set/user/ada")
    assert raw_set_cookie(response).startswith("sid=s1;")
    assert interface.store == {"s1": {"user": "ada"}}

    response = await client.get("/get/user")
    assert await response.get_data(as_text=True) == "ada"
    assert "cookie" in vary(response)
    assert "Set-Cookie" not in response.headers
    assert (interface.opened, interface.saved) == (2, 2)

    with trio.fail_after(5):
        async with client.websocket("/ws") as connection:
            assert await connection.receive() == "ada"
    assert interface.opened == 3
    assert interface.saved == 2  # a websocket's session is not saved


def test_base_interface_methods_must_be_defined() -> None:
    """An interface missing open_session or save_session fails when it is made, not on
    the first request."""

    class Incomplete(SessionInterface):
        async def open_session(self, app: Any, request: Any) -> None:
            return None

    with pytest.raises(TypeError, match="open_session"):
        SessionInterface()  # type: ignore[abstract]
    with pytest.raises(TypeError, match="save_session"):
        Incomplete()  # type: ignore[abstract]
