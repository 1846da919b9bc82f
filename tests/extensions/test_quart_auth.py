"""Quart-Auth on trioquart, unchanged: each case is a promise of Quart-Auth's own docs (its
README, quickstart, testing, configuration, basic-auth, extending, multiple-auth and
redirect-to-login pages, and the docstrings of the installed package).

Quart-Auth's cookie is Secure by default, and the extension warns when it sets one on a
plain http request. As its configuration page advises for development, the apps here set
``QUART_AUTH_COOKIE_SECURE = False``; the default is tested on its own, over https (no
warning) and over http (the warning, asserted).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import httpx
import pytest
import trio
from quart_auth import (
    Action,
    AuthUser,
    QuartAuth,
    Unauthorized,
    authenticated_client,
    basic_auth_required,
    current_user,
    generate_auth_token,
    login_required,
    login_user,
    logout_user,
    renew_login,
)
from trio_websocket import ConnectionRejected, open_websocket_url
from werkzeug.local import LocalProxy

from trioquart import (
    Blueprint,
    Response,
    TrioQuart,
    current_app,
    redirect,
    render_template_string,
    request,
    url_for,
    websocket,
)
from trioquart.testing import TestClient, WebsocketResponseError, serve_app

from ..wire import close_client_sockets  # noqa: F401 (a fixture)

TIMEOUT = 10
COOKIE = "QUART_AUTH"
HELLO_TEMPLATE = (
    "{% if current_user.is_authenticated %}Hello logged in user {{ current_user.auth_id }}"
    "{% else %}Hello logged out user{% endif %}"
)


def make_app(*, secure_default: bool = False, **config: Any) -> TrioQuart:
    """The quickstart's cookie-mode app: log in, log out, a restricted route, a template
    that reads ``current_user``, and a restricted websocket. ``secure_default`` leaves
    ``QUART_AUTH_COOKIE_SECURE`` at its default (``True``)."""
    app = TrioQuart(__name__)
    app.testing = True  # errors in views reach the test
    app.secret_key = "the current key"
    if not secure_default:
        app.config["QUART_AUTH_COOKIE_SECURE"] = False
    app.config.update(config)
    auth_manager = QuartAuth(app)
    app.extensions["test auth manager"] = auth_manager

    @app.route("/login")
    async def login() -> str:
        remember = request.args.get("remember") == "yes"
        login_user(AuthUser(request.args.get("id", "2")), remember=remember)
        return "logged in"

    @app.route("/logout")
    async def logout() -> str:
        logout_user()
        return "logged out"

    @app.route("/renew")
    @login_required
    async def renew() -> str:
        renew_login()
        return "renewed"

    @app.route("/")
    @login_required
    async def restricted_route() -> str:
        return f"restricted for {current_user.auth_id}"

    @app.route("/whoami")
    async def whoami() -> dict[str, Any]:
        return {
            "authenticated": await current_user.is_authenticated,
            "auth_id": current_user.auth_id,
        }

    @app.route("/hello")
    async def hello() -> str:
        return await render_template_string(HELLO_TEMPLATE)

    @app.websocket("/ws")
    @login_required
    async def ws() -> None:
        await websocket.send(f"Hello {current_user.auth_id}")

    return app


def manager_of(app: TrioQuart) -> QuartAuth:
    manager = app.extensions["test auth manager"]
    assert isinstance(manager, QuartAuth)
    return manager


def set_cookie_header(response: Response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


async def text_of(response: Response) -> str:
    return (await response.get_data()).decode()


# --- Cookie mode: login_user, login_required, logout_user -------------------------------


async def test_login_required_rejects_an_anonymous_request_with_401() -> None:
    client = make_app().test_client()
    response = await client.get("/")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


async def test_login_then_restricted_route_then_logout() -> None:
    client = make_app().test_client()
    login = await client.get("/login?id=2")
    assert login.status_code == 200
    header = set_cookie_header(login)
    # The defaults of the configuration page (Secure turned off for these tests).
    assert "HttpOnly" in header and "Path=/" in header and "SameSite=Lax" in header
    assert "Secure" not in header
    assert "Max-Age" not in header and "Expires" not in header  # a session cookie

    response = await client.get("/")
    assert response.status_code == 200
    assert await text_of(response) == "restricted for 2"

    logout = await client.get("/logout")
    assert "Max-Age=0" in set_cookie_header(logout)
    assert (await client.get("/")).status_code == 401


async def test_remember_makes_the_cookie_last_for_the_configured_duration() -> None:
    client = make_app(QUART_AUTH_DURATION=3600).test_client()
    header = set_cookie_header(await client.get("/login?remember=yes"))
    assert "Max-Age=3600" in header
    assert (await client.get("/")).status_code == 200


async def test_renew_login_rewrites_the_cookie_with_the_duration() -> None:
    client = make_app(QUART_AUTH_DURATION=120).test_client()
    assert "Max-Age" not in set_cookie_header(await client.get("/login"))
    assert "Max-Age=120" in set_cookie_header(await client.get("/renew"))


async def test_current_user_is_authenticated_is_awaited() -> None:
    client = make_app().test_client()
    anonymous = await (await client.get("/whoami")).get_json()
    assert anonymous == {"authenticated": False, "auth_id": None}
    await client.get("/login?id=ada")
    assert await (await client.get("/whoami")).get_json() == {
        "authenticated": True,
        "auth_id": "ada",
    }


async def test_a_tampered_cookie_is_not_authenticated() -> None:
    client = make_app().test_client()
    token = set_cookie_header(await client.get("/login")).split(";")[0].split("=", 1)[1]
    client.set_cookie(None, COOKIE, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert (await client.get("/")).status_code == 401


async def test_current_user_in_a_template() -> None:
    client = make_app().test_client()
    assert await text_of(await client.get("/hello")) == "Hello logged out user"
    await client.get("/login?id=7")
    assert await text_of(await client.get("/hello")) == "Hello logged in user 7"


async def test_unauthorized_error_handler_redirects_to_login() -> None:
    app = make_app()

    @app.errorhandler(Unauthorized)
    async def redirect_to_login(*_: Exception) -> Response:
        return redirect(url_for("login"))

    client = app.test_client()
    response = await client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    followed = await client.get("/", follow_redirects=True)
    assert await text_of(followed) == "logged in"  # /login logged the client in
    assert await text_of(await client.get("/")) == "restricted for 2"


async def test_factory_pattern_init_app() -> None:
    auth_manager = QuartAuth()

    def create_app() -> TrioQuart:
        app = TrioQuart(__name__)
        app.testing = True
        app.secret_key = "secret"
        app.config["QUART_AUTH_COOKIE_SECURE"] = False
        auth_manager.init_app(app)

        @app.route("/login")
        async def login() -> str:
            login_user(AuthUser("3"))
            return ""

        @app.route("/")
        @login_required
        async def index() -> str:
            return str(current_user.auth_id)

        return app

    app = create_app()
    assert app.extensions["QUART_AUTH"] == [auth_manager]
    client = app.test_client()
    assert (await client.get("/")).status_code == 401
    await client.get("/login")
    assert await text_of(await client.get("/")) == "3"


# --- Websockets --------------------------------------------------------------------------


async def test_websocket_login_required_denies_an_anonymous_handshake() -> None:
    client = make_app().test_client()
    with trio.fail_after(TIMEOUT), pytest.raises(WebsocketResponseError) as denied:
        async with client.websocket("/ws"):
            pass  # pragma: no cover (the handshake fails)
    assert denied.value.response.status_code == 401


async def test_websocket_login_required_with_the_login_cookie() -> None:
    client = make_app().test_client()
    await client.get("/login?id=2")
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/ws") as ws:
            assert await ws.receive() == "Hello 2"


async def test_logging_in_over_a_websocket_is_refused() -> None:
    """The websocket page: cookies cannot be set reliably on a websocket, so login and
    logout are for requests only (``login_user`` raises outside a request context)."""
    app = make_app()

    @app.websocket("/ws-login")
    async def ws_login() -> None:
        login_user(AuthUser("2"))

    client = app.test_client()
    with trio.fail_after(TIMEOUT), pytest.raises(RuntimeError, match="request context"):
        async with client.websocket("/ws-login") as ws:
            await ws.receive()


async def test_renewing_over_a_websocket_warns_that_no_cookie_can_be_set() -> None:
    """Quart-Auth's after-websocket hook: a changed login on a websocket cannot reach the
    client, and the extension says so."""
    app = make_app()

    @app.websocket("/ws-renew")
    @login_required
    async def ws_renew() -> None:
        renew_login()
        await websocket.send("renewed")

    client = app.test_client()
    await client.get("/login")
    with (
        trio.fail_after(TIMEOUT),
        pytest.warns(UserWarning, match="The auth cookie cannot be set by the client"),
    ):
        async with client.websocket("/ws-renew") as ws:
            assert await ws.receive() == "renewed"


# --- The test helpers --------------------------------------------------------------------


async def test_authenticated_client_on_http_and_websocket_routes() -> None:
    client = make_app().test_client()
    async with authenticated_client(client, "2"):
        response = await client.get("/")
        assert response.status_code == 200
        assert await text_of(response) == "restricted for 2"
        with trio.fail_after(TIMEOUT):
            async with client.websocket("/ws") as ws:
                assert await ws.receive() == "Hello 2"
    # Leaving the block removes the cookie again.
    assert (await client.get("/")).status_code == 401


async def test_authenticated_client_with_the_secure_default() -> None:
    """``authenticated_client`` stores a Secure cookie by default; the test client sends it
    on plain http too, as Quart's does, so the testing page's example works unchanged."""
    client = make_app(secure_default=True).test_client()
    async with authenticated_client(client, "2"):
        assert await text_of(await client.get("/")) == "restricted for 2"


async def test_authenticated_client_needs_cookies() -> None:
    client = make_app().test_client(use_cookies=False)
    with pytest.raises(RuntimeError, match="cookies enabled"):
        async with authenticated_client(client, "2"):
            pass  # pragma: no cover


async def test_authenticated_client_is_for_cookie_mode_only() -> None:
    client = make_app(QUART_AUTH_MODE="bearer").test_client()
    with pytest.raises(RuntimeError, match="cookies enabled"):
        async with authenticated_client(client, "2"):
            pass  # pragma: no cover


async def test_generate_auth_token_signs_for_the_clients_app() -> None:
    client = make_app().test_client()
    assert isinstance(client, TestClient)
    assert client.cookie_jar is not None
    token = generate_auth_token(client, "9")
    assert manager_of(client.app).load_token(token, app=client.app) == "9"


# --- Secure cookies and the extension's warnings ----------------------------------------


async def test_secure_default_over_https_sets_a_secure_cookie_without_warning() -> None:
    client = make_app(secure_default=True).test_client()
    # pytest turns warnings into errors, so a warning here would fail the request.
    login = await client.get("/login", scheme="https")
    assert login.status_code == 200
    assert "Secure" in set_cookie_header(login)
    assert await text_of(await client.get("/", scheme="https")) == "restricted for 2"


async def test_secure_default_over_http_warns() -> None:
    client = make_app(secure_default=True).test_client()
    with pytest.warns(UserWarning, match="Secure cookies will be ignored on insecure requests"):
        login = await client.get("/login")
    assert "Secure" in set_cookie_header(login)


async def test_strict_samesite_on_a_redirect_warns() -> None:
    app = make_app(QUART_AUTH_COOKIE_SAMESITE="Strict")

    @app.route("/login-and-redirect")
    async def login_and_redirect() -> Response:
        login_user(AuthUser("2"))
        return redirect("/")

    client = app.test_client()
    with pytest.warns(UserWarning, match="Strict samesite cookies will be ignored on redirects"):
        response = await client.get("/login-and-redirect")
    assert response.status_code == 302
    assert "SameSite=Strict" in set_cookie_header(response)


async def test_cookie_options_from_the_configuration() -> None:
    app = make_app(
        QUART_AUTH_COOKIE_NAME="SID",
        QUART_AUTH_COOKIE_PATH="/",
        QUART_AUTH_COOKIE_DOMAIN="example.test",
        QUART_AUTH_COOKIE_HTTP_ONLY=False,
        QUART_AUTH_COOKIE_SAMESITE="Strict",
    )
    client = app.test_client()
    header = (await client.get("/login")).headers["Set-Cookie"]
    assert header.startswith("SID=")
    assert "Domain=example.test" in header and "SameSite=Strict" in header
    assert "HttpOnly" not in header
    assert await text_of(await client.get("/")) == "restricted for 2"


# --- Secret key rotation -----------------------------------------------------------------


async def test_secret_key_fallbacks_accept_tokens_signed_with_an_old_key() -> None:
    app = make_app()
    client = app.test_client()
    app.secret_key = "the old key"
    old_token = generate_auth_token(client, "2")
    app.secret_key = "the current key"

    client.set_cookie(None, COOKIE, old_token)
    assert (await client.get("/")).status_code == 401  # not without the fallback

    app.config["SECRET_KEY_FALLBACKS"] = ["the old key"]
    assert await text_of(await client.get("/")) == "restricted for 2"

    # A new login is signed with the current key: it works with no fallbacks at all.
    await client.get("/login?id=3")
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert await text_of(await client.get("/")) == "restricted for 3"


# --- Bearer mode -------------------------------------------------------------------------


def bearer_app() -> TrioQuart:
    """The quickstart's bearer-mode app: /login hands out a token."""
    app = make_app(QUART_AUTH_MODE="bearer")

    @app.route("/token")
    async def token() -> dict[str, str]:
        return {"token": manager_of(current_app).dump_token("2")}

    return app


