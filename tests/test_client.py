"""The in-process test client: verbs, request encoding, redirects, cookies, errors."""

from __future__ import annotations

import gc
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from trioquart import Response, TrioQuart, redirect, request, websocket


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


def echo_app() -> TrioQuart:
    """An app whose ``/echo`` describes the request it received."""
    app = make_app()

    @app.route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def echo() -> dict[str, Any]:
        return {
            "method": request.method,
            "args": request.args.to_dict(flat=False),
            "content_type": request.content_type,
            "data": (await request.get_data()).decode(),
            "json": await request.get_json(silent=True),
            "form": (await request.form).to_dict(flat=False),
            "header": request.headers.get("X-Test"),
        }

    return app


@pytest.mark.parametrize("verb", ["get", "post", "put", "delete", "patch"])
async def test_verbs(verb: str) -> None:
    client = echo_app().test_client()
    response = await getattr(client, verb)("/echo")
    assert response.status_code == 200
    assert (await response.get_json())["method"] == verb.upper()


async def test_head_and_options_verbs() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        return "body"

    client = app.test_client()
    head = await client.head("/")
    assert head.status_code == 200
    assert await head.get_data() == b""
    options = await client.options("/")
    assert options.status_code == 200
    assert set(options.allow) == {"GET", "HEAD", "OPTIONS"}


async def test_query_string_dict_and_in_path() -> None:
    client = echo_app().test_client()
    response = await client.get("/echo", query_string={"a": "1", "many": ["x", "y"], "sp": "a b"})
    assert (await response.get_json())["args"] == {"a": ["1"], "many": ["x", "y"], "sp": ["a b"]}
    response = await client.get("/echo?q=%C3%A9")
    assert (await response.get_json())["args"] == {"q": ["é"]}
    response = await client.get("/echo?q=é&r=Ā")  # text, not yet percent-encoded
    assert (await response.get_json())["args"] == {"q": ["é"], "r": ["Ā"]}


async def test_query_string_in_both_places_is_an_error() -> None:
    client = echo_app().test_client()
    with pytest.raises(ValueError):
        await client.get("/echo?a=1", query_string={"b": "2"})


async def test_json_argument() -> None:
    client = echo_app().test_client()
    data = await (await client.post("/echo", json={"items": [1, "two"]})).get_json()
    assert data["content_type"] == "application/json"
    assert data["json"] == {"items": [1, "two"]}


async def test_form_argument() -> None:
    client = echo_app().test_client()
    data = await (await client.post("/echo", form={"name": "Ann", "tag": "é"})).get_json()
    assert data["content_type"] == "application/x-www-form-urlencoded"
    assert data["form"] == {"name": ["Ann"], "tag": ["é"]}


async def test_data_argument_str_and_bytes() -> None:
    client = echo_app().test_client()
    data = await (await client.post("/echo", data="text body")).get_json()
    assert data["data"] == "text body"
    data = await (
        await client.put("/echo", data=b"raw", headers={"Content-Type": "application/x-thing"})
    ).get_json()
    assert (data["data"], data["content_type"]) == ("raw", "application/x-thing")


async def test_more_than_one_body_argument_is_an_error() -> None:
    client = echo_app().test_client()
    with pytest.raises(ValueError):
        await client.post("/echo", data=b"x", json={"a": 1})


async def test_headers_argument() -> None:
    client = echo_app().test_client()
    data = await (await client.get("/echo", headers={"X-Test": "present"})).get_json()
    assert data["header"] == "present"


async def test_files_argument() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> dict[str, str]:
        files = await request.files
        return {name: f"{f.filename}:{f.read().decode()}" for name, f in files.items()}

    response = await app.test_client().post(
        "/",
        files={
            "one": (io.BytesIO(b"first"), "1.txt"),
            "two": (io.BytesIO(b"second"), "2.txt"),
        },
    )
    assert await response.get_json() == {"one": "1.txt:first", "two": "2.txt:second"}


async def test_large_file_upload_leaves_no_open_file() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        return str(request.content_length)

    response = await app.test_client().post(
        "/", files={"big": (io.BytesIO(b"x" * 1_000_000), "big.bin")}
    )
    assert response.status_code == 200
    assert int(await response.get_data()) > 1_000_000
    gc.collect()


def redirecting_app() -> TrioQuart:
    app = make_app()

    @app.route("/start", methods=["GET", "POST"])
    async def start() -> Response:
        return redirect("/middle")

    @app.route("/middle", methods=["GET", "POST"])
    async def middle() -> Response:
        return redirect("/end?from=middle", 307)

    @app.route("/see-other", methods=["POST"])
    async def see_other() -> Response:
        return redirect("/end", 303)

    @app.route("/end", methods=["GET", "POST"])
    async def end() -> dict[str, Any]:
        return {
            "method": request.method,
            "args": request.args.to_dict(),
            "data": (await request.get_data()).decode(),
        }

    return app


