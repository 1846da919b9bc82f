"""send_file, send_from_directory and static files, through the in-process test client."""

from __future__ import annotations

import gc
import io
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
from werkzeug.exceptions import NotFound
from werkzeug.http import http_date, parse_date

from trioquart import Blueprint, Response, TrioQuart, url_for
from trioquart.files import (
    CHUNK_SIZE,
    MimetypeUnknownError,
    safe_join,
    send_file,
    send_from_directory,
)

DATA = b"0123456789"


@pytest.fixture(autouse=True)
async def collect_garbage_after_each_test() -> AsyncIterator[None]:
    """Collect garbage at the end of each test (still inside it), so that a file left open
    warns (an error here) in the test that leaked it."""
    yield
    gc.collect()
    await trio.lowlevel.checkpoint()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An app root: ``digits.txt`` (10 bytes), ``sub/inner.txt``, ``secret.txt`` beside
    the served directory ``public`` and a ``static`` folder."""
    (tmp_path / "digits.txt").write_bytes(DATA)
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "hello.txt").write_bytes(b"hello")
    (public / "sub" / "inner.txt").write_bytes(b"inner")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_bytes(b"body {}")
    return tmp_path


def make_app(root: Path, **kwargs: Any) -> TrioQuart:
    app = TrioQuart(__name__, root_path=str(root), **kwargs)
    app.testing = True
    return app


def digits_app(root: Path, **send_kwargs: Any) -> TrioQuart:
    """An app whose ``/digits`` sends ``digits.txt`` with ``send_kwargs``."""
    app = make_app(root)

    @app.route("/digits", methods=["GET", "HEAD", "POST"])
    async def digits() -> Response:
        return await send_file(root / "digits.txt", **send_kwargs)

    return app


async def get(app: TrioQuart, headers: dict[str, str] | None = None, **kwargs: Any) -> Response:
    with trio.fail_after(5):
        return await app.test_client().get("/digits", headers=headers, **kwargs)


async def validators(app: TrioQuart) -> tuple[str, str]:
    """The ETag and Last-Modified of ``/digits``."""
    response = await get(app)
    return response.headers["ETag"], response.headers["Last-Modified"]


# ---- the whole file ---------------------------------------------------------------------


async def test_whole_file_and_its_headers(root: Path) -> None:
    response = await get(digits_app(root))
    assert response.status_code == 200
    assert await response.get_data() == DATA
    headers = response.headers
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Length"] == "10"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Disposition"] == "inline; filename=digits.txt"
    assert headers["Cache-Control"] == "no-cache"
    assert "Expires" not in headers
    assert headers["ETag"].startswith('"') and headers["ETag"].endswith('"')
    mtime = os.stat(root / "digits.txt").st_mtime
    assert headers["Last-Modified"] == http_date(mtime)


async def test_etag_changes_with_the_file(root: Path) -> None:
    app = digits_app(root)
    first, _ = await validators(app)
    (root / "digits.txt").write_bytes(DATA + b"!")
    os.utime(root / "digits.txt", (1_000_000_000, 1_000_000_000))
    second, last_modified = await validators(app)
    assert first != second
    assert parse_date(last_modified) == datetime.fromtimestamp(1_000_000_000, UTC)


async def test_large_file_is_streamed_in_chunks(root: Path) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    (root / "big.bin").write_bytes(data)
    app = make_app(root)

    @app.get("/big")
    async def big() -> Response:
        response = await send_file(root / "big.bin")
        assert response.is_streamed
        return response

    with trio.fail_after(5):
        async with app.test_client().request("/big") as connection:
            first = await connection.receive()
            rest = (await connection.as_response()).data
    assert connection.status_code == 200
    assert len(first) == CHUNK_SIZE
    assert first + await rest == data


async def test_head_sends_the_length_but_no_body(root: Path) -> None:
    app = digits_app(root)
    with trio.fail_after(5):
        response = await app.test_client().head("/digits", headers={"Range": "bytes=0-1"})
    assert response.status_code == 200  # ranges apply to GET only
    assert response.headers["Content-Length"] == "10"
    assert await response.get_data() == b""


async def test_relative_path_is_taken_from_the_app_root(root: Path) -> None:
    app = make_app(root)

    @app.get("/")
    async def index() -> Response:
        return await send_file("digits.txt")

    response = await app.test_client().get("/")
    assert await response.get_data() == DATA


async def test_the_apps_response_class_is_used(root: Path) -> None:
    class MyResponse(Response):
        pass

    app = make_app(root)
    app.response_class = MyResponse
    made: list[Response] = []

    @app.get("/")
    async def index() -> Response:
        made.append(await send_file(root / "digits.txt"))
        return made[-1]

    assert await (await app.test_client().get("/")).get_data() == DATA
    assert type(made[0]) is MyResponse


async def test_missing_file_and_directory_are_errors(root: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await send_file(root / "missing.txt")
    with pytest.raises(IsADirectoryError):
        await send_file(root / "public")


async def test_outside_a_request_the_response_is_plain(root: Path) -> None:
    response = await send_file(str(root / "digits.txt"))
    assert response.status_code == 200
    assert await response.get_data() == DATA


# ---- ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "content_range", "body"),
    [
        ("bytes=2-5", "bytes 2-5/10", b"2345"),
        ("bytes=0-0", "bytes 0-0/10", b"0"),
        ("bytes=9-9", "bytes 9-9/10", b"9"),
        ("bytes=5-", "bytes 5-9/10", b"56789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),  # suffix (Quart answers 500)
        ("bytes=-10", "bytes 0-9/10", DATA),
        ("bytes=-100", "bytes 0-9/10", DATA),  # suffix longer than the file: all of it
        ("bytes=5-999", "bytes 5-9/10", b"56789"),  # clamped to the file
        ("bytes=0-99", "bytes 0-9/10", DATA),
        ("BYTES = 1 - 2", "bytes 1-2/10", b"12"),
    ],
)
async def test_single_range_is_206(
    root: Path, header: str, content_range: str, body: bytes
) -> None:
    response = await get(digits_app(root), {"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Content-Length"] == str(len(body))
    assert await response.get_data() == body


@pytest.mark.parametrize(
    "header",
    [
        "bytes=10-",  # starts at the end
        "bytes=20-30",  # entirely past the end
        "bytes=0-1,4-5",  # several ranges
        "bytes=0-1, -2",
        "bytes=5-2",  # last before first
        "bytes=-0",
        "bytes=x-y",
    ],
)
async def test_unsatisfiable_or_multiple_ranges_are_416(root: Path, header: str) -> None:
    response = await get(digits_app(root), {"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */10"


async def test_unknown_range_unit_is_ignored(root: Path) -> None:
    response = await get(digits_app(root), {"Range": "lines=0-1"})
    assert response.status_code == 200
    assert await response.get_data() == DATA


async def test_range_ignored_without_conditional(root: Path) -> None:
    response = await get(digits_app(root, conditional=False), {"Range": "bytes=0-1"})
    assert response.status_code == 200
    assert await response.get_data() == DATA
    assert response.headers["Content-Length"] == "10"
    assert "Accept-Ranges" not in response.headers  # no ranges offered either


async def test_range_of_an_empty_file_sends_it_whole(root: Path) -> None:
    (root / "empty.txt").write_bytes(b"")
    app = make_app(root)

    @app.get("/empty")
    async def empty() -> Response:
        return await send_file(root / "empty.txt")

    response = await app.test_client().get("/empty", headers={"Range": "bytes=0-5"})
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "0"
    assert await response.get_data() == b""


async def test_if_range_with_the_current_etag_allows_the_range(root: Path) -> None:
    app = digits_app(root)
    etag, last_modified = await validators(app)
    for validator in (etag, last_modified):
        response = await get(app, {"Range": "bytes=0-1", "If-Range": validator})
        assert response.status_code == 206, validator
        assert await response.get_data() == b"01"


@pytest.mark.parametrize("kind", ["other etag", "weak etag", "older date", "garbage"])
async def test_if_range_that_does_not_match_sends_the_whole_file(root: Path, kind: str) -> None:
    app = digits_app(root)
    etag, last_modified = await validators(app)
    if_range = {
        "other etag": '"something-else"',
        "weak etag": f"W/{etag}",
        "older date": http_date(parse_date(last_modified) - timedelta(seconds=10)),  # type: ignore[operator]
        "garbage": "not a validator",
    }[kind]
    response = await get(app, {"Range": "bytes=0-1", "If-Range": if_range})
    assert response.status_code == 200
    assert await response.get_data() == DATA


async def test_range_on_bytesio(root: Path) -> None:
    app = make_app(root)

    @app.get("/memory")
    async def memory() -> Response:
        return await send_file(io.BytesIO(DATA), mimetype="application/octet-stream")

    response = await app.test_client().get("/memory", headers={"Range": "bytes=-4"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 6-9/10"
    assert await response.get_data() == b"6789"


# ---- conditional requests ---------------------------------------------------------------


async def test_if_none_match_is_304_without_a_body(root: Path) -> None:
    app = digits_app(root, max_age=60)
    etag, last_modified = await validators(app)
    for if_none_match in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = await get(app, {"If-None-Match": if_none_match})
        assert response.status_code == 304, if_none_match
        assert await response.get_data() == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == "public, max-age=60"
        assert "Expires" in response.headers
        for entity_header in ("Content-Length", "Content-Type", "Content-Range"):
            assert entity_header not in response.headers


async def test_if_none_match_other_etag_is_200(root: Path) -> None:
    response = await get(digits_app(root), {"If-None-Match": '"other"'})
    assert response.status_code == 200
    assert await response.get_data() == DATA


async def test_if_modified_since(root: Path) -> None:
    app = digits_app(root)
    _, last_modified = await validators(app)
    assert (await get(app, {"If-Modified-Since": last_modified})).status_code == 304
    later = http_date(parse_date(last_modified) + timedelta(hours=1))  # type: ignore[operator]
    assert (await get(app, {"If-Modified-Since": later})).status_code == 304
    earlier = http_date(parse_date(last_modified) - timedelta(hours=1))  # type: ignore[operator]
    response = await get(app, {"If-Modified-Since": earlier})
    assert response.status_code == 200
    assert await response.get_data() == DATA


async def test_if_none_match_takes_precedence_over_if_modified_since(root: Path) -> None:
    app = digits_app(root)
    _, last_modified = await validators(app)
    response = await get(app, {"If-None-Match": '"other"', "If-Modified-Since": last_modified})
    assert response.status_code == 200


async def test_not_modified_wins_over_a_range(root: Path) -> None:
    app = digits_app(root)
    etag, _ = await validators(app)
    response = await get(app, {"If-None-Match": etag, "Range": "bytes=0-1"})
    assert response.status_code == 304


async def test_failed_if_match_is_412(root: Path) -> None:
    app = digits_app(root)
    etag, _ = await validators(app)
    response = await get(app, {"If-Match": '"other"'})
    assert response.status_code == 412
    assert DATA not in await response.get_data()
    assert (await get(app, {"If-Match": f"W/{etag}"})).status_code == 412  # strong comparison
    assert (await get(app, {"If-Match": etag})).status_code == 200
    assert (await get(app, {"If-Match": f'"other", {etag}'})).status_code == 200
    assert (await get(app, {"If-Match": "*"})).status_code == 200


async def test_if_match_without_an_etag_is_412(root: Path) -> None:
    app = digits_app(root, etag=False)
    assert "ETag" not in (await get(app)).headers
    assert (await get(app, {"If-Match": '"anything"'})).status_code == 412


async def test_if_unmodified_since(root: Path) -> None:
    app = digits_app(root)
    etag, last_modified = await validators(app)
    earlier = http_date(parse_date(last_modified) - timedelta(hours=1))  # type: ignore[operator]
    assert (await get(app, {"If-Unmodified-Since": earlier})).status_code == 412
    assert (await get(app, {"If-Unmodified-Since": last_modified})).status_code == 200
    # If-Match, when present, replaces If-Unmodified-Since.
    both = {"If-Match": etag, "If-Unmodified-Since": earlier}
    assert (await get(app, both)).status_code == 200


async def test_412_page_can_be_customised(root: Path) -> None:
    app = digits_app(root)

    @app.errorhandler(412)
    async def precondition_failed(error: Exception) -> tuple[str, int]:
        return "changed meanwhile", 412

    response = await get(app, {"If-Match": '"other"'})
    assert response.status_code == 412
    assert await response.get_data() == b"changed meanwhile"


async def test_conditions_only_apply_to_get_and_head(root: Path) -> None:
    app = digits_app(root)
    etag, _ = await validators(app)
    with trio.fail_after(5):
        response = await app.test_client().post(
            "/digits", headers={"If-None-Match": etag, "Range": "bytes=0-1"}
        )
    assert response.status_code == 200
    assert await response.get_data() == DATA


async def test_string_etag_is_used_as_given(root: Path) -> None:
    app = digits_app(root, etag="version-7")
    assert (await get(app)).headers["ETag"] == '"version-7"'
    assert (await get(app, {"If-None-Match": '"version-7"'})).status_code == 304


async def test_last_modified_argument(root: Path) -> None:
    moment = datetime(2020, 5, 17, 12, 30, tzinfo=UTC)
    response = await get(digits_app(root, last_modified=moment))
    assert response.headers["Last-Modified"] == "Sun, 17 May 2020 12:30:00 GMT"
    response = await get(digits_app(root, last_modified=moment.timestamp()))
    assert response.headers["Last-Modified"] == "Sun, 17 May 2020 12:30:00 GMT"


# ---- caching, names and types -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "cache_control", "has_expires"),
    [
        ({}, "no-cache", False),
        ({"max_age": 120}, "public, max-age=120", True),
        ({"max_age": 0}, "no-cache, max-age=0", True),
        ({"cache_timeout": 30}, "public, max-age=30", True),  # Quart's name
        ({"max_age": lambda path: 45 if path.endswith(".txt") else 0}, "public, max-age=45", True),
    ],
)
async def test_cache_control(
    root: Path, kwargs: dict[str, Any], cache_control: str, has_expires: bool
) -> None:
    response = await get(digits_app(root, **kwargs))
    assert response.headers["Cache-Control"] == cache_control
    assert ("Expires" in response.headers) is has_expires
    if has_expires:
        expires = parse_date(response.headers["Expires"])
        assert expires is not None
        max_age = int(cache_control.rpartition("=")[2])
        delta = expires - datetime.now(UTC)
        assert abs(delta.total_seconds() - max_age) < 5


async def test_send_file_max_age_default_config(root: Path) -> None:
    app = digits_app(root)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(minutes=5)
    assert (await get(app)).headers["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize(
    ("kwargs", "disposition"),
    [
        ({"as_attachment": True}, "attachment; filename=digits.txt"),
        ({"download_name": "report 1.txt"}, 'inline; filename="report 1.txt"'),
        ({"as_attachment": True, "download_name": "r.txt"}, "attachment; filename=r.txt"),
        ({"as_attachment": True, "attachment_filename": "old.txt"}, "attachment; filename=old.txt"),
        (
            {"as_attachment": True, "download_name": "Résumé €.txt"},
            'attachment; filename="Resume .txt";'
            " filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%82%AC.txt",
        ),
        (
            {"download_name": "数据.csv"},
            "inline; filename=.csv; filename*=UTF-8''%E6%95%B0%E6%8D%AE.csv",
        ),
    ],
)
async def test_content_disposition(root: Path, kwargs: dict[str, Any], disposition: str) -> None:
    response = await get(digits_app(root, **kwargs))
    assert response.headers["Content-Disposition"] == disposition
    assert await response.get_data() == DATA


async def test_mimetype_from_download_name_and_explicit(root: Path) -> None:
    response = await get(digits_app(root, download_name="data.json"))
    assert response.headers["Content-Type"] == "application/json"
    response = await get(digits_app(root, mimetype="application/x-digits"))
    assert response.headers["Content-Type"] == "application/x-digits"
    response = await get(digits_app(root, download_name="blob.unknownext"))
    assert response.headers["Content-Type"] == "application/octet-stream"


async def test_content_encoding_only_inline(root: Path) -> None:
    response = await get(digits_app(root, download_name="archive.tar.gz"))
    assert response.headers["Content-Type"] == "application/x-tar"
    assert response.headers["Content-Encoding"] == "gzip"
    response = await get(digits_app(root, download_name="archive.tar.gz", as_attachment=True))
    assert "Content-Encoding" not in response.headers


async def test_quart_era_names_conflicting_with_flask_names(root: Path) -> None:
    with pytest.raises(TypeError):
        await send_file(root / "digits.txt", download_name="a.txt", attachment_filename="b.txt")
    with pytest.raises(TypeError):
        await send_file(root / "digits.txt", max_age=1, cache_timeout=2)


async def test_add_etags_false(root: Path) -> None:
    assert "ETag" not in (await get(digits_app(root, add_etags=False))).headers


# ---- file objects -----------------------------------------------------------------------


async def test_bytesio(root: Path) -> None:
    app = make_app(root)
    buffers: list[io.BytesIO] = []

    @app.get("/memory")
    async def memory() -> Response:
        buffer = io.BytesIO(b"xyz" + DATA)
        buffer.seek(3)  # sent from the current position
        buffers.append(buffer)
        return await send_file(buffer, download_name="numbers.csv", as_attachment=True)

    response = await app.test_client().get("/memory")
    assert response.status_code == 200
    assert await response.get_data() == DATA
    assert response.headers["Content-Length"] == "10"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=numbers.csv"
    assert "ETag" not in response.headers
    assert "Last-Modified" not in response.headers
    assert buffers[0].closed


async def test_file_object_without_a_type_is_an_error() -> None:
    for error in (ValueError, TypeError):  # Quart raises the one, Flask the other
        with pytest.raises(error):
            await send_file(io.BytesIO(DATA))
    assert issubclass(MimetypeUnknownError, ValueError)
    with pytest.raises(TypeError):
        await send_file(io.BytesIO(DATA), mimetype="text/plain", as_attachment=True)
    with pytest.raises(ValueError):
        await send_file(io.StringIO("text"), mimetype="text/plain")


async def test_sync_and_async_file_objects_are_sent_and_closed(root: Path) -> None:
    app = make_app(root)
    opened: list[Any] = []

    @app.get("/sync")
    async def sync_file() -> Response:
        file = open(root / "digits.txt", "rb")  # noqa: SIM115
        opened.append(file)
        return await send_file(file, mimetype="text/plain")

    @app.get("/async")
    async def async_file() -> Response:
        file = await trio.open_file(root / "digits.txt", "rb")
        opened.append(file)
        return await send_file(file, mimetype="text/plain")

    client = app.test_client()
    with trio.fail_after(5):
        for path in ("/sync", "/async"):
            response = await client.get(path, headers={"Range": "bytes=3-4"})
            assert response.status_code == 206
            assert response.headers["Content-Range"] == "bytes 3-4/10"
            assert await response.get_data() == b"34"
            response = await client.get(path)
            assert await response.get_data() == DATA
    assert all(file.closed for file in opened)


async def test_file_object_closed_when_no_body_is_sent(root: Path) -> None:
    app = make_app(root)
    opened: list[Any] = []

    @app.route("/file", methods=["GET", "HEAD"])
    async def file_view() -> Response:
        file = open(root / "digits.txt", "rb")  # noqa: SIM115
        opened.append(file)
        return await send_file(file, mimetype="text/plain", etag="fixed")

    client = app.test_client()
    with trio.fail_after(5):
        head = await client.head("/file")
        not_modified = await client.get("/file", headers={"If-None-Match": '"fixed"'})
        failed = await client.get("/file", headers={"If-Match": '"other"'})
        unsatisfiable = await client.get("/file", headers={"Range": "bytes=50-"})
    assert head.headers["Content-Length"] == "10"
    assert [head.status_code, not_modified.status_code, failed.status_code] == [200, 304, 412]
    assert unsatisfiable.status_code == 416
    assert len(opened) == 4 and all(file.closed for file in opened)


async def test_file_closed_when_the_client_goes_away(root: Path) -> None:
    (root / "big.bin").write_bytes(b"x" * (4 * CHUNK_SIZE))
    app = make_app(root)
    opened: list[Any] = []

    @app.get("/big")
    async def big() -> Response:
        file = open(root / "big.bin", "rb")  # noqa: SIM115
        opened.append(file)
        return await send_file(file, mimetype="application/octet-stream")

    with trio.fail_after(5):
        async with app.test_client().request("/big") as connection:
            assert len(await connection.receive()) == CHUNK_SIZE
        # Leaving the block disconnects; the body's cleanup runs shortly after.
        while not opened[0].closed:
            gc.collect()
            await trio.sleep(0.01)


# ---- send_from_directory ----------------------------------------------------------------


def directory_app(root: Path) -> TrioQuart:
    app = make_app(root)

    @app.get("/files/<path:name>")
    async def files(name: str) -> Response:
        return await send_from_directory(root / "public", name)

    return app


async def test_send_from_directory(root: Path) -> None:
    client = directory_app(root).test_client()
    response = await client.get("/files/sub/inner.txt")
    assert response.status_code == 200
    assert await response.get_data() == b"inner"
    response = await client.get("/files/hello.txt", headers={"Range": "bytes=-2"})
    assert response.status_code == 206
    assert await response.get_data() == b"lo"


async def test_send_from_directory_relative_to_the_app_root(root: Path) -> None:
    app = make_app(root)

    @app.get("/files/<path:name>")
    async def files(name: str) -> Response:
        return await send_from_directory("public", name, as_attachment=True)

    response = await app.test_client().get("/files/hello.txt")
    assert await response.get_data() == b"hello"
    assert response.headers["Content-Disposition"] == "attachment; filename=hello.txt"


@pytest.mark.parametrize(
    "path",
    [
        "/files/../secret.txt",
        "/files/sub/../../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/sub/%2E%2E/%2e%2e/secret.txt",
        "/files/..%2fsecret.txt",
        "/files/sub",  # a directory
        "/files/missing.txt",
    ],
)
async def test_send_from_directory_refuses_escapes_through_routes(root: Path, path: str) -> None:
    # The in-process client hands percent-encoded segments to the view as they are; the
    # decoded forms a real server produces are covered by tests/e2e/test_files_wire.py.
    response = await directory_app(root).test_client().get(path)
    assert response.status_code == 404
    assert b"secret" not in await response.get_data()


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "sub/../../secret.txt",
        "..",
        "sub/..",  # the directory itself
        "sub",
        "missing.txt",
        "/etc/passwd",
        "SECRET_ABSOLUTE",
        "nul\x00byte.txt",
        "sub\\..\\..\\secret.txt",
    ],
)
async def test_send_from_directory_refuses_escapes(root: Path, name: str) -> None:
    if name == "SECRET_ABSOLUTE":
        name = str(root / "secret.txt")
    with pytest.raises(NotFound):
        await send_from_directory(root / "public", name)


async def test_safe_join_is_werkzeugs() -> None:
    assert safe_join("/base", "a/b.txt") == "/base/a/b.txt"
    assert safe_join("/base", "../x") is None


# ---- static files -----------------------------------------------------------------------


async def test_app_static_folder_default(root: Path) -> None:
    app = make_app(root)
    client = app.test_client()
    response = await client.get("/static/site.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert await response.get_data() == b"body {}"
    assert response.headers["Cache-Control"] == "no-cache"
    again = await client.get(
        "/static/site.css", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    for escape in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/nothing.css"):
        assert (await client.get(escape)).status_code == 404, escape


async def test_app_static_folder_and_url_path(root: Path) -> None:
    assets = root / "elsewhere"
    assets.mkdir()
    (assets / "app.js").write_bytes(b"let x = 1;")
    app = make_app(root, static_folder=str(assets), static_url_path="/assets")
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600

    @app.get("/link")
    async def link() -> str:
        return url_for("static", filename="app.js")

    client = app.test_client()
    response = await client.get("/assets/app.js")
    assert response.status_code == 200
    assert await response.get_data() == b"let x = 1;"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert await (await client.get("/link")).get_data() == b"/assets/app.js"
    assert (await client.get("/static/site.css")).status_code == 404
    assert (await client.get("/assets/../secret.txt")).status_code == 404
    ranged = await client.get("/assets/app.js", headers={"Range": "bytes=-2"})
    assert ranged.status_code == 206
    assert await ranged.get_data() == b"1;"


async def test_no_static_folder(root: Path) -> None:
    app = make_app(root, static_folder=None)
    assert (await app.test_client().get("/static/site.css")).status_code == 404


async def test_blueprint_static_folder(root: Path) -> None:
    bp_static = root / "bp_static"
    bp_static.mkdir()
    (bp_static / "logo.txt").write_bytes(b"logo")
    app = make_app(root)
    blueprint = Blueprint("admin", __name__, static_folder=str(bp_static), static_url_path="/files")

    @blueprint.get("/link")
    async def link() -> str:
        return url_for(".static", filename="logo.txt")

    app.register_blueprint(blueprint, url_prefix="/admin")
    client = app.test_client()
    response = await client.get("/admin/files/logo.txt")
    assert response.status_code == 200
    assert await response.get_data() == b"logo"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await (await client.get("/admin/link")).get_data() == b"/admin/files/logo.txt"
    assert (await client.get("/admin/files/../../secret.txt")).status_code == 404
    assert (await client.get("/admin/files/%2e%2e/%2e%2e/secret.txt")).status_code == 404
    # The app's own static route is unaffected.
    assert (await client.get("/static/site.css")).status_code == 200
