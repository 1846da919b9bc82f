"""What a view may return, and the response helpers: make_response, jsonify, redirect, abort,
error handlers, cookies, streaming bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio
import trio.lowlevel
import werkzeug.wrappers
from werkzeug.exceptions import Forbidden, HTTPException, NotFound

from trioquart import (
    Response,
    TrioQuart,
    abort,
    jsonify,
    make_response,
    redirect,
    request,
)
from trioquart.testing import WebsocketResponseError


def make_app(testing: bool = True) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = testing
    return app


async def fetch(app: TrioQuart, path: str = "/", **kwargs: Any) -> Response:
    return await app.test_client().get(path, **kwargs)


def returning(value: Any) -> TrioQuart:
    """An app whose ``/`` view returns ``value()`` (a callable, so each request is fresh)."""
    app = make_app()

    @app.route("/")
    async def index() -> Any:
        return value()

    return app


@pytest.mark.parametrize(
    ("value", "status", "content_type", "body"),
    [
        (lambda: "héllo", 200, "text/html; charset=utf-8", "héllo".encode()),
        (lambda: b"\x00raw", 200, "text/html; charset=utf-8", b"\x00raw"),
        (lambda: {"value": "json"}, 200, "application/json", b'{"value":"json"}\n'),
        (lambda: ["a", 2], 200, "application/json", b'["a",2]\n'),
        (lambda: ("created", 201), 201, "text/html; charset=utf-8", b"created"),
        (lambda: ({"id": 5}, 201), 201, "application/json", b'{"id":5}\n'),
        (lambda: ("teapot", "418 I'M A TEAPOT"), 418, "text/html; charset=utf-8", b"teapot"),
        (
            lambda: Response("custom", status=202, mimetype="text/plain"),
            202,
            "text/plain; charset=utf-8",
            b"custom",
        ),
        (
            lambda: werkzeug.wrappers.Response("from werkzeug", status=203, mimetype="text/csv"),
            203,
            "text/csv; charset=utf-8",
            b"from werkzeug",
        ),
        (lambda: (Response("override"), 205), 205, "text/html; charset=utf-8", b"override"),
    ],
    ids=[
        "str",
        "bytes",
        "dict",
        "list",
        "str-status",
        "dict-status",
        "status-string",
        "Response",
        "werkzeug-Response",
        "Response-status",
    ],
)
async def test_view_return_values(value: Any, status: int, content_type: str, body: bytes) -> None:
    response = await fetch(returning(value))
    assert response.status_code == status
    assert response.content_type == content_type
    assert await response.get_data() == body


async def test_body_and_headers_tuple() -> None:
    response = await fetch(returning(lambda: ("with headers", {"X-One": "1"})))
    assert response.status_code == 200
    assert response.headers["X-One"] == "1"
    assert await response.get_data() == b"with headers"


async def test_body_and_header_list_tuple() -> None:
    response = await fetch(returning(lambda: ("listed", [("X-Two", "2"), ("X-Two", "3")])))
    assert response.headers.getlist("X-Two") == ["2", "3"]


async def test_body_status_headers_tuple() -> None:
    response = await fetch(returning(lambda: ("all three", 201, {"X-Three": "3"})))
    assert response.status_code == 201
    assert response.headers["X-Three"] == "3"
    assert await response.get_data() == b"all three"


async def test_werkzeug_response_keeps_its_headers() -> None:
    def make() -> werkzeug.wrappers.Response:
        response = werkzeug.wrappers.Response("wz")
        response.headers["X-Werkzeug"] = "yes"
        response.set_cookie("wz", "1")
        return response

    response = await fetch(returning(make))
    assert response.headers["X-Werkzeug"] == "yes"
    assert "wz=1" in response.headers["Set-Cookie"]


async def test_none_raises_type_error_when_testing() -> None:
    with pytest.raises(TypeError):
        await fetch(returning(lambda: None))


async def test_none_is_a_500_when_not_testing() -> None:
    app = make_app(testing=False)

    @app.route("/")
    async def index() -> None:
        return None

    assert (await fetch(app)).status_code == 500


async def test_invalid_tuple_length_raises_type_error() -> None:
    with pytest.raises(TypeError):
        await fetch(returning(lambda: ("a", 200, {}, "extra")))


async def test_async_generator_is_streamed() -> None:
    async def chunks() -> AsyncIterator[str | bytes]:
        yield "Hello "
        yield b"World"

    response = await fetch(returning(chunks))
    assert await response.get_data() == b"Hello World"


async def test_async_generator_with_many_chunks() -> None:
    async def chunks() -> AsyncIterator[str]:
        for number in range(200):
            await trio.lowlevel.checkpoint()
            yield f"{number},"

    response = await fetch(returning(chunks))
    assert await response.get_data() == "".join(f"{n}," for n in range(200)).encode()


async def test_async_generator_chunks_arrive_before_it_finishes() -> None:
    app = make_app()
    go_on = trio.Event()

    @app.route("/")
    async def index() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            await go_on.wait()
            yield b"second"

        return chunks()

    async with app.test_client().request("/") as connection:
        with trio.fail_after(2):
            assert await connection.receive() == b"first"
        go_on.set()
        with trio.fail_after(2):
            assert await connection.receive() == b"second"
            assert await connection.receive() == b""
        assert connection.status_code == 200


async def test_sync_generator_is_streamed() -> None:
    def chunks() -> Iterator[str]:
        for letter in "abc":
            yield letter * 2

    response = await fetch(returning(chunks))
    assert await response.get_data() == b"aabbcc"


class Countdown:
    """An async iterable that is not a generator: yields b"3", b"2", b"1"."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __aiter__(self) -> Countdown._Iterator:
        return Countdown._Iterator(self.start)

    class _Iterator:
        def __init__(self, current: int) -> None:
            self.current = current

        def __aiter__(self) -> Countdown._Iterator:
            return self

        async def __anext__(self) -> bytes:
            if self.current == 0:
                raise StopAsyncIteration
            await trio.lowlevel.checkpoint()
            value = str(self.current).encode()
            self.current -= 1
            return value


