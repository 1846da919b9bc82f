"""The request object: parsed parts, the async body accessors, streaming, and body limits."""

from __future__ import annotations

import gc
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.lowlevel

from trioquart import Response, TrioQuart, request

MULTIPART_BOUNDARY = "testboundary"


@pytest.fixture(autouse=True)
async def collect_garbage_after_each_test() -> AsyncIterator[None]:
    """Collect garbage at the end of each test (still inside it), so that anything the
    request left unclosed (an async generator, a file) warns in the test that leaked it."""
    yield
    gc.collect()
    await trio.lowlevel.checkpoint()


def make_app(testing: bool = True) -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = testing
    return app


def multipart(parts: list[tuple[str, bytes]]) -> bytes:
    """A multipart/form-data body with a plain field per ``(name, value)``."""
    body = b""
    for name, value in parts:
        body += (
            (
                f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            ).encode()
            + value
            + b"\r\n"
        )
    return body + f"--{MULTIPART_BOUNDARY}--\r\n".encode()


MULTIPART_HEADERS = {"Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"}


async def test_args_headers_and_cookies() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> dict[str, Any]:
        return {
            "tags": request.args.getlist("tag"),
            "page": request.args.get("page", type=int),
            "custom": request.headers["X-Custom"],
            "custom_lower": request.headers.get("x-custom"),
            "cookie": request.cookies.get("theme"),
            "method": request.method,
            "path": request.path,
            "full_path": request.full_path,
        }

    client = app.test_client()
    client.set_cookie("localhost", "theme", "dark")
    response = await client.get(
        "/",
        query_string={"tag": ["a", "b"], "page": "3"},
        headers={"X-Custom": "value"},
    )
    assert await response.get_json() == {
        "tags": ["a", "b"],
        "page": 3,
        "custom": "value",
        "custom_lower": "value",
        "cookie": "dark",
        "method": "GET",
        "path": "/",
        "full_path": "/?tag=a&tag=b&page=3",
    }


async def test_invalid_utf8_in_the_query_string_stays_percent_encoded() -> None:
    """werkzeug keeps invalid UTF-8 percent-encoded when it came percent-encoded; raw bytes
    (which HTTP/2 allows in a query string) are kept the same way instead of a 500."""
    app = make_app()

    @app.route("/")
    async def index() -> dict[str, Any]:
        return {"args": request.args.to_dict(flat=False), "full_path": request.full_path}

    client = app.test_client()
    for query in (b"q=%ff%fe&%c3=%C3%A9", b"q=\xff\xfe&\xc3=\xc3\xa9"):
        response = await client.get("/", scope_base={"query_string": query})
        assert response.status_code == 200
        data = await response.get_json()
        assert data["args"] == {"q": ["%FF%FE"], "%C3": ["é"]}
    assert data["full_path"] == "/?q=%FF%FE&%C3=é"


async def test_authorization_from_basic_auth() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> dict[str, Any]:
        auth = request.authorization
        if auth is None:
            return {"auth": None}
        return {"type": auth.type, "username": auth.username, "password": auth.password}

    client = app.test_client()
    response = await client.get("/", auth=("user", "pass"))
    assert await response.get_json() == {"type": "basic", "username": "user", "password": "pass"}
    assert await (await client.get("/")).get_json() == {"auth": None}


async def test_get_data_and_data() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> dict[str, Any]:
        raw = await request.get_data()
        again = await request.data
        text = await request.get_data(as_text=True)
        return {"raw": raw.decode(), "same": raw == again, "text": text}

    response = await app.test_client().post("/", data=b"some \xc3\xa9 bytes")
    assert await response.get_json() == {
        "raw": "some é bytes",
        "same": True,
        "text": "some é bytes",
    }


async def test_get_data_as_text_replaces_invalid_utf8() -> None:
    app = make_app()

    @app.post("/")
    async def index() -> str:
        return await request.get_data(as_text=True)

    response = await app.test_client().post("/", data=b"ok \xff\xfe")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "ok \ufffd\ufffd"


async def test_get_json() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> dict[str, Any]:
        return {"got": await request.get_json(), "prop": await request.json}

    response = await app.test_client().post("/", json={"nested": {"list": [1, 2]}})
    assert await response.get_json() == {
        "got": {"nested": {"list": [1, 2]}},
        "prop": {"nested": {"list": [1, 2]}},
    }