async def test_bearer_mode_token_from_the_app() -> None:
    client = bearer_app().test_client()
    token = (await (await client.get("/token")).get_json())["token"]
    assert (await client.get("/")).status_code == 401
    response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert await text_of(response) == "restricted for 2"
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/ws", headers={"Authorization": f"bearer {token}"}) as ws:
            assert await ws.receive() == "Hello 2"


async def test_bearer_mode_generate_auth_token() -> None:
    client = bearer_app().test_client()
    token = generate_auth_token(client, "5")
    response = await client.get("/", headers={"Authorization": f"bearer {token}"})
    assert await text_of(response) == "restricted for 5"
    bad = await client.get("/", headers={"Authorization": f"bearer {token}x"})
    assert bad.status_code == 401
    not_bearer = await client.get("/", headers={"Authorization": f"Token {token}"})
    assert not_bearer.status_code == 401


async def test_bearer_mode_login_user_warns_and_sets_no_cookie() -> None:
    client = bearer_app().test_client()
    with pytest.warns(UserWarning, match="no affect in bearer mode"):
        response = await client.get("/login")
    assert "Set-Cookie" not in response.headers


# --- Basic auth --------------------------------------------------------------------------


def basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def basic_app() -> TrioQuart:
    app = make_app(
        QUART_AUTH_BASIC_USERNAME="user",
        QUART_AUTH_BASIC_PASSWORD="password",
        CUSTOM_USERNAME="admin",
        CUSTOM_PASSWORD="hunter2",
    )

    @app.route("/basic")
    @basic_auth_required()
    async def basic_route() -> str:
        return "basic ok"

    @app.route("/custom")
    @basic_auth_required(username_key="CUSTOM_USERNAME", password_key="CUSTOM_PASSWORD")
    async def custom_route() -> str:
        return "custom ok"

    @app.websocket("/basic-ws")
    @basic_auth_required()
    async def basic_ws() -> None:
        await websocket.send("basic ws ok")

    return app