async def test_custom_async_iterable_is_streamed() -> None:
    response = await fetch(returning(lambda: Countdown(3)))
    assert response.status_code == 200
    assert await response.get_data() == b"321"


async def test_custom_async_iterable_in_a_response_object() -> None:
    response = await fetch(returning(lambda: Response(Countdown(4), mimetype="text/plain")))
    assert response.mimetype == "text/plain"
    assert await response.get_data() == b"4321"


async def test_make_response_helper() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> Response:
        response = await make_response("made", 201)
        response.headers["X-Made"] = "yes"
        return response

    @app.route("/json")
    async def json_view() -> Response:
        response = await make_response({"k": "v"})
        assert isinstance(response, Response)
        return response

    @app.route("/empty")
    async def empty() -> Response:
        return await make_response()

    client = app.test_client()
    response = await client.get("/")
    assert (response.status_code, response.headers["X-Made"]) == (201, "yes")
    assert await response.get_data() == b"made"
    assert await (await client.get("/json")).get_json() == {"k": "v"}
    response = await client.get("/empty")
    assert (response.status_code, await response.get_data()) == (200, b"")


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (({"a": 1},), {}, {"a": 1}),
        ((), {"name": "x", "n": 2}, {"name": "x", "n": 2}),
        ((1, 2, 3), {}, [1, 2, 3]),
        (("only",), {}, "only"),
    ],
)
async def test_jsonify(args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any) -> None:
    app = make_app()

    @app.route("/")
    async def index() -> Response:
        return jsonify(*args, **kwargs)

    response = await fetch(app)
    assert response.mimetype == "application/json"
    body = await response.get_data()
    assert body.endswith(b"\n")
    assert await response.get_json() == expected


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirect(code: int) -> None:
    app = make_app()

    @app.route("/")
    async def index() -> Response:
        return redirect("/elsewhere?x=1", code)

    response = await fetch(app)
    assert response.status_code == code
    assert response.headers["Location"] == "/elsewhere?x=1"


async def test_abort_with_code_and_description() -> None:
    app = make_app()

    @app.route("/missing")
    async def missing() -> str:
        abort(404)

    @app.route("/forbidden")
    async def forbidden() -> str:
        abort(403, "No entry for you")

    client = app.test_client()
    assert (await client.get("/missing")).status_code == 404
    response = await client.get("/forbidden")
    assert response.status_code == 403
    assert b"No entry for you" in await response.get_data()


async def test_abort_with_a_response() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        abort(Response("short and stout", status=418, headers={"X-Pot": "tea"}))

    response = await fetch(app)
    assert response.status_code == 418
    assert response.headers["X-Pot"] == "tea"
    assert await response.get_data() == b"short and stout"


