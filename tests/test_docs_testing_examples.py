"""The examples of docs/testing.rst, which includes them from this file: each runs here.

The page shows these functions one by one (``literalinclude`` with ``:pyobject:``), so a
change here changes the docs; keep them short and written for a reader.
"""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.lowlevel
import trio_websocket

from trioquart import TrioQuart, abort, current_app, request, session, websocket
from trioquart.testing import LiveServer, WebsocketDisconnectError, WebsocketResponseError


def create_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.config["SECRET_KEY"] = "only for tests"
    app.config["jobs_done"] = []

    @app.get("/")
    async def index():
        return {"hello": request.args.get("name", "world")}

    @app.post("/echo")
    async def echo():
        return await request.get_json()

    @app.post("/login")
    async def login():
        form = await request.form
        session["user"] = form["user"]
        return "welcome"

    @app.get("/me")
    async def me():
        return session.get("user", "nobody")

    @app.get("/count")
    async def count():
        async def numbers():
            for number in range(3):
                yield f"{number}\n"
                await trio.lowlevel.checkpoint()

        return numbers()

    @app.post("/upload")
    async def upload():
        size = 0
        async for chunk in request.body:
            size += len(chunk)
        return {"received": size}

    @app.websocket("/ws")
    async def echo_socket():
        if websocket.args.get("token") != "secret":
            abort(403)
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message == "bye":
                break
            await websocket.send(message.upper())

    @app.post("/jobs")
    async def start_job():
        async def job():
            await trio.sleep(0.01)
            current_app.config["jobs_done"].append("report")

        app.add_background_task(job)
        return "started", 202

    @app.get("/broken")
    async def broken():
        raise RuntimeError("something broke")

    @app.cli.command("greet")
    def greet() -> None:
        print("Hello from the command line")

    return app


@pytest.fixture
def app() -> TrioQuart:
    return create_app()


async def test_get_and_post(app: TrioQuart) -> None:
    client = app.test_client()

    response = await client.get("/", query_string={"name": "Ada"})
    assert response.status_code == 200
    assert await response.get_json() == {"hello": "Ada"}

    response = await client.post("/echo", json={"answer": 42})
    assert await response.get_json() == {"answer": 42}


async def test_cookies_and_session(app: TrioQuart) -> None:
    client = app.test_client()
    await client.post("/login", form={"user": "ada"})
    # The session cookie the app set is sent back on the next request.
    response = await client.get("/me")
    assert await response.get_data(as_text=True) == "ada"

    # A client made with use_cookies=False keeps none.
    fresh = app.test_client(use_cookies=False)
    await fresh.post("/login", form={"user": "ada"})
    response = await fresh.get("/me")
    assert await response.get_data(as_text=True) == "nobody"


async def test_websocket(app: TrioQuart) -> None:
    client = app.test_client()
    async with client.websocket("/ws", query_string={"token": "secret"}) as ws:
        await ws.send("hello")
        assert await ws.receive() == "HELLO"
        await ws.send("bye")
        with pytest.raises(WebsocketDisconnectError) as closed:
            await ws.receive()
    assert closed.value.code == 1000


async def test_websocket_denied(app: TrioQuart) -> None:
    client = app.test_client()
    with pytest.raises(WebsocketResponseError) as denied:
        async with client.websocket("/ws"):
            pass  # not reached: the handshake is refused on entering the block
    assert denied.value.response.status_code == 403


async def test_streamed_response(app: TrioQuart) -> None:
    client = app.test_client()
    async with client.request("/count") as connection:
        chunks = []
        while chunk := await connection.receive():
            chunks.append(chunk)
    assert connection.status_code == 200
    assert chunks == [b"0\n", b"1\n", b"2\n"]


async def test_streamed_upload(app: TrioQuart) -> None:
    client = app.test_client()
    async with client.request("/upload", method="POST") as connection:
        for _ in range(4):
            await connection.send(b"x" * 1000)
        await connection.send_complete()
        response = await connection.as_response()
    assert await response.get_json() == {"received": 4000}


async def test_background_task(app: TrioQuart) -> None:
    # test_app() runs the lifespan: before_serving, app.nursery, and at the end of the
    # block the shutdown, which lets background tasks finish.
    async with app.test_app() as test_app:
        client = test_app.test_client()
        response = await client.post("/jobs")
        assert response.status_code == 202
    assert app.config["jobs_done"] == ["report"]


async def test_real_server(live_server: LiveServer) -> None:
    with trio.fail_after(10):
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            response = await client.get("/")
        assert response.json() == {"hello": "world"}

        url = f"{live_server.ws_url}/ws?token=secret"
        async with trio_websocket.open_websocket_url(url) as ws:
            await ws.send_message("over the wire")
            assert await ws.get_message() == "OVER THE WIRE"


async def test_error_is_logged(app: TrioQuart, caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    response = await client.get("/broken")
    assert response.status_code == 500
    assert "Exception on GET /broken" in caplog.text
    assert "RuntimeError: something broke" in caplog.text


def test_cli_command(app: TrioQuart) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["greet"])
    assert result.exit_code == 0
    assert result.output == "Hello from the command line\n"
