"""Uploads: ``await request.files``, trioquart's async ``FileStorage``, spooling to disk and
the form limits."""

from __future__ import annotations

import gc
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
from werkzeug.datastructures import FileStorage as WerkzeugFileStorage

from trioquart import TrioQuart, request
from trioquart.datastructures import SPOOL_MAX_SIZE, FileStorage

BOUNDARY = "uploadboundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.fixture(autouse=True)
async def collect_garbage_after_each_test() -> AsyncIterator[None]:
    """Collect garbage at the end of each test (still inside it), so a temporary file left
    open warns (an error here) in the test that leaked it."""
    yield
    gc.collect()
    await trio.lowlevel.checkpoint()


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


def file_part(name: str, filename: str, data: bytes, closing: bool = True) -> bytes:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}";'
        f' filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode() + data
    return body + (f"\r\n--{BOUNDARY}--\r\n".encode() if closing else b"")


def capture_uploads(app: TrioQuart) -> list[Any]:
    """Make ``POST /upload`` record its uploads (FileStorage, in_memory, closed later)."""
    seen: list[Any] = []

    @app.post("/upload")
    async def upload() -> dict[str, Any]:
        files = await request.files
        seen.extend(files.getlist("file"))
        return {"names": [storage.filename for storage in files.getlist("file")]}

    return seen


async def post_file(app: TrioQuart, data: bytes, filename: str = "data.bin") -> Any:
    with trio.fail_after(10):
        return await app.test_client().post(
            "/upload", files={"file": (io.BytesIO(data), filename, "application/octet-stream")}
        )


async def test_request_files_are_async_file_storages() -> None:
    app = make_app()
    seen = capture_uploads(app)
    response = await post_file(app, b"hello upload", "greeting.txt")
    assert response.status_code == 200
    storage = seen[0]
    assert isinstance(storage, FileStorage)
    assert isinstance(storage, WerkzeugFileStorage)
    assert storage.filename == "greeting.txt"
    assert storage.name == "file"
    assert storage.mimetype == "application/octet-stream"


async def test_save_to_paths(tmp_path: Path) -> None:
    app = make_app()

    @app.post("/upload")
    async def upload() -> str:
        storage = (await request.files)["file"]
        await storage.save(tmp_path / "as_path")
        storage.stream.seek(0)
        await storage.save(str(tmp_path / "as_str"))
        return "saved"

    data = bytes(range(256)) * 100
    assert (await post_file(app, data)).status_code == 200
    assert (tmp_path / "as_path").read_bytes() == data
    assert (tmp_path / "as_str").read_bytes() == data


async def test_save_to_file_objects(tmp_path: Path) -> None:
    app = make_app()
    memory = io.BytesIO()

    @app.post("/upload")
    async def upload() -> str:
        storage = (await request.files)["file"]
        async with await trio.open_file(tmp_path / "async_target", "wb") as target:
            await storage.save(target, buffer_size=7)
        storage.stream.seek(0)
        await storage.save(memory)  # a sync write works too
        return "saved"

    assert (await post_file(app, b"0123456789" * 5)).status_code == 200
    assert (tmp_path / "async_target").read_bytes() == b"0123456789" * 5
    assert memory.getvalue() == b"0123456789" * 5
    assert not memory.closed  # a destination given as an object is left open


