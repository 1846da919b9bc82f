"""Blueprints: prefixes, nesting, subdomains, renaming, app-wide hooks, error handlers."""

from __future__ import annotations

from werkzeug.exceptions import NotFound

from trioquart import Blueprint, Response, TrioQuart, abort, g, request, url_for


def make_app(**kwargs: object) -> TrioQuart:
    app = TrioQuart(__name__, **kwargs)  # type: ignore[arg-type]
    app.testing = True
    return app


async def test_url_prefix() -> None:
    app = make_app()
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    @bp.route("/users")
    async def users() -> str:
        return f"{request.endpoint} {url_for('admin.users')}"

    app.register_blueprint(bp)
    client = app.test_client()
    assert await (await client.get("/admin/users")).get_data() == b"admin.users /admin/users"
    assert (await client.get("/users")).status_code == 404


async def test_url_prefix_given_at_registration_wins() -> None:
    app = make_app()
    bp = Blueprint("api", __name__, url_prefix="/api")

    @bp.get("/ping")
    async def ping() -> str:
        return "pong"

    app.register_blueprint(bp, url_prefix="/v2")
    client = app.test_client()
    assert await (await client.get("/v2/ping")).get_data() == b"pong"
    assert (await client.get("/api/ping")).status_code == 404


async def test_nested_blueprints_join_prefixes_and_names() -> None:
    app = make_app()
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")
    grandchild = Blueprint("grandchild", __name__, url_prefix="/gc")

    @grandchild.route("/leaf")
    async def leaf() -> dict[str, object]:
        return {
            "endpoint": request.endpoint,
            "blueprint": request.blueprint,
            "blueprints": request.blueprints,
            "url": url_for(".leaf"),
        }

    @child.route("/")
    async def child_index() -> dict[str, object]:
        return {"blueprint": request.blueprint, "blueprints": request.blueprints}

    child.register_blueprint(grandchild)
    parent.register_blueprint(child)
    app.register_blueprint(parent)

    client = app.test_client()
    data = await (await client.get("/parent/child/gc/leaf")).get_json()
    assert data == {
        "endpoint": "parent.child.grandchild.leaf",
        "blueprint": "parent.child.grandchild",
        "blueprints": ["parent.child.grandchild", "parent.child", "parent"],
        "url": "/parent/child/gc/leaf",
    }
    data = await (await client.get("/parent/child/")).get_json()
    assert data == {"blueprint": "parent.child", "blueprints": ["parent.child", "parent"]}


async def test_app_route_has_no_blueprint() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> dict[str, object]:
        return {"blueprint": request.blueprint, "blueprints": request.blueprints}

    data = await (await app.test_client().get("/")).get_json()
    assert data == {"blueprint": None, "blueprints": []}