async def test_basic_auth_required() -> None:
    client = basic_app().test_client()
    missing = await client.get("/basic")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].lower().startswith("basic")
    assert (await client.get("/basic", headers=basic("user", "wrong"))).status_code == 401
    assert (await client.get("/basic", headers=basic("other", "password"))).status_code == 401
    assert await text_of(await client.get("/basic", headers=basic("user", "password"))) == (
        "basic ok"
    )
    # The test client's own auth= argument builds the same header.
    assert await text_of(await client.get("/basic", auth=("user", "password"))) == "basic ok"


async def test_basic_auth_with_custom_configuration_keys() -> None:
    client = basic_app().test_client()
    assert (await client.get("/custom", auth=("user", "password"))).status_code == 401
    assert await text_of(await client.get("/custom", auth=("admin", "hunter2"))) == "custom ok"


async def test_basic_auth_on_a_websocket() -> None:
    client = basic_app().test_client()
    with trio.fail_after(TIMEOUT):
        with pytest.raises(WebsocketResponseError) as denied:
            async with client.websocket("/basic-ws", auth=("user", "wrong")):
                pass  # pragma: no cover
        assert denied.value.response.status_code == 401
        async with client.websocket("/basic-ws", auth=("user", "password")) as ws:
            assert await ws.receive() == "basic ws ok"


