"""Quart-CORS on trioquart, unchanged, as its README describes it.

``cors(app_or_blueprint, ...)`` adds the access-control headers to every response of an app
or a blueprint and checks websocket origins; ``route_cors`` and ``websocket_cors`` do the
same for one route; ``cors_exempt`` takes a route out of ``cors``. Settings come from the
arguments or the ``QUART_CORS_*`` config keys. A preflight is an ``OPTIONS`` request with
``Access-Control-Request-Method`` (and maybe ``-Headers``); a websocket from an origin that
is not allowed is refused with a 400.
"""

# The extension's annotations name the real Quart's classes, which is what mypy reads; at run
# time they are trioquart's (trioquart.quart_patch), and mypy cannot know that.
# mypy: disable-error-code="arg-type, type-var"

from __future__ import annotations

import base64
import re
from datetime import timedelta

import httpx
import pytest
import trio
import trio_websocket
from quart_cors import cors, cors_exempt, route_cors, websocket_cors

from trioquart import Blueprint, TrioQuart, request, websocket
from trioquart.testing import WebsocketResponseError, serve_app

QUART = "https://quart.com"
OTHER = "https://elsewhere.example"


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


def preflight(method: str, headers: str | None = None, origin: str = QUART) -> dict[str, str]:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return sent


def upgrade_headers(origin: str) -> dict[str, str]:
    """A websocket handshake's request headers, from ``origin``."""
    return {
        "Origin": origin,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
        "Sec-WebSocket-Version": "13",
    }


async def test_a_wildcard_app_answers_any_origin_with_a_star() -> None:
    app = cors(make_app(), allow_origin="*")

    @app.get("/")
    async def index() -> str:
        return "open"

    client = app.test_client()
    with trio.fail_after(5):
        response = await client.get("/", headers={"Origin": OTHER})
        same_origin = await client.get("/")
    assert response.status_code == 200 and await response.get_data() == b"open"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Origin" not in response.vary  # the answer is the same for every origin
    # No Origin header: not a cross-origin request, so no access-control headers.
    assert "Access-Control-Allow-Origin" not in same_origin.headers


async def test_a_list_of_origins_echoes_the_allowed_one_only() -> None:
    app = cors(make_app(), allow_origin=[QUART, "https://second.example"])

    @app.get("/")
    async def index() -> str:
        return "listed"

    client = app.test_client()
    with trio.fail_after(5):
        allowed = await client.get("/", headers={"Origin": "https://second.example"})
        refused = await client.get("/", headers={"Origin": OTHER})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://second.example"
    assert "Origin" in allowed.vary
    # A disallowed origin still gets the response (CORS is the browser's to enforce), but
    # no header that would let a browser read it.
    assert refused.status_code == 200
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Origin" in refused.vary


async def test_route_cors_with_a_regex_allows_subdomains_not_the_domain() -> None:
    app = make_app()

    @app.get("/")
    @route_cors(allow_origin=re.compile(r"https:\/\/.*\.quart\.com"))
    async def index() -> str:
        return "subdomains"

    @app.get("/plain")
    async def plain() -> str:
        return "no cors here"

    client = app.test_client()
    with trio.fail_after(5):
        sub = await client.get("/", headers={"Origin": "https://api.quart.com"})
        bare = await client.get("/", headers={"Origin": QUART})
        plain_response = await client.get("/plain", headers={"Origin": "https://api.quart.com"})
    assert sub.headers["Access-Control-Allow-Origin"] == "https://api.quart.com"
    assert "Access-Control-Allow-Origin" not in bare.headers
    assert "Access-Control-Allow-Origin" not in plain_response.headers


