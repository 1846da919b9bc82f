"""Hostile input through a real Hypercorn server: oversized and slow bodies, malformed
JSON, invalid UTF-8, too many form fields, path traversal and forged session cookies.

Every case checks two things: the answer is the safe one (a clear 4xx, never a 5xx, never
a traceback in the body, nothing logged as an error), and the server still answers a
health check within a second afterwards.

Requests whose exact bytes matter are sent on a raw trio socket: httpx would normalise
``..`` segments, percent-encodings and header values before they reached the server.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
import trio

from trioquart import Response, TrioQuart, request, session
from trioquart.files import send_from_directory
from trioquart.testing import LiveServer, serve_app

MB = 1024 * 1024
SECRET = b"TOP SECRET: never served"
BOUNDARY = "hostileboundary"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An app root: ``static/`` and ``downloads/`` to serve from, and secrets beside them
    (``secret.txt`` next to the folders, ``static-private/secret.txt`` in a sibling whose
    name starts like the static folder's)."""
    (tmp_path / "static" / "css").mkdir(parents=True)
    (tmp_path / "static" / "css" / "site.css").write_bytes(b"body { color: red; }")
    (tmp_path / "static" / "ok.txt").write_bytes(b"public")
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "report.txt").write_bytes(b"the report")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "static-private").mkdir()
    (tmp_path / "static-private" / "secret.txt").write_bytes(SECRET)
    return tmp_path


@pytest.fixture(autouse=True)
def nothing_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Bad input is the client's mistake: it is answered, not logged as a server error."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors]


def make_app(root: Path | None = None) -> TrioQuart:
    app = TrioQuart(__name__, root_path=str(root) if root is not None else None)
    app.config.update(
        MAX_CONTENT_LENGTH=1 * MB,
        BODY_TIMEOUT=1,
        SECRET_KEY="hostile test key",
    )

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.post("/data")
    async def data() -> str:
        return str(len(await request.get_data()))

    @app.post("/stream")
    async def stream() -> str:
        total = 0
        async for chunk in request.body:
            total += len(chunk)
        return str(total)

    @app.post("/text")
    async def text() -> str:
        return await request.get_data(as_text=True)

    @app.post("/drain")
    async def drain() -> str:
        # Lifts the limit for this request, and waits once first, so the connection reads
        # the body ahead into its bounded buffer while the handler is slower than the client.
        request.max_content_length = None
        total = 0
        await trio.sleep(0.01)
        async for chunk in request.body:
            total += len(chunk)
            await trio.sleep(0.001)  # slower than the client
        return str(total)

    @app.post("/json")
    async def json_body() -> dict[str, Any]:
        return {"json": await request.get_json(force=True)}

    @app.post("/form")
    async def form() -> str:
        return (await request.form)["x"]

    @app.post("/form-count")
    async def form_count() -> str:
        return str(len(await request.form))

    @app.get("/args")
    async def args() -> str:
        return request.args["q"]

    @app.get("/p/<path:rest>")
    async def path(rest: str) -> str:
        return rest

    @app.post("/login")
    async def login() -> str:
        session["user"] = "alice"
        return "logged in"

    @app.get("/session")
    async def read_session() -> dict[str, Any]:
        return {"session": dict(session)}

    if root is not None:

        @app.get("/files/<path:name>")
        async def files(name: str) -> Response:
            return await send_from_directory(root / "downloads", name)

    return app


@pytest.fixture
async def server() -> AsyncIterator[LiveServer]:
    async with serve_app(make_app()) as live:
        yield live


async def assert_healthy(server: LiveServer) -> None:
    """The server still answers: a fresh connection gets ``/health`` within a second."""
    with trio.fail_after(1):
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/health")
    assert (response.status_code, response.text) == (200, "ok")


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    """Everything the server sends until it closes the connection (a reset after the
    answer counts as closing: the server may drop a connection whose body it refused)."""
    received = b""
    try:
        while chunk := await stream.receive_some(65536):
            received += chunk
    except trio.BrokenResourceError:
        pass
    return received


async def exchange(server: LiveServer, raw: bytes, timeout: float = 5) -> bytes:
    """Send ``raw`` (a whole request, exactly as given) and return the whole answer; the
    request should say ``Connection: close``."""
    with trio.fail_after(timeout):
        stream = await trio.open_tcp_stream(server.host, server.port)
        async with stream:
            try:
                await stream.send_all(raw)
            except trio.BrokenResourceError:
                pass  # refused before the request was all sent; the answer is still read
            return await read_until_closed(stream)