async def test_no_redirect_following_by_default() -> None:
    client = redirecting_app().test_client()
    response = await client.get("/start")
    assert response.status_code == 302
    assert response.headers["Location"] == "/middle"


async def test_follow_redirects() -> None:
    client = redirecting_app().test_client()
    response = await client.get("/start", follow_redirects=True)
    assert response.status_code == 200
    assert await response.get_json() == {"method": "GET", "args": {"from": "middle"}, "data": ""}


async def test_303_after_post_becomes_get_without_body() -> None:
    client = redirecting_app().test_client()
    response = await client.post("/see-other", data=b"payload", follow_redirects=True)
    assert await response.get_json() == {"method": "GET", "args": {}, "data": ""}


async def test_307_keeps_method_and_body() -> None:
    client = redirecting_app().test_client()
    response = await client.post("/middle", data=b"payload", follow_redirects=True)
    assert await response.get_json() == {
        "method": "POST",
        "args": {"from": "middle"},
        "data": "payload",
    }


def cookie_app() -> TrioQuart:
    app = make_app()

    @app.route("/set/<name>/<value>")
    async def set_cookie(name: str, value: str) -> Response:
        response = Response("set")
        response.set_cookie(name, value)
        return response

    @app.route("/clear/<name>")
    async def clear_cookie(name: str) -> Response:
        response = Response("cleared")
        response.delete_cookie(name)
        return response

    @app.route("/set-and-redirect")
    async def set_and_redirect() -> Response:
        response = redirect("/show")
        response.set_cookie("via", "redirect")
        return response

    @app.route("/show")
    async def show() -> dict[str, str]:
        return dict(request.cookies)

    @app.route("/area/show")
    async def area_show() -> dict[str, str]:
        return dict(request.cookies)

    @app.route("/expire/<name>")
    async def expire_cookie(name: str) -> Response:
        response = Response("expired")
        response.set_cookie(name, "gone", expires=datetime(2000, 1, 1, tzinfo=UTC))
        return response

    return app


async def test_cookie_jar_across_requests() -> None:
    client = cookie_app().test_client()
    await client.get("/set/a/1")
    await client.get("/set/b/2")
    assert await (await client.get("/show")).get_json() == {"a": "1", "b": "2"}
    await client.get("/set/a/changed")
    await client.get("/clear/b")
    assert await (await client.get("/show")).get_json() == {"a": "changed"}


async def test_cookie_set_on_a_redirect_reaches_its_target() -> None:
    client = cookie_app().test_client()
    response = await client.get("/set-and-redirect", follow_redirects=True)
    assert await response.get_json() == {"via": "redirect"}


async def test_client_set_cookie() -> None:
    client = cookie_app().test_client()
    client.set_cookie("localhost", "preset", "yes")
    assert await (await client.get("/show")).get_json() == {"preset": "yes"}
    client.delete_cookie("localhost", "preset")
    assert await (await client.get("/show")).get_json() == {}


async def test_client_set_cookie_takes_quarts_signature() -> None:
    """Every keyword of Quart's ``set_cookie``, as test helpers pass them (Quart-Auth's
    ``authenticated_client`` names no server): a Secure cookie is sent on plain http."""
    client = cookie_app().test_client()
    client.set_cookie(
        None,
        "token",
        "abc.def",
        max_age=3600,
        path="/",
        domain=None,
        secure=True,
        httponly=True,
        samesite="Lax",
        charset="utf-8",
    )
    assert await (await client.get("/show")).get_json() == {"token": "abc.def"}
    client.delete_cookie(None, "token", path="/", domain=None)
    assert await (await client.get("/show")).get_json() == {}


async def test_client_set_cookie_path() -> None:
    client = cookie_app().test_client()
    client.set_cookie("localhost", "scoped", "yes", path="/area")
    assert await (await client.get("/show")).get_json() == {}
    assert await (await client.get("/area/show")).get_json() == {"scoped": "yes"}
    client.delete_cookie("localhost", "scoped")  # another path: a different cookie
    assert await (await client.get("/area/show")).get_json() == {"scoped": "yes"}
    client.delete_cookie("localhost", "scoped", path="/area")
    assert await (await client.get("/area/show")).get_json() == {}


