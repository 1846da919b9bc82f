"""Routing through the in-process client: rules, converters, methods, redirects, url_for."""

from __future__ import annotations

import uuid

import pytest
from werkzeug.routing import BaseConverter

from trioquart import Blueprint, Response, TrioQuart, request, url_for


def make_app(**kwargs: object) -> TrioQuart:
    app = TrioQuart(__name__, **kwargs)  # type: ignore[arg-type]
    app.testing = True
    return app


async def test_route_with_methods() -> None:
    app = make_app()

    @app.route("/thing", methods=["GET", "POST"])
    async def thing() -> str:
        return f"thing via {request.method}"

    client = app.test_client()
    assert (await (await client.get("/thing")).get_data()) == b"thing via GET"
    assert (await (await client.post("/thing")).get_data()) == b"thing via POST"
    assert (await client.put("/thing")).status_code == 405


@pytest.mark.parametrize("verb", ["get", "post", "put", "delete", "patch"])
async def test_method_shortcut_decorators(verb: str) -> None:
    app = make_app()

    @getattr(app, verb)("/only")
    async def only() -> str:
        return request.method

    client = app.test_client()
    response = await client.open("/only", method=verb.upper())
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == verb.upper()

    other = "PATCH" if verb != "patch" else "PUT"
    assert (await client.open("/only", method=other)).status_code == 405


async def test_add_url_rule_with_endpoint_and_defaults() -> None:
    app = make_app()

    async def show(page: int) -> str:
        return f"page {page}"

    app.add_url_rule("/pages/", "pages", show, defaults={"page": 1})
    app.add_url_rule("/pages/<int:page>", "pages", show)

    client = app.test_client()
    assert await (await client.get("/pages/")).get_data() == b"page 1"
    assert await (await client.get("/pages/7")).get_data() == b"page 7"
    assert "pages" in app.view_functions


async def test_int_converter_passes_an_int_and_rejects_text() -> None:
    app = make_app()

    @app.route("/items/<int:item_id>")
    async def item(item_id: int) -> str:
        return f"{type(item_id).__name__}:{item_id + 1}"

    client = app.test_client()
    assert await (await client.get("/items/41")).get_data() == b"int:42"
    assert (await client.get("/items/forty")).status_code == 404


async def test_path_converter_keeps_slashes() -> None:
    app = make_app()

    @app.route("/files/<path:name>")
    async def files(name: str) -> str:
        return name

    response = await app.test_client().get("/files/a/b/c.txt")
    assert await response.get_data() == b"a/b/c.txt"


async def test_uuid_converter() -> None:
    app = make_app()
    seen: list[object] = []

    @app.route("/objects/<uuid:key>")
    async def objects(key: uuid.UUID) -> str:
        seen.append(key)
        return str(key)

    key = uuid.uuid4()
    client = app.test_client()
    response = await client.get(f"/objects/{key}")
    assert response.status_code == 200
    assert seen == [key]
    assert (await client.get("/objects/not-a-uuid")).status_code == 404


class CommaListConverter(BaseConverter):
    """``/tags/a,b,c`` → ``["a", "b", "c"]`` and back."""

    def to_python(self, value: str) -> list[str]:
        return value.split(",")

    def to_url(self, value: list[str]) -> str:
        return ",".join(value)


async def test_custom_converter_both_ways() -> None:
    app = make_app()
    app.url_map.converters["commas"] = CommaListConverter

    @app.route("/tags/<commas:tags>")
    async def tags(tags: list[str]) -> dict[str, object]:
        return {"tags": tags, "url": url_for("tags", tags=["x", "y"])}

    response = await app.test_client().get("/tags/red,green,blue")
    assert await response.get_json() == {"tags": ["red", "green", "blue"], "url": "/tags/x,y"}


async def test_unknown_path_is_404() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        return "index"

    response = await app.test_client().get("/missing")
    assert response.status_code == 404


async def test_wrong_method_is_405_with_allow_header() -> None:
    app = make_app()

    @app.route("/form", methods=["GET", "POST"])
    async def form() -> str:
        return "form"

    response = await app.test_client().delete("/form")
    assert response.status_code == 405
    assert set(response.allow) == {"GET", "HEAD", "POST", "OPTIONS"}


async def test_automatic_head_has_headers_but_no_body() -> None:
    app = make_app()
    calls: list[str] = []

    @app.route("/page")
    async def page() -> str:
        calls.append(request.method)
        return "twelve chars"

    response = await app.test_client().head("/page")
    assert response.status_code == 200
    assert calls == ["HEAD"]
    # The view ran and its length is announced, but no body is sent for HEAD.
    assert response.headers["Content-Length"] == "12"
    assert await response.get_data() == b""