@pytest.mark.parametrize(
    ("size", "on_disk"),
    [(10, False), (SPOOL_MAX_SIZE, False), (SPOOL_MAX_SIZE + 1, True), (2 * 1024 * 1024, True)],
)
async def test_large_uploads_spool_to_disk(tmp_path: Path, size: int, on_disk: bool) -> None:
    app = make_app()
    spooled: list[tuple[bool, bool]] = []

    @app.post("/upload")
    async def upload() -> str:
        storage = (await request.files)["file"]
        stream = storage.stream
        rolled = stream._rolled
        has_fd = rolled and isinstance(stream._file.fileno(), int)
        spooled.append((rolled, has_fd))
        await storage.save(tmp_path / "saved")
        return "ok"

    data = (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    assert (await post_file(app, data)).status_code == 200
    assert spooled == [(on_disk, on_disk)]
    assert (tmp_path / "saved").read_bytes() == data


async def test_uploaded_files_are_closed_after_the_request() -> None:
    app = make_app()
    seen = capture_uploads(app)
    with trio.fail_after(10):
        response = await app.test_client().post(
            "/upload",
            data=file_part("file", "a.bin", b"x" * (SPOOL_MAX_SIZE * 2)),
            headers=MULTIPART,
        )
    assert response.status_code == 200
    assert len(seen) == 1 and seen[0].stream.closed


async def test_several_files_under_one_name() -> None:
    app = make_app()
    capture_uploads(app)
    with trio.fail_after(10):
        response = await app.test_client().post(
            "/upload",
            data=file_part("file", "one.txt", b"1", closing=False)
            + b"\r\n"
            + file_part("file", "two.txt", b"2"),
            headers=MULTIPART,
        )
    assert await response.get_json() == {"names": ["one.txt", "two.txt"]}


async def test_streamed_upload_is_parsed_as_it_arrives() -> None:
    app = make_app()
    seen = capture_uploads(app)
    body = file_part("file", "streamed.bin", b"z" * 300_000)
    with trio.fail_after(10):
        # data=b"-" only keeps the test client from replacing the Content-Type with a
        # multipart boundary of its own (a streamed request sends no data argument).
        async with app.test_client().request(
            "/upload", method="POST", headers=MULTIPART, data=b"-"
        ) as connection:
            for start in range(0, len(body), 10_000):
                await connection.send(body[start : start + 10_000])
            await connection.send_complete()
            response = await connection.as_response()
    assert response.status_code == 200
    assert seen[0].filename == "streamed.bin"


async def test_truncated_upload_is_400_and_leaks_no_temporary_file() -> None:
    app = make_app()
    capture_uploads(app)
    truncated = file_part("file", "cut.bin", b"y" * (SPOOL_MAX_SIZE * 3), closing=False)
    with trio.fail_after(10):
        response = await app.test_client().post("/upload", data=truncated, headers=MULTIPART)
    assert response.status_code == 400


async def test_load_replaces_the_data(tmp_path: Path) -> None:
    (tmp_path / "source.bin").write_bytes(b"loaded data")
    storage = FileStorage(io.BytesIO(b"old"), filename="x.bin")
    await storage.load(tmp_path / "source.bin", buffer_size=3)
    assert storage.read() == b"loaded data"
    await storage.save(tmp_path / "copy.bin")  # at the end now: nothing left to copy
    assert (tmp_path / "copy.bin").read_bytes() == b""
    storage.close()


# ---- form limits ------------------------------------------------------------------------


def form_app(**config: Any) -> TrioQuart:
    app = make_app()
    app.config.update(config)

    @app.post("/form")
    async def form() -> dict[str, int]:
        return {"fields": len(await request.form), "files": len(await request.files)}

    return app


async def post_form(app: TrioQuart, data: bytes, content_type: str) -> Any:
    with trio.fail_after(10):
        return await app.test_client().post(
            "/form", data=data, headers={"Content-Type": content_type}
        )


async def test_urlencoded_body_over_max_form_memory_size_is_413() -> None:
    two_megabytes = b"field=" + b"x" * (2 * 1024 * 1024)
    response = await post_form(form_app(), two_megabytes, "application/x-www-form-urlencoded")
    assert response.status_code == 413


async def test_urlencoded_with_too_many_fields_is_413() -> None:
    many = "&".join(f"f{n}=1" for n in range(200_000)).encode()
    app = form_app(MAX_FORM_MEMORY_SIZE=None)  # the number of fields alone must refuse it
    response = await post_form(app, many, "application/x-www-form-urlencoded")
    assert response.status_code == 413


async def test_urlencoded_within_the_limits_parses() -> None:
    body = "&".join(f"f{n}=1" for n in range(100)).encode()
    response = await post_form(form_app(), body, "application/x-www-form-urlencoded")
    assert await response.get_json() == {"fields": 100, "files": 0}


async def test_multipart_field_over_max_form_memory_size_is_413() -> None:
    app = form_app(MAX_FORM_MEMORY_SIZE=1000)
    field = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode()
        + b"n" * 5000
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = await post_form(app, field, MULTIPART["Content-Type"])
    assert response.status_code == 413


async def test_multipart_with_too_many_parts_is_413() -> None:
    app = form_app(MAX_FORM_PARTS=5)
    parts = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nv\r\n'.encode()
        for n in range(6)
    )
    response = await post_form(
        app, parts + f"--{BOUNDARY}--\r\n".encode(), MULTIPART["Content-Type"]
    )
    assert response.status_code == 413


async def test_files_do_not_count_against_max_form_memory_size() -> None:
    # (werkzeug's decoder holds back up to 64 KiB of a part, so, as in Flask, a limit
    # below that refuses files too.)
    app = form_app(MAX_FORM_MEMORY_SIZE=100_000)
    body = file_part("file", "big.bin", b"q" * (2 * 1024 * 1024))
    response = await post_form(app, body, MULTIPART["Content-Type"])
    assert await response.get_json() == {"fields": 0, "files": 1}


async def test_upload_over_max_content_length_is_413() -> None:
    app = form_app(MAX_CONTENT_LENGTH=1024 * 1024)
    body = file_part("file", "big.bin", b"q" * (2 * 1024 * 1024))
    response = await post_form(app, body, MULTIPART["Content-Type"])
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"no boundary anywhere",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n".encode(),  # headers cut off
        f"--{BOUNDARY}\r\nNot-A-Header\r\n\r\nvalue\r\n--{BOUNDARY}--\r\n".encode(),
    ],
)
async def test_malformed_multipart_is_400(body: bytes) -> None:
    response = await post_form(form_app(), body, MULTIPART["Content-Type"])
    assert response.status_code == 400


async def test_parts_without_a_name_are_not_kept() -> None:
    # RFC 7578 requires a name on every part; werkzeug's decoder reports one without it as
    # named None, which would put a None key beside the strings (and break sorting them).
    app = make_app()

    @app.post("/form")
    async def form() -> dict[str, Any]:
        fields, files = await request.form, await request.files
        return {"fields": sorted(fields), "files": sorted(files)}

    body = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; filename="a.txt"\r\n\r\nfile\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kept"\r\n\r\nx\r\n'
        f"--{BOUNDARY}--\r\n"
    ).encode()
    response = await post_form(app, body, f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 200
    assert await response.get_json() == {"fields": ["kept"], "files": []}