# --- Custom user classes (the extending page) ------------------------------------------

EMAILS = {"2": "ada@example.test", "3": "bob@example.test"}


class User(AuthUser):
    """A user whose data resolves lazily, awaited as a property."""

    def __init__(self, auth_id: str | None, action: Action = Action.PASS) -> None:
        super().__init__(auth_id, action)
        self._email: str | None = None
        self.loaded = False

    @property
    async def email(self) -> str | None:
        if not self.loaded:
            await trio.lowlevel.checkpoint()  # as a database query would
            self._email = EMAILS.get(str(self.auth_id))
            self.loaded = True
        return self._email


def user_class_app(set_on_manager: bool) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    app.secret_key = "secret"
    app.config["QUART_AUTH_COOKIE_SECURE"] = False
    if set_on_manager:
        auth_manager = QuartAuth()
        auth_manager.user_class = User
        auth_manager.init_app(app)
    else:
        QuartAuth(app, user_class=User)

    @app.route("/login/<auth_id>")
    async def login(auth_id: str) -> str:
        login_user(User(auth_id))
        return ""

    @app.route("/")
    @login_required
    async def index() -> dict[str, Any]:
        assert isinstance(current_user, User)  # the proxy stands for a User
        return {"email": await current_user.email, "class": current_user.__class__.__name__}

    @app.websocket("/ws")
    @login_required
    async def ws() -> None:
        assert isinstance(current_user, User)
        await websocket.send(str(await current_user.email))

    return app