async def test_automatic_options_lists_allowed_methods() -> None:
    app = make_app()
    called = False

    @app.route("/resource", methods=["GET", "PUT"])
    async def resource() -> str:
        nonlocal called
        called = True
        return "resource"

    response = await app.test_client().options("/resource")
    assert response.status_code == 200
    assert set(response.allow) == {"GET", "HEAD", "PUT", "OPTIONS"}
    assert not called


async def test_provide_automatic_options_off_calls_the_view() -> None:
    app = make_app()

    @app.route("/custom", methods=["OPTIONS"], provide_automatic_options=False)
    async def custom() -> tuple[str, int]:
        return "mine", 299

    response = await app.test_client().options("/custom")
    assert response.status_code == 299
    assert await response.get_data() == b"mine"


async def test_a_view_can_await_the_default_options_response() -> None:
    """``make_default_options_response`` is a coroutine needing no argument inside a request,
    as in Quart, so a view (or an extension's decorator) can build on the automatic
    answer."""
    app = make_app()

    @app.route("/own", methods=["GET", "DELETE", "OPTIONS"], provide_automatic_options=False)
    async def own() -> str | Response:
        if request.method != "OPTIONS":
            return "own"
        response = await app.make_default_options_response()
        response.headers["X-Built-On"] = "default"
        return response

    response = await app.test_client().options("/own")
    assert response.status_code == 200
    assert set(response.allow) == {"GET", "HEAD", "DELETE", "OPTIONS"}
    assert response.headers["X-Built-On"] == "default"


async def test_strict_slashes_redirects_to_the_slash_url() -> None:
    app = make_app()

    @app.route("/slash/")
    async def slash() -> str:
        return "slash"

    @app.route("/noslash")
    async def noslash() -> str:
        return "noslash"

    client = app.test_client()
    response = await client.get("/slash")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/slash/")
    assert (await client.get("/noslash/")).status_code == 404
    followed = await client.get("/slash", follow_redirects=True)
    assert await followed.get_data() == b"slash"


async def test_strict_slashes_redirect_keeps_query_string() -> None:
    app = make_app()

    @app.route("/slash/")
    async def slash() -> str:
        return request.args["q"]

    response = await app.test_client().get("/slash", query_string={"q": "kept"})
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/slash/?q=kept")


async def test_url_for_plain_and_with_query_args() -> None:
    app = make_app()

    @app.route("/users/<name>")
    async def user(name: str) -> str:
        return name

    @app.route("/")
    async def index() -> dict[str, str]:
        return {
            "plain": url_for("user", name="ann"),
            "query": url_for("user", name="ann", tab="posts", page=2),
            "external": url_for("user", name="ann", _external=True),
            "anchor": url_for("user", name="ann", _anchor="bio section"),
        }

    data = await (await app.test_client().get("/")).get_json()
    assert data["plain"] == "/users/ann"
    assert data["query"] in {"/users/ann?tab=posts&page=2", "/users/ann?page=2&tab=posts"}
    assert data["external"] == "http://localhost/users/ann"
    assert data["anchor"] == "/users/ann#bio%20section"


async def test_url_for_blueprint_relative_endpoint() -> None:
    app = make_app()
    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @bp.route("/cart")
    async def cart() -> str:
        return "cart"

    @bp.route("/")
    async def home() -> str:
        return url_for(".cart")

    @app.route("/cart")
    async def app_cart() -> str:
        return "app cart"

    app.register_blueprint(bp)
    response = await app.test_client().get("/shop/")
    assert await response.get_data() == b"/shop/cart"


async def test_url_for_dot_endpoint_in_app_view_is_app_level() -> None:
    app = make_app()

    @app.route("/target")
    async def target() -> str:
        return "t"

    @app.route("/")
    async def index() -> str:
        return url_for(".target")

    assert await (await app.test_client().get("/")).get_data() == b"/target"


async def test_url_for_outside_request_uses_server_name() -> None:
    app = make_app()
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/about")
    async def about() -> str:
        return "about"

    async with app.app_context():
        assert url_for("about") == "http://example.com/about"
        assert url_for("about", _external=False) == "/about"


async def test_url_for_outside_request_without_server_name_fails() -> None:
    app = make_app()

    @app.route("/about")
    async def about() -> str:
        return "about"

    async with app.app_context():
        with pytest.raises(RuntimeError):
            url_for("about")