async def test_the_readme_json_post_api_route_preflight_and_request() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    @route_cors(allow_headers=["content-type"], allow_methods=["POST"], allow_origin=[QUART])
    async def handler() -> dict[str, object]:
        data = await request.get_json()
        return {"got": data}

    client = app.test_client()
    with trio.fail_after(5):
        answer = await client.options("/", headers=preflight("POST", "content-type, x-secret"))
        posted = await client.post("/", json={"a": 1}, headers={"Origin": QUART})
        wrong_method = await client.options("/", headers=preflight("DELETE"))
    # route_cors answers OPTIONS itself, from the app's default OPTIONS response.
    assert answer.status_code == 200
    assert set(answer.allow) == {"POST", "OPTIONS"}
    assert answer.headers["Access-Control-Allow-Origin"] == QUART
    assert answer.headers["Access-Control-Allow-Methods"] == "POST"
    # Only the asked-for headers that are allowed are granted.
    assert answer.headers["Access-Control-Allow-Headers"] == "content-type"
    assert posted.status_code == 200 and await posted.get_json() == {"got": {"a": 1}}
    assert posted.headers["Access-Control-Allow-Origin"] == QUART
    assert "Access-Control-Allow-Methods" not in posted.headers  # only preflights get it
    # A method that is not allowed gets no preflight grant.
    assert "Access-Control-Allow-Methods" not in wrong_method.headers


async def test_an_app_wide_preflight_grants_methods_headers_and_max_age() -> None:
    app = cors(
        make_app(),
        allow_origin=QUART,
        allow_methods=["GET", "PUT"],
        allow_headers=["x-token", "content-type"],
        max_age=timedelta(minutes=10),
    )

    @app.route("/item", methods=["GET", "PUT"])
    async def item() -> str:
        return "item"

    client = app.test_client()
    with trio.fail_after(5):
        # The app's own automatic OPTIONS response, with the headers added after it.
        answer = await client.options("/item", headers=preflight("PUT", "x-token"))
        simple = await client.get("/item", headers={"Origin": QUART})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == QUART
    assert set(answer.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "PUT"}
    assert answer.headers["Access-Control-Allow-Headers"] == "x-token"
    assert answer.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Max-Age" not in simple.headers


async def test_credentials_and_exposed_headers() -> None:
    app = make_app()

    @app.get("/me")
    @route_cors(allow_origin=QUART, allow_credentials=True, expose_headers=["X-Total"])
    async def me() -> tuple[str, dict[str, str]]:
        return "me", {"X-Total": "3"}

    with trio.fail_after(5):
        response = await app.test_client().get("/me", headers={"Origin": QUART})
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Expose-Headers"] == "X-Total"
    assert response.headers["X-Total"] == "3"


async def test_credentials_with_a_wildcard_origin_is_an_error() -> None:
    """The README: if credential sharing is allowed the allowed origins must be specific."""
    app = cors(make_app(), allow_origin="*", allow_credentials=True)

    @app.get("/")
    async def index() -> str:
        return "never sent"

    with trio.fail_after(5), pytest.raises(ValueError, match="credentials"):
        await app.test_client().get("/", headers={"Origin": QUART})


async def test_send_origin_wildcard_off_echoes_the_origin() -> None:
    """Set through the config key: quart-cors 0.8 combines a ``send_origin_wildcard=False``
    argument with the default (True) by ``or``, so only the key can turn it off (the same
    on Quart)."""
    app = make_app()
    app.config["QUART_CORS_SEND_ORIGIN_WILDCARD"] = False
    cors(app, allow_origin="*")

    @app.get("/")
    async def index() -> str:
        return "echo"

    with trio.fail_after(5):
        response = await app.test_client().get("/", headers={"Origin": OTHER})
    assert response.headers["Access-Control-Allow-Origin"] == OTHER
    assert "Origin" in response.vary


async def test_settings_come_from_the_config_keys() -> None:
    app = make_app()
    app.config["QUART_CORS_ALLOW_ORIGIN"] = [QUART]
    app.config["QUART_CORS_MAX_AGE"] = 120
    app.config["QUART_CORS_ALLOW_METHODS"] = ["GET"]
    cors(app)

    @app.get("/")
    async def index() -> str:
        return "configured"

    client = app.test_client()
    with trio.fail_after(5):
        answer = await client.options("/", headers=preflight("GET"))
        refused = await client.get("/", headers={"Origin": OTHER})
    assert answer.headers["Access-Control-Allow-Origin"] == QUART
    assert answer.headers["Access-Control-Max-Age"] == "120"
    assert answer.headers["Access-Control-Allow-Methods"] == "GET"
    assert "Access-Control-Allow-Origin" not in refused.headers