@pytest.mark.parametrize("set_on_manager", [True, False], ids=["attribute", "argument"])
async def test_custom_user_class(set_on_manager: bool) -> None:
    client = user_class_app(set_on_manager).test_client()
    await client.get("/login/2")
    assert await (await client.get("/")).get_json() == {
        "email": "ada@example.test",
        "class": "User",
    }
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/ws") as ws:
            assert await ws.receive() == "ada@example.test"


async def test_custom_user_loaded_in_before_request_and_before_websocket() -> None:
    app = user_class_app(set_on_manager=True)
    loaded: list[str] = []

    @app.before_request
    @app.before_websocket
    async def load_full_user_data() -> None:
        if await current_user.is_authenticated:
            await current_user.email  # type: ignore[attr-defined]
            loaded.append(str(current_user.auth_id))

    @app.route("/preloaded")
    async def preloaded() -> dict[str, Any]:
        return {"loaded": current_user.loaded}  # type: ignore[attr-defined]

    client = app.test_client()
    async with authenticated_client(client, "3"):
        assert await (await client.get("/preloaded")).get_json() == {"loaded": True}
        with trio.fail_after(TIMEOUT):
            async with client.websocket("/ws") as ws:
                assert await ws.receive() == "bob@example.test"
    assert loaded == ["3", "3"]


# --- Multiple (non-singleton) auth schemes -------------------------------------------------