@pytest.mark.parametrize(
    ("data", "content_type", "silent", "expected_status", "expected_body"),
    [
        (b"{broken", "application/json", False, 400, None),
        (b"{broken", "application/json", True, 200, b"null"),
        (b'{"a": 1}', "text/plain", False, 200, b"null"),
        (b'{"a": 1}', "application/vnd.api+json", False, 200, b'{"a": 1}'),
        (b"[" * 100_000, "application/json", False, 400, None),
        (b"[" * 100_000, "application/json", True, 200, b"null"),
    ],
    ids=["bad-json", "bad-json-silent", "not-json", "json-suffix", "deep", "deep-silent"],
)
async def test_get_json_edge_cases(
    data: bytes,
    content_type: str,
    silent: bool,
    expected_status: int,
    expected_body: bytes | None,
) -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> Response:
        value = await request.get_json(silent=silent)
        return Response(app.json.dumps(value, separators=(", ", ": ")))

    response = await app.test_client().post("/", data=data, headers={"Content-Type": content_type})
    assert response.status_code == expected_status
    if expected_body is not None:
        assert await response.get_data() == expected_body


@pytest.mark.parametrize(
    "data",
    [
        b"1",
        b" 2 ",
        b'"\xc3\xa9"',
        '{"\u00e9": [1, "\u2603"]}'.encode(),
        '{"a": "\u2603"}'.encode("utf-16"),
        '{"a": "\u2603"}'.encode("utf-16-le"),
        '{"a": "\u2603"}'.encode("utf-16-be"),
        '{"a": 1}'.encode("utf-32"),
        '{"a": 1}'.encode("utf-8-sig"),
    ],
    ids=[
        "one-byte",
        "spaces",
        "utf8-string",
        "utf8",
        "utf16",
        "utf16le",
        "utf16be",
        "utf32",
        "bom",
    ],
)
async def test_get_json_reads_bytes_as_json_loads_does(data: bytes) -> None:
    app = make_app()

    @app.post("/")
    async def index() -> Response:
        return Response(repr(await request.get_json()))

    response = await app.test_client().post(
        "/", data=data, headers={"Content-Type": "application/json"}
    )
    assert await response.get_data(as_text=True) == repr(json.loads(data))


async def test_get_json_force_ignores_mimetype() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> dict[str, Any]:
        return {"forced": await request.get_json(force=True)}

    response = await app.test_client().post("/", data=b'{"x": true}')
    assert await response.get_json() == {"forced": {"x": True}}


async def test_form_and_values() -> None:
    app = make_app()

    @app.route("/", methods=["GET", "POST"])
    async def index() -> dict[str, Any]:
        form = await request.form
        values = await request.values
        return {
            "form": form.to_dict(flat=False),
            "values": values.to_dict(flat=False),
        }

    client = app.test_client()
    response = await client.post("/?source=query", form={"name": "Ann", "source": "form"})
    data = await response.get_json()
    assert data["form"] == {"name": ["Ann"], "source": ["form"]}
    assert data["values"]["name"] == ["Ann"]
    assert sorted(data["values"]["source"]) == ["form", "query"]

    response = await client.get("/?source=query")
    assert await response.get_json() == {"form": {}, "values": {"source": ["query"]}}


async def test_files_upload() -> None:
    app = make_app()

    @app.route("/upload", methods=["POST"])
    async def upload() -> dict[str, Any]:
        files = await request.files
        form = await request.form
        upload = files["f"]
        return {
            "filename": upload.filename,
            "content": upload.read().decode(),
            "field": form["title"],
            "names": list(files),
        }

    response = await app.test_client().post(
        "/upload",
        form={"title": "report"},
        files={"f": (io.BytesIO(b"file contents"), "name.txt")},
    )
    assert await response.get_json() == {
        "filename": "name.txt",
        "content": "file contents",
        "field": "report",
        "names": ["f"],
    }


async def test_streaming_upload_through_request_body() -> None:
    app = make_app()
    received: list[bytes] = []

    @app.route("/stream", methods=["POST"])
    async def stream() -> str:
        async for chunk in request.body:
            received.append(chunk)
        return f"{len(received)} chunks"

    async with app.test_client().request("/stream", method="POST") as connection:
        for number in range(5):
            await connection.send(b"part%d;" % number)
        await connection.send_complete()
        with trio.fail_after(5):
            response = await connection.as_response()

    assert response.status_code == 200
    assert b"".join(received) == b"part0;part1;part2;part3;part4;"
    assert await response.get_data() == f"{len(received)} chunks".encode()