async def test_cors_on_a_blueprint_covers_its_routes_only() -> None:
    app = make_app()
    api = cors(Blueprint("api", __name__, url_prefix="/api"), allow_origin=QUART)

    @api.get("/data")
    async def data() -> str:
        return "api data"

    @api.websocket("/feed")
    async def feed() -> None:
        await websocket.accept()
        await websocket.send("feed")

    @app.get("/page")
    async def page() -> str:
        return "page"

    app.register_blueprint(api)
    client = app.test_client()
    with trio.fail_after(5):
        in_blueprint = await client.get("/api/data", headers={"Origin": QUART})
        outside = await client.get("/page", headers={"Origin": QUART})
        async with client.websocket("/api/feed", headers={"Origin": QUART}) as connection:
            assert await connection.receive() == "feed"
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket("/api/feed", headers={"Origin": OTHER}):
                pass
    assert in_blueprint.headers["Access-Control-Allow-Origin"] == QUART
    assert "Access-Control-Allow-Origin" not in outside.headers
    assert refused.value.response.status_code == 400


async def test_websocket_cors_refuses_a_disallowed_origin_with_400() -> None:
    app = make_app()

    @app.websocket("/ws")
    @websocket_cors(allow_origin=re.compile(r"https:\/\/.*\.quart\.com"))
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(f"hello {websocket.origin}")

    client = app.test_client()
    with trio.fail_after(5):
        async with client.websocket("/ws", headers={"Origin": "https://chat.quart.com"}) as ws_:
            assert await ws_.receive() == "hello https://chat.quart.com"
        for headers in ({"Origin": QUART}, {}):  # the bare domain, and no origin at all
            with pytest.raises(WebsocketResponseError) as refused:
                async with client.websocket("/ws", headers=headers):
                    pass
            assert refused.value.response.status_code == 400


async def test_cors_exempt_leaves_a_route_and_a_websocket_alone() -> None:
    app = cors(make_app(), allow_origin=QUART)

    @app.get("/public")
    @cors_exempt
    async def public() -> str:
        return "public"

    @app.websocket("/ws")
    @cors_exempt
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("anyone")

    @app.websocket("/guarded")
    async def guarded() -> None:
        await websocket.accept()
        await websocket.send("allowed")

    client = app.test_client()
    with trio.fail_after(5):
        response = await client.get("/public", headers={"Origin": QUART})
        async with client.websocket("/ws", headers={"Origin": OTHER}) as connection:
            assert await connection.receive() == "anyone"
        async with client.websocket("/guarded", headers={"Origin": QUART}) as connection:
            assert await connection.receive() == "allowed"
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket("/guarded", headers={"Origin": OTHER}):
                pass
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" not in response.vary
    assert refused.value.response.status_code == 400


async def test_through_a_real_server() -> None:
    app = TrioQuart(__name__)
    handshakes: list[str | None] = []

    @app.before_websocket  # registered before cors's own check, so it runs first
    async def note_handshake() -> None:
        handshakes.append(websocket.origin)

    cors(app, allow_origin=[QUART], allow_methods=["GET", "POST"])

    @app.route("/api", methods=["GET", "POST"])
    async def api() -> str:
        return "served"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("live")

    with trio.fail_after(20):
        async with serve_app(app) as server:
            async with trio_websocket.open_websocket_url(
                server.ws_url + "/ws", extra_headers=[(b"origin", QUART.encode())]
            ) as connection:
                assert await connection.get_message() == "live"
            async with httpx.AsyncClient(base_url=server.url) as http:
                answer = await http.options("/api", headers=preflight("POST", "content-type"))
                got = await http.get("/api", headers={"Origin": QUART})
                # The refused handshake, sent as the plain HTTP request it is (trio-websocket
                # 0.12 leaves the socket of a rejected handshake open).
                refused = await http.get("/ws", headers=upgrade_headers(OTHER))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == QUART
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    assert answer.headers["access-control-allow-headers"] == "content-type"
    assert got.text == "served" and got.headers["access-control-allow-origin"] == QUART
    assert handshakes == [QUART, OTHER]  # both reached the app as websocket handshakes
    assert refused.status_code == 400