def post(target: str, body: bytes, content_type: str | bytes) -> bytes:
    """A whole POST request (``Connection: close``); a bytes content type goes as given."""
    if isinstance(content_type, str):
        content_type = content_type.encode("latin-1")
    head = f"POST {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n".encode()
    return (
        head
        + b"Content-Type: "
        + content_type
        + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def status_of(answer: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert match is not None, answer[:200]
    return int(match.group(1))


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


def assert_clean(answer: bytes, *statuses: int) -> None:
    """One of ``statuses``, with no traceback or internal detail in the body."""
    assert status_of(answer) in statuses, answer[:300]
    assert b"Traceback" not in answer
    assert b'File "' not in answer


def rss_bytes() -> int:
    """This process's resident set size (the server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# ---- 1. bodies over MAX_CONTENT_LENGTH ------------------------------------------------------


@pytest.mark.parametrize("target", ["/data", "/stream", "/json", "/form"])
async def test_declared_length_over_the_limit_is_413_before_any_body(
    server: LiveServer, target: str
) -> None:
    """A Content-Length over MAX_CONTENT_LENGTH is refused without waiting for the body,
    which is never sent here: an answer can only come from the header."""
    head = (
        f"POST {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {50 * MB}\r\n\r\n"
    ).encode()
    answer = await exchange(server, head, timeout=2)  # well inside BODY_TIMEOUT + margin
    assert_clean(answer, 413)
    await assert_healthy(server)


@pytest.mark.parametrize("target", ["/data", "/stream", "/json", "/form"])
async def test_chunked_body_over_the_limit_is_413(server: LiveServer, target: str) -> None:
    piece = 64 * 1024
    chunk = f"{piece:x}\r\n".encode() + b"x" * piece + b"\r\n"
    head = (
        f"POST {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(server.host, server.port)
        async with stream, trio.open_nursery() as nursery:

            async def upload() -> None:
                try:
                    await stream.send_all(head)
                    for _ in range(32):  # 2 MB, twice the limit
                        await stream.send_all(chunk)
                    await stream.send_all(b"0\r\n\r\n")
                except trio.BrokenResourceError:
                    pass  # the server stopped reading once it had answered

            nursery.start_soon(upload)
            answer = await read_until_closed(stream)
            nursery.cancel_scope.cancel()
    assert_clean(answer, 413)
    await assert_healthy(server)


@pytest.mark.parametrize(
    ("target", "status", "answer_body"),
    [
        # Gathered with the 1 MB limit: refused once the count passes it.
        ("/data", 413, None),
        # Streamed with no limit (the handler lifts it): all 50 MB go through the server,
        # held back by its bounded read-ahead rather than buffered.
        ("/drain", 200, str(50 * MB).encode()),
    ],
)
async def test_huge_chunked_upload_keeps_memory_bounded(
    target: str, status: int, answer_body: bytes | None
) -> None:
    """50 MB streamed (chunked) at a handler: the server's memory (it runs in this
    process) grows by far less than what the client sent."""
    total = 50 * MB
    piece = 256 * 1024
    chunk = f"{piece:x}\r\n".encode() + b"m" * piece + b"\r\n"
    sent = 0
    peak = 0
    async with serve_app(make_app()) as server:
        gc.collect()
        baseline = rss_bytes()
        with trio.fail_after(20):
            stream = await trio.open_tcp_stream(server.host, server.port)
            async with stream, trio.open_nursery() as nursery:

                async def watch_memory() -> None:
                    nonlocal peak
                    while True:
                        peak = max(peak, rss_bytes())
                        await trio.sleep(0.005)

                async def upload() -> None:
                    nonlocal sent
                    try:
                        await stream.send_all(
                            f"POST {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n".encode()
                        )
                        while sent < total:
                            await stream.send_all(chunk)
                            sent += piece
                        await stream.send_all(b"0\r\n\r\n")
                    except trio.BrokenResourceError:
                        pass

                nursery.start_soon(watch_memory)
                nursery.start_soon(upload)
                answer = await read_until_closed(stream)
                nursery.cancel_scope.cancel()
        peak = max(peak, rss_bytes())
        assert_clean(answer, status)
        if answer_body is not None:
            assert body_of(answer) == answer_body
        grown = (peak - baseline) / MB
        assert grown < 20, f"RSS grew by {grown:.1f} MB while {sent / MB:.1f} MB were sent"
        await assert_healthy(server)


# ---- 2. a body that trickles in --------------------------------------------------------------


async def drip(stream: trio.SocketStream, interval: float) -> None:
    """Send one byte every ``interval`` seconds, until the server stops listening."""
    try:
        while True:
            await stream.send_all(b"x")
            await trio.sleep(interval)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


@pytest.mark.parametrize(
    ("target", "interval"),
    [
        # Gathering (get_data, form, JSON) bounds the whole read by BODY_TIMEOUT, so one
        # byte a second (each well inside the timeout on its own) still ends in 408.
        ("/data", 1.0),
        ("/form", 1.0),
        ("/json", 1.0),
        ("/data", 0.2),
        # Streaming bounds each wait for a chunk (a long upload may take its time as long
        # as it keeps moving), so a client stalling longer than BODY_TIMEOUT is cut off.
        ("/stream", 2.0),
    ],
)
async def test_trickling_body_gets_408_and_the_connection_closes(
    server: LiveServer, target: str, interval: float
) -> None:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: test\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    with trio.fail_after(6):
        stream = await trio.open_tcp_stream(server.host, server.port)
        async with stream, trio.open_nursery() as nursery:
            await stream.send_all(head)
            started = trio.current_time()
            nursery.start_soon(drip, stream, interval)
            # No Connection: close from the client: the server must close by itself.
            answer = await read_until_closed(stream)
            waited = trio.current_time() - started
            nursery.cancel_scope.cancel()
    assert_clean(answer, 408)
    assert b"connection: close" in answer.lower()
    assert waited < 4, waited
    await assert_healthy(server)


# ---- 3. malformed JSON -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000, id="100k-nested-arrays"),
        pytest.param(b'{"a":' * 100_000, id="100k-nested-objects"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100k-nested-closed"),
        pytest.param(b'{"a": ', id="truncated"),
        pytest.param(b"{'a': 1}", id="single-quotes"),
        pytest.param(b"", id="empty"),
        pytest.param(b"1" * 100_000, id="100k-digit-integer"),
        pytest.param(b'{"a": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"caf\xe9": 1}', id="latin-1"),
        pytest.param(b"\xff\xfe{\x00", id="utf16-bom-truncated"),
        pytest.param(b"\xef\xbb\xbf\xff", id="utf8-bom-then-garbage"),
        pytest.param(b'{"a": 1}\x00', id="trailing-nul"),
    ],
)
async def test_bad_json_is_400(server: LiveServer, body: bytes) -> None:
    answer = await exchange(server, post("/json", body, "application/json"))
    assert_clean(answer, 400)
    await assert_healthy(server)


# ---- 4. invalid UTF-8 ------------------------------------------------------------------------


async def test_percent_encoded_invalid_utf8_in_the_path_is_replaced(server: LiveServer) -> None:
    """The ASGI server decodes the path with replacement, as werkzeug does for WSGI's
    PATH_INFO (``errors="replace"``): the route matches and sees U+FFFD, no error."""
    answer = await exchange(
        server, b"GET /p/%ff%fe HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    assert status_of(answer) == 200
    assert body_of(answer) == "\ufffd\ufffd".encode()
    await assert_healthy(server)


@pytest.mark.parametrize(
    "target", [b"/p/\xff\xfe", b"/args?q=\xff\xfe", b"/p/\xc0\xae\xc0\xae", b"/p/a\x00b"]
)
async def test_raw_invalid_bytes_in_the_request_target_are_400(
    server: LiveServer, target: bytes
) -> None:
    """Bytes outside visible ASCII cannot be in a request target; the server refuses the
    request line before the app is called."""
    answer = await exchange(
        server, b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    assert_clean(answer, 400)
    await assert_healthy(server)


async def test_percent_encoded_invalid_utf8_in_the_query_stays_encoded(
    server: LiveServer,
) -> None:
    """werkzeug (2.3+) documents that invalid bytes in ``args`` remain percent-encoded,
    rather than failing the request or dropping them: a Flask handler sees ``%FF%FE``."""
    answer = await exchange(
        server, b"GET /args?q=%ff%fe HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    assert status_of(answer) == 200
    assert body_of(answer) == b"%FF%FE"
    await assert_healthy(server)


async def test_percent_encoded_invalid_utf8_in_a_form_stays_encoded(server: LiveServer) -> None:
    """Form values are decoded as ``args`` are (werkzeug: invalid bytes stay
    percent-encoded)."""
    answer = await exchange(server, post("/form", b"x=%ff%fe", "application/x-www-form-urlencoded"))
    assert status_of(answer) == 200
    assert body_of(answer) == b"%FF%FE"
    await assert_healthy(server)


async def test_raw_invalid_utf8_in_a_urlencoded_form_is_400(server: LiveServer) -> None:
    """A urlencoded body is ASCII by definition: raw non-UTF-8 bytes are a malformed body.
    (werkzeug's own parser turns the decoding error into an empty form, so ``form["x"]``
    is a 400 there as well.)"""
    answer = await exchange(
        server, post("/form", b"x=\xff\xfe", "application/x-www-form-urlencoded")
    )
    assert_clean(answer, 400)
    await assert_healthy(server)


def multipart(*parts: tuple[bytes, bytes], boundary: str = BOUNDARY) -> bytes:
    """A multipart body of ``(disposition parameters, value)`` parts."""
    out = b""
    for params, value in parts:
        out += f"--{boundary}\r\n".encode()
        out += b"Content-Disposition: form-data; " + params + b"\r\n\r\n" + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


async def test_invalid_utf8_in_a_multipart_value_is_replaced(server: LiveServer) -> None:
    """werkzeug decodes multipart field values with ``errors="replace"``, so a Flask
    handler gets U+FFFD for the invalid bytes, not an error."""
    answer = await exchange(server, post("/form", multipart((b'name="x"', b"\xff\xfe")), MULTIPART))
    assert status_of(answer) == 200
    assert body_of(answer) == "\ufffd\ufffd".encode()
    await assert_healthy(server)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(multipart((b'name="\xff\xfe"', b"v")), id="invalid-utf8-name"),
        pytest.param(multipart((b'name="x"; filename="\xff.txt"', b"v")), id="invalid-filename"),
        pytest.param(multipart((b"", b"v")), id="no-name"),
        pytest.param(f"--{BOUNDARY}\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode(), id="no-headers"),
        pytest.param(f"--{BOUNDARY}\r\nContent-Disposition".encode(), id="truncated-headers"),
        pytest.param(b"no boundary anywhere", id="no-boundary"),
        pytest.param(f"--{BOUNDARY}\r\n".encode() * 3, id="only-boundaries"),
    ],
)
async def test_malformed_multipart_is_400(server: LiveServer, body: bytes) -> None:
    answer = await exchange(server, post("/form", body, MULTIPART))
    assert_clean(answer, 400)
    await assert_healthy(server)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary="unterminated',
        "multipart/form-data; boundary=\xff\xfe",
        "multipart/form-data; boundary=" + "b" * 5000,
    ],
)
async def test_bad_multipart_boundary_is_400(server: LiveServer, content_type: str) -> None:
    raw = post("/form", multipart((b'name="x"', b"v")), content_type)
    answer = await exchange(server, raw)
    assert_clean(answer, 400)
    await assert_healthy(server)


async def test_invalid_utf8_in_a_body_read_as_text_is_replaced(server: LiveServer) -> None:
    """werkzeug's ``get_data(as_text=True)`` decodes with ``errors="replace"``."""
    answer = await exchange(server, post("/text", b"ok \xff\xfe", "text/plain"))
    assert status_of(answer) == 200
    assert body_of(answer) == "ok \ufffd\ufffd".encode()
    await assert_healthy(server)


async def h2_get(server: LiveServer, target: bytes) -> tuple[int | None, bytes]:
    """``GET target`` over HTTP/2 (prior knowledge) with the ``:path`` exactly as given,
    which no HTTP/2 client library would send; the status (None if the stream ended
    without a response) and the body."""
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False)
    connection = h2.connection.H2Connection(config)
    connection.initiate_connection()
    stream_id = connection.get_next_available_stream_id()
    connection.send_headers(
        stream_id,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"test"), (b":path", target)],
        end_stream=True,
    )
    status: int | None = None
    body = b""
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream(server.host, server.port)
        async with stream:
            await stream.send_all(connection.data_to_send())
            while data := await stream.receive_some(65536):
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        status = int(dict(event.headers)[b":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        body += event.data
                        connection.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                        return status, body
                await stream.send_all(connection.data_to_send())
    return status, body


async def test_raw_invalid_utf8_in_the_query_over_http2_stays_encoded(
    server: LiveServer,
) -> None:
    """HTTP/2 does not restrict the bytes of ``:path``, so raw non-UTF-8 bytes reach the
    app's query string. They stay percent-encoded in ``args``, as percent-encoded ones do
    in werkzeug (whose own ``args`` fails on raw ones)."""
    assert await h2_get(server, b"/args?q=%ff%fe") == (200, b"%FF%FE")
    assert await h2_get(server, b"/args?q=\xff\xfe") == (200, b"%FF%FE")
    await assert_healthy(server)


async def test_invalid_utf8_header_values_are_read_as_latin1(server: LiveServer) -> None:
    """Header values are bytes; werkzeug reads them as Latin-1 (WSGI's rule), so nothing
    in them can fail to decode."""
    answer = await exchange(
        server,
        b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        b"User-Agent: \xff\xfe\r\nAccept-Language: \xff;q=\xfe\r\nX-Odd: \xc0\xae\r\n\r\n",
    )
    assert status_of(answer) == 200
    await assert_healthy(server)


# ---- 5. too many form fields and parts -------------------------------------------------------


async def test_100k_urlencoded_fields_is_413(server: LiveServer) -> None:
    body = b"&".join([b"f="] * 100_000)
    limits = make_app().config
    # Under MAX_CONTENT_LENGTH and MAX_FORM_MEMORY_SIZE: the field count is what trips.
    assert len(body) < min(limits["MAX_CONTENT_LENGTH"], limits["MAX_FORM_MEMORY_SIZE"])
    answer = await exchange(server, post("/form-count", body, "application/x-www-form-urlencoded"))
    assert_clean(answer, 413)
    await assert_healthy(server)


async def test_more_multipart_parts_than_max_form_parts_is_413(server: LiveServer) -> None:
    limit = make_app().config["MAX_FORM_PARTS"]
    body = multipart(*[(f'name="f{index}"'.encode(), b"") for index in range(limit + 1)])
    assert len(body) < 1 * MB
    answer = await exchange(server, post("/form-count", body, MULTIPART))
    assert_clean(answer, 413)
    await assert_healthy(server)


async def test_max_form_parts_exactly_is_accepted(server: LiveServer) -> None:
    """The limit itself is allowed: the 413 above is the count, not multipart as such."""
    limit = make_app().config["MAX_FORM_PARTS"]
    body = multipart(*[(f'name="f{index}"'.encode(), b"") for index in range(limit)])
    answer = await exchange(server, post("/form-count", body, MULTIPART))
    assert status_of(answer) == 200
    assert body_of(answer) == str(limit).encode()
    await assert_healthy(server)


# ---- 6. path traversal -----------------------------------------------------------------------

TRAVERSALS = [
    b"../secret.txt",
    b"..%2fsecret.txt",
    b"..%2Fsecret.txt",
    b"%2e%2e/secret.txt",
    b"%2e%2e%2fsecret.txt",
    b"%2E%2E%2Fsecret.txt",
    b"css/../../secret.txt",
    b"css/%2e%2e%2f%2e%2e%2fsecret.txt",
    b"./../secret.txt",
    b"..\\secret.txt",
    b"..%5csecret.txt",
    b"..%5Csecret.txt",
    b"css%5c..%5c..%5csecret.txt",
    b"%252e%252e%252fsecret.txt",
    b"%252e%252e/secret.txt",
    b"..%252fsecret.txt",
    b"....//secret.txt",
    b"..;/secret.txt",
    b"%c0%ae%c0%ae/secret.txt",
    b"%c0%ae%c0%ae%c0%afsecret.txt",
    b"..%00/secret.txt",
    b"ok.txt%00../../secret.txt",
    b"%00",
    b"ok.txt%00",
    b"%2fetc%2fpasswd",
    b"/etc/passwd",
    b"%2f..%2fsecret.txt",
    b"..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"../static-private/secret.txt",
    b"..%2fstatic-private%2fsecret.txt",
    b"css",
    b"",
]


async def answer_following_merges(server: LiveServer, target: bytes) -> list[bytes]:
    """The answer to ``GET target``, and if that is werkzeug's redirect merging doubled
    slashes (308), the answer at its Location too (a client would follow it)."""
    request_line = b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    answers = [await exchange(server, request_line)]
    if status_of(answers[0]) == 308:
        location = re.search(rb"\r\nlocation: http://test(\S+)\r\n", answers[0], re.I)
        assert location is not None, answers[0][:300]
        answers += await answer_following_merges(server, location.group(1))
    return answers


@pytest.mark.parametrize("prefix", [b"/static/", b"/files/"])
async def test_traversal_never_leaves_the_folder(root: Path, prefix: bytes) -> None:
    absolute = str(root / "secret.txt").encode()
    targets = [prefix + t for t in TRAVERSALS]
    targets += [
        prefix + absolute,  # /static//tmp/.../secret.txt
        prefix + quote(absolute, safe="").encode(),  # the same, %2F-encoded
        # The absolute form of the request target, with a host of its own.
        b"http://test" + prefix + b"../secret.txt",
        b"http://test" + prefix + b"%2e%2e%2fsecret.txt",
    ]
    failures = []
    async with serve_app(make_app(root)) as server:
        for target in targets:
            for answer in await answer_following_merges(server, target):
                status = status_of(answer)
                if SECRET in answer or b"root:" in answer:
                    failures.append((target, "leaked", answer[:200]))
                elif status not in {308, 400, 404}:
                    failures.append((target, status, answer[:200]))
        served = await exchange(
            server,
            b"GET "
            + prefix
            + (b"ok.txt" if prefix == b"/static/" else b"report.txt")
            + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        await assert_healthy(server)
    assert not failures, failures
    assert status_of(served) == 200  # the folder itself is served


# ---- 7. forged session cookies ---------------------------------------------------------------


def flip(value: str, index: int) -> str:
    replacement = "A" if value[index] != "A" else "B"
    return value[:index] + replacement + value[index + 1 :]


async def test_forged_session_cookies_give_an_empty_session(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        with trio.fail_after(2):
            await client.post("/login")
            genuine = client.cookies["session"]
            check = await client.get("/session")
    assert check.json() == {"session": {"user": "alice"}}  # the genuine cookie works
    payload, timestamp, signature = genuine.split(".")[-3:]
    forged = [
        # The signature's first character (its last one carries base64 padding bits, which
        # decoding ignores: changing those can leave the signature's bytes as they were).
        flip(genuine, len(genuine) - len(signature)),
        flip(genuine, len(genuine) - len(signature) // 2),
        flip(genuine, len(genuine) - len(signature) - 2),  # the timestamp
        flip(genuine, 0),  # the payload
        f"{payload}.{timestamp}.",  # no signature
        f"{payload}..{signature}",  # no timestamp
        "eyJ1c2VyIjoibWFsbG9yeSJ9." + timestamp + "." + signature,  # someone else's payload
        "." + genuine,  # marked compressed
        ".eJzLSM3JyVcozy/KSVEEAB2-BAs." + timestamp + "." + signature,  # zlib payload
        "garbage",
        ".",
        "...",
        "\u00e9\u00ff",
        "A" * 8000,  # far over MAX_COOKIE_SIZE, within what the server reads
        genuine + "A" * 6000,
        '"\\377\\376"',
    ]
    failures = []
    for value in forged:
        raw = (
            b"GET /session HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
            b"Cookie: session=" + value.encode("latin-1") + b"\r\n\r\n"
        )
        answer = await exchange(server, raw)
        if status_of(answer) != 200 or json.loads(body_of(answer)) != {"session": {}}:
            failures.append((value[:60], answer[:200]))
    # Several session cookies, a cookie header of raw non-ASCII bytes.
    for cookie in [
        b"session=" + genuine.encode() + b"; session=garbage",
        b"session=\xff\xfe\x80",
        b"session",
        b"=; ;;session==",
    ]:
        raw = b"GET /session HTTP/1.1\r\nHost: test\r\nConnection: close\r\nCookie: "
        answer = await exchange(server, raw + cookie + b"\r\n\r\n")
        if status_of(answer) != 200:
            failures.append((cookie[:60], answer[:200]))
    assert not failures, failures
    await assert_healthy(server)