async def test_streaming_upload_is_readable_while_the_client_is_still_sending() -> None:
    app = make_app()

    @app.route("/echo", methods=["POST"])
    async def echo() -> Any:
        async def chunks() -> Any:
            async for chunk in request.body:
                yield chunk.upper()

        return chunks()

    async with app.test_client().request("/echo", method="POST") as connection:
        await connection.send(b"hello")
        with trio.fail_after(5):
            assert await connection.receive() == b"HELLO"
        await connection.send(b" there")
        with trio.fail_after(5):
            assert await connection.receive() == b" THERE"
        await connection.send_complete()
        with trio.fail_after(5):
            assert await connection.receive() == b""


async def test_leaving_request_body_iteration_early_leaks_nothing() -> None:
    app = make_app()

    @app.route("/first", methods=["POST"])
    async def first_chunk_only() -> bytes:
        async for chunk in request.body:
            return chunk
        return b"none"

    async with app.test_client().request("/first", method="POST") as connection:
        await connection.send(b"one")
        await connection.send(b"two")
        await connection.send_complete()
        with trio.fail_after(5):
            response = await connection.as_response()
    assert await response.get_data() == b"one"


async def test_max_content_length_with_declared_content_length() -> None:
    app = make_app()
    app.config["MAX_CONTENT_LENGTH"] = 10
    reached_view: list[bool] = []

    @app.route("/", methods=["POST"])
    async def index() -> str:
        reached_view.append(True)
        return str(len(await request.get_data()))

    client = app.test_client()
    assert (await client.post("/", data=b"x" * 11)).status_code == 413
    response = await client.post("/", data=b"x" * 10)
    assert (response.status_code, await response.get_data()) == (200, b"10")


@pytest.mark.parametrize("reader", ["get_data", "stream", "form"])
async def test_max_content_length_with_streamed_chunks(reader: str) -> None:
    app = make_app()
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.route("/", methods=["POST"])
    async def index() -> str:
        if reader == "get_data":
            return str(len(await request.get_data()))
        if reader == "form":
            return str(len(await request.form))
        total = 0
        async for chunk in request.body:
            total += len(chunk)
        return str(total)

    headers = {"Content-Type": "application/x-www-form-urlencoded"} if reader == "form" else {}
    async with app.test_client().request("/", method="POST", headers=headers) as connection:
        # 500 bytes in 5-byte chunks, with no Content-Length to announce them.
        for _ in range(100):
            await connection.send(b"a=bc&")
        await connection.send_complete()
        with trio.fail_after(5):
            response = await connection.as_response()
    assert response.status_code == 413


async def test_max_content_length_changed_per_request() -> None:
    app = make_app()
    app.config["MAX_CONTENT_LENGTH"] = 1000

    @app.before_request
    async def tighten() -> None:
        if request.path == "/small":
            request.max_content_length = 5
        elif request.path == "/large":
            request.max_content_length = None

    @app.route("/<size>", methods=["POST"])
    async def upload(size: str) -> str:
        return str(len(await request.get_data()))

    client = app.test_client()
    assert (await client.post("/small", data=b"123456")).status_code == 413
    assert (await client.post("/default", data=b"123456")).status_code == 200
    assert (await client.post("/default", data=b"x" * 1001)).status_code == 413
    response = await client.post("/large", data=b"x" * 1001)
    assert (response.status_code, await response.get_data()) == (200, b"1001")


@pytest.mark.parametrize(
    "body",
    [
        b"this is not multipart at all",
        (
            f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end'
        ).encode(),
        (
            f"--{MULTIPART_BOUNDARY}\r\nbroken header line\r\n\r\n"
            f"value\r\n--{MULTIPART_BOUNDARY}--\r\n"
        ).encode(),
    ],
    ids=["garbage", "unterminated", "bad-part-header"],
)
async def test_malformed_multipart_is_400(body: bytes) -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        return str(len(await request.form))

    response = await app.test_client().post("/", data=body, headers=MULTIPART_HEADERS)
    assert response.status_code == 400