async def test_blueprint_subdomain() -> None:
    app = make_app(subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    bp = Blueprint("api", __name__, subdomain="api")

    @bp.route("/status")
    async def status() -> str:
        return "api status"

    @app.route("/status")
    async def main_status() -> str:
        return "main status"

    app.register_blueprint(bp)
    client = app.test_client()
    assert await (await client.get("/status", subdomain="api")).get_data() == b"api status"
    assert await (await client.get("/status")).get_data() == b"main status"
    assert (await client.get("/status", subdomain="www")).status_code == 404


async def test_registering_twice_under_another_name() -> None:
    app = make_app()
    bp = Blueprint("pages", __name__)

    @bp.route("/")
    async def index() -> str:
        return f"{request.blueprint}: {url_for('.index')}"

    app.register_blueprint(bp, url_prefix="/first")
    app.register_blueprint(bp, url_prefix="/second", name="second_pages")

    client = app.test_client()
    assert await (await client.get("/first/")).get_data() == b"pages: /first/"
    assert await (await client.get("/second/")).get_data() == b"second_pages: /second/"
    assert {"pages.index", "second_pages.index"} <= set(app.view_functions)


async def test_blueprint_request_hooks_are_local() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.before_request
    async def mark() -> None:
        g.marked = True

    @bp.after_request
    async def header(response: Response) -> Response:
        response.headers["X-Blueprint"] = "bp"
        return response

    @bp.route("/")
    async def bp_index() -> str:
        return str(g.get("marked", False))

    @app.route("/")
    async def app_index() -> str:
        return str(g.get("marked", False))

    app.register_blueprint(bp)
    client = app.test_client()
    inside = await client.get("/bp/")
    assert await inside.get_data() == b"True"
    assert inside.headers["X-Blueprint"] == "bp"
    outside = await client.get("/")
    assert await outside.get_data() == b"False"
    assert "X-Blueprint" not in outside.headers


async def test_app_wide_hooks_registered_by_a_blueprint() -> None:
    app = make_app()
    bp = Blueprint("tools", __name__)
    log: list[str] = []

    @bp.before_app_request
    async def before() -> None:
        log.append(f"before {request.path}")

    @bp.after_app_request
    async def after(response: Response) -> Response:
        response.headers["X-Tools"] = "on"
        return response

    @bp.teardown_app_request
    async def teardown(exc: BaseException | None) -> None:
        log.append(f"teardown {request.path}")

    @app.route("/app-view")
    async def app_view() -> str:
        return "app"

    app.register_blueprint(bp)
    response = await app.test_client().get("/app-view")
    assert response.headers["X-Tools"] == "on"
    assert log == ["before /app-view", "teardown /app-view"]


async def test_blueprint_error_handler_preferred_for_its_routes() -> None:
    app = make_app()
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @app.errorhandler(404)
    async def app_not_found(error: NotFound) -> tuple[str, int]:
        return "app 404", 404

    @app.errorhandler(ValueError)
    async def app_value_error(error: ValueError) -> tuple[str, int]:
        return "app value", 400

    @bp.errorhandler(404)
    async def bp_not_found(error: NotFound) -> tuple[str, int]:
        return "bp 404", 404

    @bp.errorhandler(ValueError)
    async def bp_value_error(error: ValueError) -> tuple[str, int]:
        return "bp value", 422

    @bp.route("/missing")
    async def bp_missing() -> str:
        abort(404)

    @bp.route("/bad")
    async def bp_bad() -> str:
        raise ValueError()

    @app.route("/missing")
    async def app_missing() -> str:
        abort(404)

    @app.route("/bad")
    async def app_bad() -> str:
        raise ValueError()

    app.register_blueprint(bp)
    client = app.test_client()

    response = await client.get("/bp/missing")
    assert (response.status_code, await response.get_data()) == (404, b"bp 404")
    response = await client.get("/bp/bad")
    assert (response.status_code, await response.get_data()) == (422, b"bp value")
    response = await client.get("/missing")
    assert (response.status_code, await response.get_data()) == (404, b"app 404")
    response = await client.get("/bad")
    assert (response.status_code, await response.get_data()) == (400, b"app value")
    # An unmatched URL has no blueprint, so the app's handler answers it.
    response = await client.get("/bp/nothing-here")
    assert await response.get_data() == b"app 404"


async def test_nested_blueprint_error_handler_falls_back_to_parent() -> None:
    app = make_app()
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")

    @parent.errorhandler(KeyError)
    async def parent_key_error(error: KeyError) -> str:
        return "handled by parent"

    @child.route("/")
    async def index() -> str:
        raise KeyError("x")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    response = await app.test_client().get("/p/c/")
    assert await response.get_data() == b"handled by parent"


async def test_app_errorhandler_from_a_blueprint() -> None:
    app = make_app()
    bp = Blueprint("errors", __name__)

    class PaymentRequiredError(Exception):
        pass

    @bp.app_errorhandler(PaymentRequiredError)
    async def pay(error: PaymentRequiredError) -> tuple[str, int]:
        return "pay first", 402

    @bp.app_errorhandler(404)
    async def not_found(error: NotFound) -> tuple[str, int]:
        return "nothing here", 404

    @app.route("/premium")
    async def premium() -> str:
        raise PaymentRequiredError()

    app.register_blueprint(bp)
    client = app.test_client()
    response = await client.get("/premium")
    assert (response.status_code, await response.get_data()) == (402, b"pay first")
    response = await client.get("/absent")
    assert (response.status_code, await response.get_data()) == (404, b"nothing here")