async def test_subdomain_matching() -> None:
    app = make_app(subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/", subdomain="<user>")
    async def user_home(user: str) -> str:
        return f"home of {user}"

    @app.route("/", subdomain="api")
    async def api_home() -> str:
        return "api"

    @app.route("/")
    async def main() -> str:
        return "main"

    client = app.test_client()
    assert await (await client.get("/", subdomain="alice")).get_data() == b"home of alice"
    assert await (await client.get("/", subdomain="api")).get_data() == b"api"
    assert await (await client.get("/")).get_data() == b"main"


async def test_url_for_with_subdomain_is_external() -> None:
    app = make_app(subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/profile", subdomain="<user>")
    async def profile(user: str) -> str:
        return user

    @app.route("/")
    async def main() -> str:
        return url_for("profile", user="bob")

    response = await app.test_client().get("/")
    assert await response.get_data() == b"http://bob.example.com/profile"


async def test_host_matching() -> None:
    # With host matching, the static route needs a host of its own (as in Flask).
    app = make_app(host_matching=True, static_host="static.test")

    @app.route("/", host="one.test")
    async def one() -> str:
        return "one"

    @app.route("/", host="<name>.other.test")
    async def other(name: str) -> str:
        return f"other {name}"

    client = app.test_client()
    assert await (await client.get("/", headers={"Host": "one.test"})).get_data() == b"one"
    response = await client.get("/", headers={"Host": "x.other.test"})
    assert await response.get_data() == b"other x"
    assert (await client.get("/", headers={"Host": "nowhere.test"})).status_code == 404


async def test_repeated_matches_come_out_the_same_and_fresh() -> None:
    app = make_app()
    seen: list[object] = []

    @app.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, object] | None) -> None:
        if values is not None and "lang" in values:
            seen.append(values.pop("lang"))  # changes this request's view_args only

    @app.get("/<lang>/items/<int:item>")
    async def item(item: int) -> str:
        return f"{item}:{sorted(request.view_args)}"

    client = app.test_client()
    for _ in range(3):
        response = await client.get("/en/items/7")
        assert await response.get_data() == b"7:['item']"
    assert seen == ["en", "en", "en"]
    assert await (await client.get("/fr/items/8")).get_data() == b"8:['item']"
    assert (await client.get("/en/items/x")).status_code == 404
    assert (await client.get("/en/items/x")).status_code == 404
    assert (await client.post("/en/items/7")).status_code == 405


async def test_a_custom_converter_runs_for_every_request() -> None:
    app = make_app()
    lookups: list[str] = []

    class UserConverter(BaseConverter):
        def to_python(self, value: str) -> dict[str, str]:
            lookups.append(value)  # say, a database lookup: it must not be remembered
            return {"name": value}

    app.url_map.converters["user"] = UserConverter

    @app.get("/users/<user:user>")
    async def show(user: dict[str, str]) -> str:
        user["seen"] = "yes"  # a handler may change what it was given
        return user["name"]

    client = app.test_client()
    for _ in range(3):
        assert await (await client.get("/users/ada")).get_data() == b"ada"
    assert lookups == ["ada", "ada", "ada"]


async def test_a_rule_added_later_is_matched() -> None:
    app = make_app()

    @app.get("/<path:anything>")
    async def catch_all(anything: str) -> str:
        return f"catch-all {anything}"

    client = app.test_client()
    assert await (await client.get("/special")).get_data() == b"catch-all special"
    # Flask forbids setup after the first request; the map itself still takes rules.
    from werkzeug.routing import Rule

    async def special() -> str:
        return "special"

    app.url_map.add(Rule("/special", endpoint="special"))
    app.view_functions["special"] = special
    assert await (await client.get("/special")).get_data() == b"special"


async def test_werkzeug_matches_a_url_once_and_the_next_requests_reuse_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from werkzeug.routing import MapAdapter

    app = make_app()
    calls: list[str] = []
    original = MapAdapter.match

    def counting(self: MapAdapter, *args: object, **kwargs: object) -> object:
        calls.append(self.path_info)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MapAdapter, "match", counting)

    @app.get("/items/<int:item>")
    async def item(item: int) -> str:
        return str(item)

    client = app.test_client()
    for _ in range(3):
        assert await (await client.get("/items/7")).get_data() == b"7"
    assert await (await client.get("/items/8")).get_data() == b"8"
    for _ in range(2):
        assert (await client.get("/missing")).status_code == 404
    assert calls == ["/items/7", "/items/8", "/missing", "/missing"]
