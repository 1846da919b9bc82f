"""Request hooks: before/after/teardown, after_this_request, URL processors, and their order."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from trioquart import (
    Blueprint,
    Response,
    TrioQuart,
    after_this_request,
    g,
    request,
    url_for,
)


def make_app(testing: bool = True) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = testing
    return app


async def test_before_request_return_value_short_circuits_the_view() -> None:
    app = make_app()
    view_calls: list[str] = []

    @app.before_request
    async def gate() -> Any:
        if request.args.get("key") != "open":
            return "locked", 403
        return None

    @app.route("/")
    async def index() -> str:
        view_calls.append(request.path)
        return "inside"

    client = app.test_client()
    refused = await client.get("/")
    assert refused.status_code == 403
    assert await refused.get_data() == b"locked"
    assert view_calls == []

    allowed = await client.get("/", query_string={"key": "open"})
    assert await allowed.get_data() == b"inside"
    assert view_calls == ["/"]


async def test_after_request_runs_on_short_circuited_response() -> None:
    app = make_app()

    @app.before_request
    async def gate() -> str:
        return "early"

    @app.after_request
    async def stamp(response: Response) -> Response:
        response.headers["X-Stamped"] = "yes"
        return response

    @app.route("/")
    async def index() -> str:
        return "never"

    response = await app.test_client().get("/")
    assert await response.get_data() == b"early"
    assert response.headers["X-Stamped"] == "yes"


async def test_after_request_can_replace_and_modify_the_response() -> None:
    app = make_app()

    @app.after_request
    async def add_header(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"
        response.status_code = 202
        return response

    @app.route("/")
    async def index() -> str:
        return "hi"

    response = await app.test_client().get("/")
    assert response.status_code == 202
    assert response.headers["X-Frame-Options"] == "DENY"
    assert await response.get_data() == b"hi"


async def test_teardown_request_gets_the_exception_of_a_500() -> None:
    app = make_app(testing=False)
    seen: list[BaseException | None] = []

    @app.teardown_request
    async def record(exc: BaseException | None) -> None:
        seen.append(exc)

    @app.route("/boom")
    async def boom() -> str:
        raise LookupError("went wrong")

    @app.route("/fine")
    async def fine() -> str:
        return "fine"

    client = app.test_client()
    response = await client.get("/boom")
    assert response.status_code == 500
    assert len(seen) == 1
    assert isinstance(seen[0], LookupError)
    assert str(seen[0]) == "went wrong"

    assert (await client.get("/fine")).status_code == 200
    assert seen[1] is None


async def test_teardown_request_gets_none_for_a_handled_error() -> None:
    app = make_app(testing=False)
    seen: list[BaseException | None] = []

    @app.teardown_request
    async def record(exc: BaseException | None) -> None:
        seen.append(exc)

    @app.errorhandler(LookupError)
    async def handled(error: LookupError) -> tuple[str, int]:
        return "handled", 418

    @app.route("/")
    async def index() -> str:
        raise LookupError()

    response = await app.test_client().get("/")
    assert response.status_code == 418
    assert seen == [None]


async def test_after_this_request() -> None:
    app = make_app()

    @app.route("/special")
    async def special() -> str:
        @after_this_request
        async def add_cookie(response: Response) -> Response:
            response.headers["X-Once"] = "1"
            return response

        return "special"

    @app.route("/plain")
    async def plain() -> str:
        return "plain"

    client = app.test_client()
    assert (await client.get("/special")).headers["X-Once"] == "1"
    assert "X-Once" not in (await client.get("/plain")).headers


async def test_after_this_request_runs_before_after_request() -> None:
    app = make_app()
    order: list[str] = []

    @app.after_request
    async def app_after(response: Response) -> Response:
        order.append("after_request")
        return response

    @app.route("/")
    async def index() -> str:
        @after_this_request
        def once(response: Response) -> Response:  # sync: runs in a worker thread
            order.append("after_this_request")
            return response

        return "x"

    await app.test_client().get("/")
    assert order == ["after_this_request", "after_request"]


async def test_url_value_preprocessor_and_url_defaults() -> None:
    app = make_app()

    @app.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is not None:
            g.lang = values.pop("lang", None)

    @app.url_defaults
    def push_lang(endpoint: str, values: dict[str, Any]) -> None:
        if "lang" not in values and app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = g.lang

    @app.route("/<lang>/about")
    async def about() -> str:  # no lang parameter: the preprocessor took it
        return f"{g.lang} {url_for('contact')} {url_for('contact', lang='fr')}"

    @app.route("/<lang>/contact")
    async def contact() -> str:
        return "contact"

    response = await app.test_client().get("/de/about")
    assert await response.get_data() == b"de /de/contact /fr/contact"


async def test_teardown_appcontext_runs_after_each_request() -> None:
    app = make_app(testing=False)
    seen: list[tuple[str, BaseException | None]] = []

    @app.teardown_appcontext
    def close_db(exc: BaseException | None) -> None:
        seen.append((g.get("marker", "-"), exc))

    @app.route("/<marker>")
    async def index(marker: str) -> str:
        g.marker = marker
        if marker == "bad":
            raise KeyError("bad")
        return marker

    client = app.test_client()
    await client.get("/one")
    assert seen == [("one", None)]
    assert (await client.get("/bad")).status_code == 500
    assert seen[1][0] == "bad"
    assert isinstance(seen[1][1], KeyError)


async def test_teardown_appcontext_for_a_manual_app_context() -> None:
    app = make_app()
    calls: list[BaseException | None] = []
    app.teardown_appcontext(calls.append)

    async with app.app_context():
        assert calls == []
    assert calls == [None]


def _recorder(log: list[str], label: str, kind: str) -> Any:
    if kind == "before":

        async def before() -> None:
            log.append(label)

        return before
    if kind == "after":

        async def after(response: Response) -> Response:
            log.append(label)
            return response

        return after

    async def teardown(exc: BaseException | None) -> None:
        log.append(label)

    return teardown


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("before", ["app1", "app2", "outer1", "outer2", "inner1", "inner2"]),
        ("after", ["inner2", "inner1", "outer2", "outer1", "app2", "app1"]),
        ("teardown", ["inner2", "inner1", "outer2", "outer1", "app2", "app1"]),
    ],
)
async def test_hook_order_across_nested_blueprints(kind: str, expected: list[str]) -> None:
    app = make_app()
    outer = Blueprint("outer", __name__, url_prefix="/outer")
    inner = Blueprint("inner", __name__, url_prefix="/inner")
    log: list[str] = []
    register = f"{kind}_request"

    for scaffold, name in ((app, "app"), (outer, "outer"), (inner, "inner")):
        for number in (1, 2):
            getattr(scaffold, register)(_recorder(log, f"{name}{number}", kind))

    @inner.route("/")
    async def index() -> str:
        log.append("view")
        return "ok"

    outer.register_blueprint(inner)
    app.register_blueprint(outer)

    response = await app.test_client().get("/outer/inner/")
    assert response.status_code == 200
    hooks_only = [entry for entry in log if entry != "view"]
    assert hooks_only == expected
    view_at = log.index("view")
    if kind == "before":
        assert view_at == len(log) - 1
    else:
        assert view_at == 0


async def test_sibling_blueprint_hooks_do_not_run() -> None:
    app = make_app()
    first = Blueprint("first", __name__, url_prefix="/first")
    second = Blueprint("second", __name__, url_prefix="/second")
    log: list[str] = []
    second.before_request(_recorder(log, "second", "before"))

    @first.route("/")
    async def index() -> str:
        return "first"

    app.register_blueprint(first)
    app.register_blueprint(second)
    await app.test_client().get("/first/")
    assert log == []


async def test_sync_view_and_hooks_run_in_a_worker_thread_and_see_request() -> None:
    app = make_app()
    main_thread = threading.get_ident()
    seen: dict[str, Any] = {}

    @app.before_request
    def before() -> None:
        seen["before"] = (request.path, threading.get_ident() != main_thread)
        g.from_before = "set in sync hook"

    @app.after_request
    def after(response: Response) -> Response:
        seen["after"] = (request.method, threading.get_ident() != main_thread)
        response.headers["X-Sync"] = "after"
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        seen["teardown"] = request.args.get("q")

    @app.route("/sync", methods=["POST"])
    def sync_view() -> str:
        seen["view"] = threading.get_ident() != main_thread
        return f"{request.method} {request.args['q']} {g.from_before}"

    response = await app.test_client().post("/sync", query_string={"q": "v"})
    assert await response.get_data() == b"POST v set in sync hook"
    assert response.headers["X-Sync"] == "after"
    assert seen == {
        "before": ("/sync", True),
        "view": True,
        "after": ("POST", True),
        "teardown": "v",
    }