@pytest.mark.parametrize(
    "lifetime",
    [
        {"max_age": 0},
        {"max_age": timedelta(seconds=-5)},
        {"expires": 0},
        {"expires": datetime(2000, 1, 1)},
        {"expires": datetime.now(UTC) - timedelta(minutes=1)},
    ],
)
async def test_client_set_cookie_already_expired_removes_it(lifetime: dict[str, Any]) -> None:
    client = cookie_app().test_client()
    client.set_cookie("localhost", "preset", "yes")
    client.set_cookie("localhost", "preset", "no", **lifetime)
    assert await (await client.get("/show")).get_json() == {}


@pytest.mark.parametrize("kind", ["max_age", "expires datetime", "expires unix time"])
async def test_client_cookie_stops_being_sent_when_it_expires(kind: str) -> None:
    lifetimes: dict[str, dict[str, Any]] = {
        "max_age": {"max_age": timedelta(seconds=1)},
        "expires datetime": {"expires": datetime.now(UTC) + timedelta(seconds=1)},
        "expires unix time": {"expires": time.time() + 1},
    }
    lifetime = lifetimes[kind]
    client = cookie_app().test_client()
    client.set_cookie("localhost", "brief", "yes", **lifetime)
    assert await (await client.get("/show")).get_json() == {"brief": "yes"}
    await trio.sleep(1.1)  # the wall clock: the jar reads time.time()
    assert await (await client.get("/show")).get_json() == {}


async def test_client_set_cookie_max_age_wins_over_expires() -> None:
    client = cookie_app().test_client()
    client.set_cookie("localhost", "kept", "yes", max_age=3600, expires=0)
    assert await (await client.get("/show")).get_json() == {"kept": "yes"}


async def test_client_set_cookie_reaches_websockets() -> None:
    app = cookie_app()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send_json(dict(websocket.cookies))

    client = app.test_client()
    client.set_cookie(None, "token", "abc", secure=True, httponly=True, samesite="Strict")
    with trio.fail_after(5):
        async with client.websocket("/ws") as connection:
            assert await connection.receive_json() == {"token": "abc"}


async def test_client_set_cookie_needs_cookies() -> None:
    client = cookie_app().test_client(use_cookies=False)
    with pytest.raises(RuntimeError, match="use_cookies=False"):
        client.set_cookie("localhost", "preset", "yes")


async def test_cookie_the_app_sets_with_a_past_expiry_removes_it() -> None:
    client = cookie_app().test_client()
    await client.get("/set/a/1")
    await client.get("/expire/a")
    assert await (await client.get("/show")).get_json() == {}


async def test_explicit_cookie_header() -> None:
    client = cookie_app().test_client(use_cookies=False)
    response = await client.get("/show", headers={"Cookie": "manual=1"})
    assert await response.get_json() == {"manual": "1"}


async def test_use_cookies_false() -> None:
    client = cookie_app().test_client(use_cookies=False)
    response = await client.get("/set/a/1")
    assert "a=1" in response.headers["Set-Cookie"]
    assert await (await client.get("/show")).get_json() == {}


class CustomError(Exception):
    pass


async def test_unhandled_error_is_raised_as_itself() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        raise CustomError("from the view")

    with pytest.raises(CustomError, match="from the view"):
        await app.test_client().get("/")


async def test_unhandled_error_in_a_sync_view_is_raised_as_itself() -> None:
    app = make_app()

    @app.route("/")
    def index() -> str:
        raise CustomError("from a thread")

    with pytest.raises(CustomError, match="from a thread"):
        await app.test_client().get("/")


async def test_unhandled_error_in_a_request_nursery_task_is_raised_as_itself() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        async def fail() -> None:
            raise CustomError("from a task")

        request.nursery.start_soon(fail)
        await trio.sleep_forever()
        return "unreachable"

    with trio.fail_after(5):
        with pytest.raises(CustomError, match="from a task"):
            await app.test_client().get("/")


async def test_unhandled_error_in_a_streaming_request_is_raised_as_itself() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        data = await request.get_data()
        raise CustomError(f"after reading {data.decode()}")

    with pytest.raises(CustomError, match="after reading data"):
        async with app.test_client().request("/", method="POST") as connection:
            await connection.send(b"da")
            await connection.send(b"ta")
            await connection.send_complete()
            with trio.fail_after(5):
                await connection.as_response()


async def test_errors_become_500_when_testing_is_off() -> None:
    app = TrioQuart(__name__)

    @app.route("/")
    async def index() -> str:
        raise CustomError()

    response = await app.test_client().get("/")
    assert response.status_code == 500


async def test_propagate_exceptions_false_gives_500_while_testing() -> None:
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    async def index() -> str:
        raise CustomError()

    assert (await app.test_client().get("/")).status_code == 500