async def test_error_handler_by_code() -> None:
    app = make_app()

    @app.errorhandler(404)
    async def not_found(error: NotFound) -> tuple[dict[str, Any], int]:
        return {"error": error.code, "path": request.path}, 404

    @app.errorhandler(409)
    async def conflict(error: HTTPException) -> tuple[str, int]:
        return "conflict!", 409

    @app.route("/conflict")
    async def make_conflict() -> str:
        abort(409)

    client = app.test_client()
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert await response.get_json() == {"error": 404, "path": "/nowhere"}
    response = await client.get("/conflict")
    assert (response.status_code, await response.get_data()) == (409, b"conflict!")


async def test_error_handler_by_exception_class_uses_the_class_hierarchy() -> None:
    app = make_app()

    @app.errorhandler(LookupError)
    async def lookup(error: LookupError) -> tuple[str, int]:
        return f"lookup: {type(error).__name__}", 400

    @app.errorhandler(HTTPException)
    async def any_http(error: HTTPException) -> tuple[str, int]:
        return f"http {error.code}", error.code or 500

    @app.route("/key")
    async def key() -> str:
        raise KeyError("k")

    @app.route("/index")
    async def index_error() -> str:
        raise IndexError()

    @app.route("/forbidden")
    async def forbidden() -> str:
        raise Forbidden()

    client = app.test_client()
    assert await (await client.get("/key")).get_data() == b"lookup: KeyError"
    assert await (await client.get("/index")).get_data() == b"lookup: IndexError"
    response = await client.get("/forbidden")
    assert (response.status_code, await response.get_data()) == (403, b"http 403")


async def test_500_error_handler_for_unhandled_errors() -> None:
    app = make_app(testing=False)

    @app.errorhandler(500)
    async def server_error(error: HTTPException) -> tuple[str, int]:
        original = getattr(error, "original_exception", None)
        return f"sorry: {type(original).__name__}", 500

    @app.route("/")
    async def index() -> str:
        raise ZeroDivisionError()

    response = await fetch(app)
    assert response.status_code == 500
    assert await response.get_data() == b"sorry: ZeroDivisionError"


async def test_set_and_delete_cookie() -> None:
    app = make_app()

    @app.route("/set")
    async def set_view() -> Response:
        response = Response("set")
        response.set_cookie("flavour", "oat", max_age=60, httponly=True, path="/")
        return response

    @app.route("/delete")
    async def delete_view() -> Response:
        response = await make_response("deleted")
        response.delete_cookie("flavour")
        return response

    client = app.test_client()
    cookie = (await client.get("/set")).headers["Set-Cookie"]
    assert cookie.startswith("flavour=oat;")
    assert "Max-Age=60" in cookie
    assert "HttpOnly" in cookie

    deleted = (await client.get("/delete")).headers["Set-Cookie"]
    assert deleted.startswith("flavour=;")
    assert "Max-Age=0" in deleted


async def test_response_get_json_silent_semantics() -> None:
    app = make_app()

    @app.route("/bad")
    async def bad() -> Response:
        return Response("{not json", mimetype="application/json")

    @app.route("/text")
    async def text_view() -> Response:
        return Response('{"a": 1}', mimetype="text/plain")

    client = app.test_client()
    response = await client.get("/bad")
    assert await response.get_json(silent=True) is None
    with pytest.raises(ValueError):
        await response.get_json(silent=False)
    with pytest.raises(ValueError):
        await response.get_json()

    plain = await client.get("/text")
    assert await plain.get_json() is None
    assert await plain.get_json(force=True) == {"a": 1}


async def test_response_json_property() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> dict[str, int]:
        return {"n": 1}

    assert await (await fetch(app)).json == {"n": 1}


async def test_many_chunks_over_a_streaming_connection() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            for number in range(75):
                yield b"%d;" % number

        return chunks()

    async with app.test_client().request("/") as connection:
        with trio.fail_after(5):
            response = await connection.as_response()
    assert response.status_code == 200
    assert await response.get_data() == b"".join(b"%d;" % n for n in range(75))


class NoDefaultMimetype(Response):
    default_mimetype = None


