"""Class-based views: ``View`` and ``MethodView`` through the test client."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import pytest

from trioquart import Blueprint, TrioQuart, request
from trioquart.views import MethodView, View


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


async def text(response: Any) -> str:
    return await response.get_data(as_text=True)


async def test_view_dispatch_request_with_url_variables_and_class_arguments() -> None:
    app = make_app()

    class Greet(View):
        def __init__(self, greeting: str, punctuation: str = ".") -> None:
            self.greeting = greeting
            self.punctuation = punctuation

        async def dispatch_request(self, **kwargs: Any) -> str:
            return f"{self.greeting}, {kwargs['name']}{self.punctuation}"

    app.add_url_rule("/hello/<name>", view_func=Greet.as_view("hello", "Hello", punctuation="!"))
    response = await app.test_client().get("/hello/ada")
    assert response.status_code == 200
    assert await text(response) == "Hello, ada!"
    async with app.test_request_context():
        from trioquart import url_for

        assert url_for("hello", name="bob") == "/hello/bob"


async def test_view_function_attributes() -> None:
    class Documented(View):
        """What this view does."""

        methods = ["GET", "POST"]
        provide_automatic_options = False

        async def dispatch_request(self, **kwargs: Any) -> str:
            return "ok"

    view: Any = Documented.as_view("documented")
    assert view.__name__ == "documented"
    assert view.__doc__ == "What this view does."
    assert view.__module__ == __name__
    assert view.view_class is Documented
    assert view.methods == ["GET", "POST"]
    assert view.provide_automatic_options is False


async def test_methods_and_automatic_options() -> None:
    app = make_app()

    class Submit(View):
        methods = ["POST"]

        async def dispatch_request(self) -> str:
            return f"got {request.method}"

    class NoOptions(View):
        provide_automatic_options = False

        async def dispatch_request(self) -> str:
            return f"got {request.method}"

    app.add_url_rule("/submit", view_func=Submit.as_view("submit"))
    app.add_url_rule("/plain", view_func=NoOptions.as_view("plain"), methods=["GET", "OPTIONS"])
    client = app.test_client()
    assert await text(await client.post("/submit")) == "got POST"
    refused = await client.get("/submit")
    assert refused.status_code == 405
    options = await client.options("/submit")
    assert options.status_code == 200
    assert set(options.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    # Without automatic OPTIONS the view itself answers it.
    assert await text(await client.options("/plain")) == "got OPTIONS"


async def test_init_every_request_true_makes_an_instance_per_request() -> None:
    app = make_app()
    made: list[int] = []

    class Counter(View):
        def __init__(self) -> None:
            made.append(id(self))
            self.calls = 0

        async def dispatch_request(self) -> str:
            self.calls += 1
            return str(self.calls)

    app.add_url_rule("/count", view_func=Counter.as_view("count"))
    client = app.test_client()
    assert [await text(await client.get("/count")) for _ in range(3)] == ["1", "1", "1"]
    assert len(made) == 3


async def test_init_every_request_false_shares_one_instance() -> None:
    app = make_app()
    made: list[Any] = []

    class Counter(View):
        init_every_request = False

        def __init__(self, start: int) -> None:
            made.append(self)
            self.calls = start

        async def dispatch_request(self) -> str:
            self.calls += 1
            return str(self.calls)

    app.add_url_rule("/count", view_func=Counter.as_view("count", 10))
    assert len(made) == 1  # made by as_view, before any request
    client = app.test_client()
    assert [await text(await client.get("/count")) for _ in range(3)] == ["11", "12", "13"]
    assert len(made) == 1


async def test_decorators_wrap_the_view_function_first_innermost() -> None:
    app = make_app()
    order: list[str] = []

    def tag(label: str) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Any]]:
        def decorator(view: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
            @wraps(view)
            async def wrapper(**kwargs: Any) -> Any:
                order.append(f"{label} ({view.__name__})")
                return await view(**kwargs)

            return wrapper

        return decorator

    def require_key(view: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @wraps(view)
        async def wrapper(**kwargs: Any) -> Any:
            if request.args.get("key") != "secret":
                return "no", 403
            return await view(**kwargs)

        return wrapper

    class Guarded(View):
        decorators = [tag("inner"), tag("outer"), require_key]

        async def dispatch_request(self) -> str:
            order.append("view")
            return "inside"

    app.add_url_rule("/guarded", view_func=Guarded.as_view("guarded"))
    client = app.test_client()
    assert (await client.get("/guarded")).status_code == 403
    assert order == []
    response = await client.get("/guarded", query_string={"key": "secret"})
    assert await text(response) == "inside"
    # Decorators saw the endpoint's name, and the first listed runs closest to the view.
    assert order == ["outer (guarded)", "inner (guarded)", "view"]
    assert app.view_functions["guarded"].view_class is Guarded  # type: ignore[union-attr]


async def test_sync_dispatch_request_runs_in_a_worker_thread() -> None:
    app = make_app()
    threads: list[str] = []

    class Blocking(View):
        def dispatch_request(self) -> str:  # type: ignore[override]
            threads.append(threading.current_thread().name)
            return f"sync {request.path}"

    app.add_url_rule("/sync", view_func=Blocking.as_view("sync"))
    assert await text(await app.test_client().get("/sync")) == "sync /sync"
    assert threads and threads[0] != threading.main_thread().name


async def test_view_without_dispatch_request_fails() -> None:
    app = make_app()
    app.add_url_rule("/empty", view_func=View.as_view("empty"))
    with pytest.raises(TypeError, match="dispatch_request"):
        await app.test_client().get("/empty")


# ---- MethodView -------------------------------------------------------------------------


class ItemAPI(MethodView):
    """A small REST resource."""

    def __init__(self, store: dict[int, str]) -> None:
        self.store = store

    async def get(self, item_id: int) -> Any:
        if item_id not in self.store:
            return "missing", 404
        return {"id": item_id, "name": self.store[item_id]}

    async def put(self, item_id: int) -> Any:
        self.store[item_id] = (await request.get_json())["name"]
        return "", 204

    def delete(self, item_id: int) -> Any:  # a sync handler
        self.store.pop(item_id, None)
        return "", 204


def test_method_view_methods_come_from_its_handlers() -> None:
    assert ItemAPI.methods == {"GET", "PUT", "DELETE"}

    class WithPost(ItemAPI):
        async def post(self, item_id: int) -> str:
            return "posted"

    assert WithPost.methods == {"GET", "PUT", "DELETE", "POST"}

    class Explicit(ItemAPI):
        methods = ["GET"]

    assert Explicit.methods == ["GET"]

    class NothingYet(MethodView):
        pass

    assert NothingYet.methods is None

    class Mixin:
        async def patch(self) -> str:
            return "patched"

    class Mixed(Mixin, MethodView):
        async def get(self) -> str:
            return "got"

    assert Mixed.methods == {"GET", "PATCH"}


async def test_method_view_dispatches_by_method() -> None:
    app = make_app()
    store = {1: "one"}
    app.add_url_rule("/items/<int:item_id>", view_func=ItemAPI.as_view("item", store))
    client = app.test_client()

    response = await client.get("/items/1")
    assert await response.get_json() == {"id": 1, "name": "one"}
    assert (await client.put("/items/2", json={"name": "two"})).status_code == 204
    assert store == {1: "one", 2: "two"}
    assert (await client.delete("/items/1")).status_code == 204
    assert store == {2: "two"}
    assert (await client.get("/items/1")).status_code == 404

    refused = await client.post("/items/2")
    assert refused.status_code == 405
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


async def test_method_view_head_falls_back_to_get() -> None:
    app = make_app()
    calls: list[str] = []

    class Page(MethodView):
        async def get(self) -> str:
            calls.append(request.method)
            return "page body"

    app.add_url_rule("/page", view_func=Page.as_view("page"))
    response = await app.test_client().head("/page")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len("page body"))
    assert calls == ["HEAD"]


async def test_method_view_with_explicit_head_handler() -> None:
    app = make_app()

    class Page(MethodView):
        async def get(self) -> str:
            return "page body"

        async def head(self) -> Any:
            return "", 200, {"X-Head": "yes"}

    app.add_url_rule("/page", view_func=Page.as_view("page"))
    response = await app.test_client().head("/page")
    assert response.headers["X-Head"] == "yes"


async def test_method_allowed_by_the_route_but_not_handled_is_405() -> None:
    app = make_app()

    class ReadOnly(MethodView):
        async def get(self) -> str:
            return "read"

    app.add_url_rule("/ro", view_func=ReadOnly.as_view("ro"), methods=["GET", "POST"])
    response = await app.test_client().post("/ro")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


async def test_method_view_on_a_blueprint() -> None:
    app = make_app()
    blueprint = Blueprint("api", __name__, url_prefix="/api")

    class Ping(MethodView):
        async def get(self) -> str:
            return f"pong from {request.blueprint}"

    blueprint.add_url_rule("/ping", view_func=Ping.as_view("ping"))
    app.register_blueprint(blueprint)
    client = app.test_client()
    assert await text(await client.get("/api/ping")) == "pong from api"
    async with app.test_request_context():
        from trioquart import url_for

        assert url_for("api.ping") == "/api/ping"


async def test_method_view_decorators_and_shared_instance() -> None:
    app = make_app()
    seen: list[str] = []

    def log(view: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @wraps(view)
        async def wrapper(**kwargs: Any) -> Any:
            seen.append(request.method)
            return await view(**kwargs)

        return wrapper

    class Counter(MethodView):
        decorators = [log]
        init_every_request = False

        def __init__(self) -> None:
            self.count = 0

        async def get(self) -> str:
            return str(self.count)

        async def post(self) -> str:
            self.count += 1
            return str(self.count)

    app.add_url_rule("/counter", view_func=Counter.as_view("counter"))
    client = app.test_client()
    await client.post("/counter")
    await client.post("/counter")
    assert await text(await client.get("/counter")) == "2"
    assert seen == ["POST", "POST", "GET"]
