"""HTTP through a real Hypercorn trio worker, with httpx (or a raw socket) as the client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest
import trio

from trioquart import TrioQuart, abort, request
from trioquart.testing import serve_app


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    return app


async def test_request_and_json_round_trip() -> None:
    app = make_app()

    @app.post("/echo/<int:number>")
    async def echo(number: int) -> Any:
        return {"number": number, "q": request.args["q"], "body": await request.get_json()}

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/echo/7?q=x", json={"a": [1, 2]})
    assert response.status_code == 200
    assert response.json() == {"number": 7, "q": "x", "body": {"a": [1, 2]}}


async def test_streamed_response_arrives_in_pieces() -> None:
    app = make_app()

    @app.get("/count")
    async def count() -> Any:
        async def numbers() -> AsyncIterator[str]:
            for index in range(5):
                yield f"{index}\n"
                await trio.sleep(0.01)

        return numbers(), {"Content-Type": "text/plain"}

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            async with client.stream("GET", "/count") as response:
                async with aclosing(response.aiter_text()) as texts:
                    pieces = [piece async for piece in texts]
    assert "".join(pieces) == "0\n1\n2\n3\n4\n"
    assert response.headers.get("transfer-encoding") == "chunked"


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    received = b""
    while chunk := await stream.receive_some(65536):
        received += chunk
    return received


async def test_chunked_upload_over_max_content_length_is_413() -> None:
    app = make_app()
    read: list[int] = []

    @app.post("/upload")
    async def upload() -> str:
        total = 0
        async for chunk in request.body:
            total += len(chunk)
            read.append(total)
        return str(total)

    piece = b"64\r\n" + b"x" * 100 + b"\r\n"  # one 100-byte chunk
    with trio.fail_after(10):
        async with serve_app(app) as server:
            stream = await trio.open_tcp_stream(server.host, server.port)
            async with stream:
                await stream.send_all(
                    b"POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                    b"Connection: close\r\n\r\n"
                )
                try:
                    for _ in range(50):  # 5000 bytes, no Content-Length anywhere
                        await stream.send_all(piece)
                    await stream.send_all(b"0\r\n\r\n")
                except trio.BrokenResourceError:
                    pass  # the server may close before the upload ends
                received = await read_until_closed(stream)
            async with httpx.AsyncClient(base_url=server.url) as client:
                small = await client.post("/upload", content=b"y" * 10)
    assert received.startswith(b"HTTP/1.1 413")
    assert max(read) <= 1100  # the handler stopped as soon as the limit was crossed
    assert (small.status_code, small.text) == (200, "10")


async def test_client_disconnect_cancels_the_streaming_generator() -> None:
    app = make_app()
    generator_closed = trio.Event()
    teardown_awaited = trio.Event()

    @app.get("/forever")
    async def forever() -> Any:
        async def ticks() -> AsyncIterator[str]:
            try:
                while True:
                    yield "tick\n"
                    await trio.sleep(0.01)
            finally:
                generator_closed.set()

        return ticks()

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        await trio.sleep(0.01)
        teardown_awaited.set()

    with trio.fail_after(10):
        async with serve_app(app) as server:
            stream = await trio.open_tcp_stream(server.host, server.port)
            await stream.send_all(b"GET /forever HTTP/1.1\r\nHost: test\r\n\r\n")
            first = await stream.receive_some(65536)
            await stream.aclose()  # the client hangs up mid-stream
            await generator_closed.wait()
            await teardown_awaited.wait()
            async with httpx.AsyncClient(base_url=server.url) as client:
                follow_up = await client.get("/missing")
    assert first.startswith(b"HTTP/1.1 200")
    assert follow_up.status_code == 404


async def test_response_timeout_is_a_visible_failure(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    app.config["RESPONSE_TIMEOUT"] = 0.2

    @app.get("/slow")
    async def slow() -> Any:
        async def chunks() -> AsyncIterator[str]:
            yield "beginning "
            await trio.sleep(5)
            yield "end"

        return chunks()

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/slow")
    assert any("took longer than its timeout" in r.getMessage() for r in caplog.records)


async def test_body_timeout_answers_408_and_closes_the_connection() -> None:
    app = make_app()
    app.config["BODY_TIMEOUT"] = 0.2

    @app.post("/upload")
    async def upload() -> str:
        return str(len(await request.get_data()))

    with trio.fail_after(10):
        async with serve_app(app) as server:
            stream = await trio.open_tcp_stream(server.host, server.port)
            async with stream:
                await stream.send_all(
                    b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\npartial"
                )
                received = await read_until_closed(stream)
    assert received.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in received.lower()


@pytest.mark.parametrize("path", ["/", "/waits", "/with-task"])
async def test_keep_alive_timeout_still_closes_an_idle_connection(path: str) -> None:
    # Hypercorn restarts the connection's idle timer inside a response's last send(): an
    # app that cancelled that send would leave the connection open for good.
    app = make_app()

    @app.get("/")
    async def index() -> str:
        return "quick"

    @app.get("/waits")
    async def waits() -> str:
        await trio.sleep(0.01)  # the disconnect watcher runs
        return "after a wait"

    @app.get("/with-task")
    async def with_task() -> str:
        request.nursery.start_soon(trio.sleep_forever)  # cancelled once the response is sent
        return "with a task"

    with trio.fail_after(10):
        async with serve_app(app, keep_alive_timeout=0.3) as server:
            stream = await trio.open_tcp_stream(server.host, server.port)
            async with stream:
                for _ in range(3):  # keep-alive: several requests on one connection
                    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
                    received = b""
                    while b"\r\n\r\n" not in received:
                        received += await stream.receive_some(4096)
                    head, _, body = received.partition(b"\r\n\r\n")
                    assert head.startswith(b"HTTP/1.1 200")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    while len(body) < length:
                        body += await stream.receive_some(4096)
                    assert len(body) == length
                started = trio.current_time()
                with trio.fail_after(3):
                    assert await stream.receive_some(4096) == b""  # closed by the server
                waited = trio.current_time() - started
    assert waited < 2


class FatalToWorker(BaseException):
    """Escaping the ASGI callable, this would take Hypercorn's whole trio worker down."""