class Created(Response):
    default_status = 201


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (Response, {}),
        (Response, {"mimetype": "application/json"}),
        (Response, {"mimetype": "text/csv"}),
        (Response, {"mimetype": "application/xml"}),
        (Response, {"content_type": "text/x-custom; charset=latin-1"}),
        (Response, {"mimetype": "text/plain", "content_type": "application/octet-stream"}),
        (Response, {"mimetype": ""}),
        (NoDefaultMimetype, {}),
        (NoDefaultMimetype, {"mimetype": "text/plain"}),
        (Created, {}),
    ],
)
@pytest.mark.parametrize("body", ["h\u00e9llo", b"bytes"])
async def test_a_body_in_memory_gets_the_headers_werkzeug_would_give_it(
    cls: type[Response], kwargs: dict[str, Any], body: str | bytes
) -> None:
    from werkzeug.sansio.response import Response as SansIOResponse

    response = cls(body, **kwargs)
    expected = type(
        "Expected",
        (SansIOResponse,),
        {"default_mimetype": cls.default_mimetype, "default_status": cls.default_status},
    )(**kwargs)
    data = body.encode() if isinstance(body, str) else body
    assert response.headers.get("Content-Type") == expected.headers.get("Content-Type")
    assert response.headers["Content-Length"] == str(len(data))
    assert (response.status, response.status_code) == (expected.status, expected.status_code)
    assert await response.get_data() == data
    again = cls(body, **kwargs)  # the second one of a kind comes from the remembered values
    assert list(again.headers.items()) == list(response.headers.items())
    assert again.status == response.status


@pytest.mark.parametrize(
    "value", ["text", b"bytes", {"kind": "dict"}], ids=["str", "bytes", "dict"]
)
async def test_an_instance_level_make_response_sees_every_view_return_value(value: Any) -> None:
    # Quart-Schema replaces make_response on the app instance and relies on being called
    # for every view return value, the common str/bytes/dict ones included.
    app = returning(lambda: value)
    seen: list[Any] = []
    original = app.make_response

    async def make_response(rv: Any) -> Response:
        seen.append(rv)
        response = await original(rv)
        response.headers["X-Made-By"] = "override"
        return response

    app.make_response = make_response  # type: ignore[method-assign]
    response = await fetch(app)
    assert seen == [value]
    assert response.headers["X-Made-By"] == "override"


async def test_a_subclass_make_response_sees_every_view_return_value() -> None:
    class App(TrioQuart):
        async def make_response(self, rv: Any) -> Response:
            response = await super().make_response(rv)
            response.headers["X-Made-By"] = "subclass"
            return response

    app = App(__name__)

    @app.route("/")
    async def index() -> str:
        return "hello"

    response = await app.test_client().get("/")
    assert response.headers["X-Made-By"] == "subclass"
    assert await response.get_data() == b"hello"


async def test_the_app_response_class_makes_string_and_dict_responses() -> None:
    class MyResponse(Response):
        default_mimetype = "text/plain"

    app = make_app()
    app.response_class = MyResponse

    @app.route("/text")
    async def text() -> str:
        return "hello"

    @app.route("/json")
    async def as_json() -> dict[str, int]:
        return {"a": 1}

    client = app.test_client()
    response = await client.get("/text")
    assert isinstance(response, MyResponse)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    response = await client.get("/json")
    assert isinstance(response, MyResponse)
    assert response.headers["Content-Type"] == "application/json"


async def test_make_response_set_on_the_app_is_used_for_every_return_value() -> None:
    # Extensions (Quart-Schema) wrap ``app.make_response`` on the instance to turn their own
    # return values into ones trioquart knows. Every view result goes through it, the plain
    # str and dict ones too, and errors answered by handlers, and websocket denials.
    app = make_app()
    seen: list[Any] = []
    original = app.make_response

    async def recording(rv: Any) -> Response:
        seen.append(rv)
        if isinstance(rv, tuple) and rv and rv[0] == "wrapped":
            rv = ("unwrapped", *rv[1:])
        return await original(rv)

    app.make_response = recording  # type: ignore[method-assign]

    @app.route("/str")
    async def text() -> str:
        return "plain"

    @app.route("/dict")
    async def mapping() -> dict[str, int]:
        return {"n": 1}

    @app.route("/tuple")
    async def pair() -> Any:
        return "wrapped", 202

    @app.route("/missing")
    async def missing() -> str:
        raise NotFound()

    @app.errorhandler(404)
    async def not_found(error: HTTPException) -> Any:
        return "handled", 404

    @app.websocket("/ws")
    async def deny() -> Any:
        return "no", 403

    client = app.test_client()
    assert await (await client.get("/str")).get_data() == b"plain"
    assert await (await client.get("/dict")).get_json() == {"n": 1}
    response = await client.get("/tuple")
    assert (response.status_code, await response.get_data()) == (202, b"unwrapped")
    assert (await client.get("/missing")).status_code == 404
    with trio.fail_after(5), pytest.raises(WebsocketResponseError) as denied:
        async with client.websocket("/ws"):
            pass
    assert denied.value.response.status_code == 403
    assert seen == ["plain", {"n": 1}, ("wrapped", 202), ("handled", 404), ("no", 403)]