async def test_multiple_non_singleton_instances() -> None:
    app = TrioQuart(__name__)
    app.testing = True
    app.secret_key = "secret"
    app.config["QUART_AUTH_COOKIE_SECURE"] = False
    staff_auth = QuartAuth(
        app, attribute_name="staff", cookie_name="STAFF", salt="staff salt", singleton=False
    )
    admin_auth = QuartAuth(
        app, attribute_name="admin", cookie_name="ADMIN", salt="admin salt", singleton=False
    )
    current_staff: AuthUser = LocalProxy(staff_auth.load_user)  # type: ignore[assignment]
    current_admin: AuthUser = LocalProxy(admin_auth.load_user)  # type: ignore[assignment]

    def staff_login_required(func: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        @wraps(func)
        async def wrapper() -> Any:
            if not await current_staff.is_authenticated:
                raise Unauthorized()
            return await func()

        return wrapper

    @app.post("/staff/login")
    async def login_staff() -> str:
        staff_auth.login_user(AuthUser("2", Action.WRITE))
        return ""

    @app.route("/staff")
    @staff_login_required
    async def staff_only() -> dict[str, Any]:
        return {
            "staff": current_staff.auth_id,
            "admin": await current_admin.is_authenticated,
        }

    @app.route("/anyone")
    async def anyone() -> str:
        return str(current_user.auth_id)

    client = app.test_client()
    assert (await client.get("/staff")).status_code == 401
    response = await client.post("/staff/login")
    assert response.headers["Set-Cookie"].startswith("STAFF=")
    assert await (await client.get("/staff")).get_json() == {"staff": "2", "admin": False}
    # With no singleton instance, the global current_user has nothing to resolve against.
    with pytest.raises(RuntimeError, match="No singleton QuartAuth"):
        await client.get("/anyone")


# --- Blueprints --------------------------------------------------------------------------


async def test_blueprint_routes_websockets_and_error_handler() -> None:
    app = make_app()
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.route("/login")
    async def admin_login() -> str:
        login_user(AuthUser("root"))
        return "admin logged in"

    @admin.route("/")
    @login_required
    async def dashboard() -> str:
        return f"dashboard of {current_user.auth_id}"

    @admin.websocket("/ws")
    @login_required
    async def admin_ws() -> None:
        await websocket.send(f"admin feed for {current_user.auth_id}")

    @admin.errorhandler(Unauthorized)
    async def to_admin_login(*_: Exception) -> Response:
        return redirect(url_for("admin.admin_login"))

    app.register_blueprint(admin)
    client = app.test_client()

    denied = await client.get("/admin/")
    assert denied.status_code == 302 and denied.headers["Location"] == "/admin/login"
    assert (await client.get("/")).status_code == 401  # the app's routes: no handler
    with trio.fail_after(TIMEOUT), pytest.raises(WebsocketResponseError):
        async with client.websocket("/admin/ws"):
            pass  # pragma: no cover

    await client.get("/admin/login")
    assert await text_of(await client.get("/admin/")) == "dashboard of root"
    assert await text_of(await client.get("/")) == "restricted for root"
    with trio.fail_after(TIMEOUT):
        async with client.websocket("/admin/ws") as ws:
            assert await ws.receive() == "admin feed for root"


# --- Through a real server ---------------------------------------------------------------


@pytest.mark.usefixtures("close_client_sockets")  # trio-websocket's refused-handshake leak
async def test_through_a_real_server() -> None:
    app = make_app()
    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/")).status_code == 401
            login = await http.get("/login?id=2")
            assert login.status_code == 200
            assert http.cookies.get(COOKIE)  # httpx kept the cookie
            response = await http.get("/")
            assert response.status_code == 200 and response.text == "restricted for 2"

            with pytest.raises(ConnectionRejected) as rejected:
                async with open_websocket_url(server.ws_url + "/ws"):
                    pass  # pragma: no cover
            assert rejected.value.status_code == 401

            cookie = f"{COOKIE}={http.cookies[COOKIE]}".encode()
            async with open_websocket_url(
                server.ws_url + "/ws", extra_headers=[(b"cookie", cookie)]
            ) as ws:
                assert await ws.get_message() == "Hello 2"

            await http.get("/logout")
            assert COOKIE not in http.cookies
            assert (await http.get("/")).status_code == 401