async def test_streaming_request_declares_no_content_length() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> dict[str, Any]:
        return {
            "content_length": request.content_length,
            "body": (await request.get_data()).decode(),
        }

    async with app.test_client().request("/", method="POST") as connection:
        await connection.send(b"abc")
        await connection.send_complete()
        with trio.fail_after(5):
            response = await connection.as_response()
    assert await response.get_json() == {"content_length": None, "body": "abc"}


async def test_streaming_request_keeps_a_given_content_length() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        return str(request.content_length)

    headers = {"Content-Length": "6"}
    async with app.test_client().request("/", method="POST", headers=headers) as connection:
        await connection.send(b"abc")
        await connection.send(b"def")
        await connection.send_complete()
        with trio.fail_after(5):
            response = await connection.as_response()
    assert await response.get_data() == b"6"


async def test_response_headers_are_those_the_app_sent() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> Response:
        return Response("0123456789", headers={"X-Extra": "1"})

    client = app.test_client()
    get = await client.get("/")
    head = await client.head("/")
    assert get.headers["Content-Length"] == "10"
    assert head.headers["Content-Length"] == "10"
    assert head.headers["X-Extra"] == "1"


async def test_path_is_percent_decoded_as_a_server_does() -> None:
    app = make_app()

    @app.route("/<path:rest>")
    async def show(rest: str) -> str:
        return f"{request.path}|{rest}|{request.scope['raw_path'].decode()}"

    response = await app.test_client().get("/a%20b/%2e%2e/c")
    assert await response.get_data() == b"/a b/../c|a b/../c|/a%20b/%2e%2e/c"


async def test_streaming_request_keeps_a_given_content_type() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> Any:
        form = await request.form
        return {"type": request.mimetype, "form": form.to_dict()}

    body = b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ--\r\n'
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    async with app.test_client().request("/", method="POST", headers=headers) as connection:
        await connection.send(body)
        await connection.send_complete()
        with trio.fail_after(5):
            response = await connection.as_response()
    assert await response.get_json() == {"type": "multipart/form-data", "form": {"a": "1"}}


async def test_test_client_class_is_a_class_the_app_uses() -> None:
    from trioquart.testing import TestClient

    app = echo_app()
    assert app.test_client_class is TestClient
    assert type(app.test_client()) is TestClient

    class Tagged(TestClient):
        def __init__(self, app: TrioQuart, use_cookies: bool = True, tag: str = "") -> None:
            super().__init__(app, use_cookies=use_cookies)
            self.tag = tag

    app.test_client_class = Tagged  # on the app only, as an extension sets it
    client = app.test_client(use_cookies=False, tag="t")
    assert isinstance(client, Tagged) and client.tag == "t" and client.cookie_jar is None
    assert type(echo_app().test_client()) is TestClient  # other apps keep the default

    class SubApp(TrioQuart):
        test_client_class = Tagged

    assert isinstance(SubApp(__name__).test_client(), Tagged)


async def test_make_request_is_called_positionally_for_each_request_and_redirect() -> None:
    # Quart's signature and order, which Quart-Schema's client overrides and calls super()
    # with positionally.
    from trioquart.testing import TestClient
    from trioquart.testing.utils import sentinel

    app = echo_app()

    @app.route("/old", methods=["POST"])
    async def old() -> Any:
        return redirect("/echo?moved=1", 303)

    calls: list[tuple[Any, ...]] = []

    class Recording(TestClient):
        async def _make_request(
            self,
            path: str,
            method: str,
            headers: Any,
            data: Any,
            form: Any,
            files: Any,
            query_string: Any,
            json: Any,
            scheme: str,
            root_path: str,
            http_version: str,
            scope_base: Any,
            auth: Any = None,
            subdomain: str | None = None,
        ) -> Response:
            calls.append((path, method, form, query_string, json is sentinel))
            if isinstance(json, dict):
                json = {**json, "added": True}
            return await super()._make_request(
                path, method, headers, data, form, files, query_string, json, scheme,
                root_path, http_version, scope_base, auth, subdomain,
            )  # fmt: skip

    app.test_client_class = Recording
    client = app.test_client()
    response = await client.post("/echo", json={"a": 1}, query_string={"q": "v"})
    assert (await response.get_json())["json"] == {"a": 1, "added": True}
    response = await client.post("/old", form={"f": "1"}, follow_redirects=True)
    assert (await response.get_json())["args"] == {"moved": ["1"]}
    assert calls == [
        ("/echo", "POST", None, {"q": "v"}, False),
        ("/old", "POST", {"f": "1"}, None, True),
        ("/echo?moved=1", "GET", None, None, True),
    ]