async def test_multipart_without_boundary_is_400() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        return str(len(await request.form))

    response = await app.test_client().post(
        "/", data=b"whatever", headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 400


async def test_well_formed_handmade_multipart_parses() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> dict[str, Any]:
        return (await request.form).to_dict()

    body = multipart([("a", b"1"), ("b", b"two")])
    response = await app.test_client().post("/", data=body, headers=MULTIPART_HEADERS)
    assert await response.get_json() == {"a": "1", "b": "two"}


def form_limit_app(**config: Any) -> TrioQuart:
    app = make_app()
    app.config.update(config)

    @app.route("/", methods=["POST"])
    async def index() -> str:
        return str(len(await request.form))

    return app


async def test_max_form_memory_size_multipart() -> None:
    app = form_limit_app(MAX_FORM_MEMORY_SIZE=1000)
    client = app.test_client()
    big = multipart([("field", b"x" * 5000)])
    assert (await client.post("/", data=big, headers=MULTIPART_HEADERS)).status_code == 413
    fits = multipart([("field", b"x" * 100)])
    response = await client.post("/", data=fits, headers=MULTIPART_HEADERS)
    assert (response.status_code, await response.get_data()) == (200, b"1")


async def test_max_form_memory_size_multipart_counts_a_field_across_chunks() -> None:
    app = form_limit_app(MAX_FORM_MEMORY_SIZE=1000)
    body = multipart([("field", b"x" * 3000)])
    async with app.test_client().request("/", method="POST", headers=MULTIPART_HEADERS) as conn:
        for start in range(0, len(body), 100):
            await conn.send(body[start : start + 100])
        await conn.send_complete()
        with trio.fail_after(5):
            response = await conn.as_response()
    assert response.status_code == 413


async def test_max_form_memory_size_does_not_limit_files() -> None:
    # As in Flask, the limit is for non-file fields; a file part may be bigger. (Flask reads
    # the body in 64 KiB pieces, so it, too, refuses a file when the limit is below that.)
    app = make_app()
    app.config["MAX_FORM_MEMORY_SIZE"] = 100_000

    @app.route("/", methods=["POST"])
    async def index() -> str:
        return str(len((await request.files)["upload"].read()))

    response = await app.test_client().post(
        "/", files={"upload": (io.BytesIO(b"z" * 200_000), "big.bin")}
    )
    assert (response.status_code, await response.get_data()) == (200, b"200000")


async def test_default_limits_accept_a_one_megabyte_file() -> None:
    app = make_app()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        upload = (await request.files)["upload"]
        return f"{upload.filename} {len(upload.read())}"

    body = (
        (
            f"--{MULTIPART_BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"z" * 1_000_000
        + f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode()
    )
    response = await app.test_client().post("/", data=body, headers=MULTIPART_HEADERS)
    assert (response.status_code, await response.get_data()) == (200, b"big.bin 1000000")


async def test_max_form_memory_size_urlencoded_default_limit() -> None:
    app = form_limit_app()
    body = b"field=" + b"x" * (2 * 1024 * 1024)
    response = await app.test_client().post(
        "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


async def test_max_form_parts_multipart() -> None:
    app = form_limit_app(MAX_FORM_PARTS=10)
    client = app.test_client()
    too_many = multipart([(f"f{n}", b"v") for n in range(11)])
    assert (await client.post("/", data=too_many, headers=MULTIPART_HEADERS)).status_code == 413
    enough = multipart([(f"f{n}", b"v") for n in range(10)])
    response = await client.post("/", data=enough, headers=MULTIPART_HEADERS)
    assert (response.status_code, await response.get_data()) == (200, b"10")


async def test_max_form_parts_urlencoded_many_fields() -> None:
    # Memory is allowed, so only the number of fields can refuse this body.
    app = form_limit_app(MAX_FORM_MEMORY_SIZE=10 * 1024 * 1024)
    body = b"&".join(b"k%d=v" % n for n in range(200_000))
    response = await app.test_client().post(
        "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


async def test_max_form_parts_urlencoded_at_the_limit_is_accepted() -> None:
    app = form_limit_app(MAX_FORM_PARTS=3)
    client = app.test_client()
    response = await client.post("/", form={"a": "1", "b": "2", "c": "3"})
    assert (response.status_code, await response.get_data()) == (200, b"3")
    response = await client.post("/", form={"a": "1", "b": "2", "c": "3", "d": "4"})
    assert response.status_code == 413


async def test_push_promise_over_http2_and_a_no_op_over_http11() -> None:
    from trioquart import make_push_promise

    app = TrioQuart(__name__)

    @app.route("/")
    async def index() -> str:
        await make_push_promise("/style.css")
        return "page"

    client = app.test_client()
    response = await client.get("/", http_version="2", headers={"Accept": "text/css"})
    assert response.status_code == 200
    assert [(path, headers.get("accept")) for path, headers in client.push_promises] == [
        ("/style.css", "text/css")
    ]
    await client.get("/")  # HTTP/1.1: the server cannot push, so nothing is asked for
    assert len(client.push_promises) == 1


async def test_json_body_that_is_not_utf8_is_400() -> None:
    app = TrioQuart(__name__)

    @app.post("/")
    async def index() -> Any:
        return {"got": await request.get_json()}

    response = await app.test_client().post(
        "/", data=b'{"name": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