async def test_base_exception_in_a_handler_does_not_kill_the_server() -> None:
    app = make_app()

    @app.get("/fatal")
    async def fatal() -> str:
        raise FatalToWorker()

    @app.get("/")
    async def index() -> str:
        return "still here"

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            first = await client.get("/fatal")
            second = await client.get("/")
    assert first.status_code == 500
    assert (second.status_code, second.text) == (200, "still here")


async def test_error_in_a_request_task_reaches_the_error_handler() -> None:
    app = make_app()

    @app.errorhandler(LookupError)
    async def lookup_failed(error: LookupError) -> tuple[str, int]:
        return "not there", 404

    @app.get("/")
    async def index() -> str:
        async def fetch() -> None:
            raise KeyError("missing")

        request.nursery.start_soon(fetch)
        await trio.sleep(5)
        return "unreachable"

    @app.get("/denied")
    async def denied() -> str:
        async def check() -> None:
            abort(403)

        request.nursery.start_soon(check)
        await trio.sleep(5)
        return "unreachable"

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            handled = await client.get("/")
            aborted = await client.get("/denied")
    assert (handled.status_code, handled.text) == (404, "not there")
    assert aborted.status_code == 403


async def test_head_keeps_content_length_without_a_body() -> None:
    app = make_app()

    @app.get("/")
    async def index() -> str:
        return "twelve bytes"

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            response = await client.head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "12"
    assert response.content == b""


async def test_background_task_outlives_its_request_and_shutdown_waits() -> None:
    app = make_app()
    events: list[str] = []

    async def slow_job() -> None:
        await trio.sleep(0.1)
        events.append("job done")

    @app.post("/jobs")
    async def start_job() -> tuple[str, int]:
        app.add_background_task(slow_job)
        return "accepted", 202

    @app.after_serving
    async def stop() -> None:
        events.append("after_serving")

    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/jobs")
            events.append("response received")
    assert response.status_code == 202
    assert events == ["response received", "job done", "after_serving"]


async def test_http2_requests_with_and_without_a_declared_body_length() -> None:
    """Over HTTP/2 a body may come without Content-Length, so it must still be read; a GET
    without a body must not wait for one."""
    app = make_app()

    @app.route("/echo", methods=["GET", "POST"])
    async def echo() -> Any:
        return {"version": request.http_version, "body": (await request.get_data()).decode()}

    async def streamed() -> AsyncIterator[bytes]:
        yield b"no "
        yield b"length"

    with trio.fail_after(10):
        async with serve_app(app) as server:
            async with httpx.AsyncClient(base_url=server.url, http1=False, http2=True) as client:
                got = await client.get("/echo")
                posted = await client.post("/echo", content=b"declared")
                unsized = await client.post("/echo", content=streamed())
    assert got.http_version == "HTTP/2"
    assert got.json() == {"version": "2", "body": ""}
    assert posted.json() == {"version": "2", "body": "declared"}
    assert unsized.json() == {"version": "2", "body": "no length"}
