"""The four ASGI apps the benchmarks compare, each with the same five endpoints::

    GET  /                 -> 200 "Hello, World!"
    GET  /json             -> {"hello": "world"}
    GET  /items/<int:id>   -> {"id": id, "q": <the "q" query argument>}
    POST /json             -> the posted JSON document, echoed
    WS   /ws               -> accepts, then echoes every text message

``bare``        a hand-written ASGI callable: the floor, what any framework adds costs on top.
``starlette``   Starlette (on trio through anyio).
``trioquart``   ``examples/bench_app.py``, this repository's framework.
``quart-trio``  Quart on trio.

One more app is measured only when asked for (``--only bare,bare-nursery``):
``bare-nursery`` is the bare app run inside a trio nursery of its own for each connection,
as trioquart runs every request: what that structure costs before any framework work.

Each app is built on first use (``get_app(name)``), so a process that measures one framework
imports only that framework. Hypercorn loads them (from the repository root) as
``hypercorn -k trio "benchmarks.apps:get_app('starlette')"``, and ``trioquart run`` (which
takes ``MODULE:ATTRIBUTE`` only) as ``trioquart run benchmarks.served:starlette``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parents[1]
# This checkout's trioquart (and examples/) first on the path, ahead of any installed copy,
# so that the benchmarks measure the code next to them -- also when run from a clone.
if str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))

#: The frameworks measured by default, in the order they are measured and reported in.
FRAMEWORKS = ("bare", "starlette", "trioquart", "quart-trio")
#: Every app ``--only`` may name, in that order (the extra one only when asked for).
KNOWN_APPS = ("bare", "bare-nursery", "starlette", "trioquart", "quart-trio")


# ---- the floor: a hand-written ASGI callable ---------------------------------------------

_TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
_HELLO = b"Hello, World!"
_HELLO_JSON = json.dumps({"hello": "world"}, separators=(",", ":")).encode()


def _json_response_start(body: bytes, status: int = 200) -> dict:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }


def _query_arg(query_string: bytes, name: str) -> str | None:
    """The first value of ``name`` in a query string (percent-decoded), or None."""
    if not query_string:
        return None
    for key, value in parse_qsl(query_string.decode("latin-1")):
        if key == name:
            return value
    return None


async def _bare_http(scope: dict, receive: Any, send: Any) -> None:
    path = scope["path"]
    method = scope["method"]
    if path == "/" and method == "GET":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT_HEADERS})
        await send({"type": "http.response.body", "body": _HELLO})
        return
    if path == "/json" and method == "GET":
        await send(_json_response_start(_HELLO_JSON))
        await send({"type": "http.response.body", "body": _HELLO_JSON})
        return
    if path == "/json" and method == "POST":
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            document = json.loads(b"".join(chunks))
        except ValueError:
            body, status = b'{"error":"invalid JSON"}', 400
        else:
            body, status = json.dumps(document, separators=(",", ":")).encode(), 200
        await send(_json_response_start(body, status))
        await send({"type": "http.response.body", "body": body})
        return
    if path.startswith("/items/") and method == "GET":
        digits = path[len("/items/") :]
        if digits.isascii() and digits.isdigit():
            body = json.dumps(
                {"id": int(digits), "q": _query_arg(scope["query_string"], "q")},
                separators=(",", ":"),
            ).encode()
            await send(_json_response_start(body))
            await send({"type": "http.response.body", "body": body})
            return
    body = b"Not Found"
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _bare_websocket(scope: dict, receive: Any, send: Any) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if scope["path"] != "/ws":
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def _bare_lifespan(scope: dict, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def bare(scope: dict, receive: Any, send: Any) -> None:
    """The floor: the five endpoints written directly against ASGI."""
    kind = scope["type"]
    if kind == "http":
        await _bare_http(scope, receive, send)
    elif kind == "websocket":
        await _bare_websocket(scope, receive, send)
    elif kind == "lifespan":
        await _bare_lifespan(scope, receive, send)


async def bare_nursery(scope: dict, receive: Any, send: Any) -> None:
    """The floor, each connection inside a trio nursery of its own (trioquart's structure)."""
    import trio

    if scope["type"] == "lifespan":
        await _bare_lifespan(scope, receive, send)
        return
    async with trio.open_nursery():
        await bare(scope, receive, send)


# ---- Starlette ---------------------------------------------------------------------------


def make_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def index(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Hello, World!")

    async def hello_json(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "q": request.query_params.get("q")})

    async def echo_json(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    async def echo_ws(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                await ws.send_text(await ws.receive_text())
        except WebSocketDisconnect:
            pass

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/json", hello_json, methods=["GET"]),
            Route("/json", echo_json, methods=["POST"]),
            Route("/items/{id:int}", item, methods=["GET"]),
            WebSocketRoute("/ws", echo_ws),
        ]
    )


# ---- quart-trio --------------------------------------------------------------------------


def make_quart_trio() -> Any:
    from quart import jsonify, request, websocket
    from quart_trio import QuartTrio

    app = QuartTrio("bench_quart_trio")

    @app.get("/")
    async def index() -> str:
        return "Hello, World!"

    @app.get("/json")
    async def hello_json() -> dict:
        return {"hello": "world"}

    @app.get("/items/<int:id>")
    async def item(id: int) -> dict:
        return {"id": id, "q": request.args.get("q")}

    @app.post("/json")
    async def echo_json() -> Any:
        return jsonify(await request.get_json())

    @app.websocket("/ws")
    async def echo_ws() -> None:
        await websocket.accept()
        while True:
            await websocket.send(await websocket.receive())

    return app


# ---- trioquart ---------------------------------------------------------------------------


def make_trioquart() -> Any:
    import trioquart
    from examples.bench_app import app

    if not Path(trioquart.__file__).resolve().is_relative_to(ROOT):
        print(
            f"warning: measuring trioquart from {trioquart.__file__}, not from {ROOT}",
            file=sys.stderr,
        )
    return app


_FACTORIES: dict[str, Callable[[], Any]] = {
    "bare": lambda: bare,
    "bare-nursery": lambda: bare_nursery,
    "starlette": make_starlette,
    "trioquart": make_trioquart,
    "quart-trio": make_quart_trio,
}
_BUILT: dict[str, Any] = {}


def get_app(name: str) -> Any:
    """The ASGI app for the framework ``name`` (one of :data:`KNOWN_APPS`), built once."""
    if name not in _FACTORIES:
        raise KeyError(f"unknown framework {name!r}; choose from {', '.join(KNOWN_APPS)}")
    if name not in _BUILT:
        _BUILT[name] = _FACTORIES[name]()
    return _BUILT[name]


def hypercorn_target(name: str) -> str:
    """The application path to give ``hypercorn`` (run from the repository root)."""
    get_app(name)  # fail early on an unknown name
    return f"benchmarks.apps:get_app({name!r})"


def trioquart_run_target(name: str) -> str:
    """The ``MODULE:ATTRIBUTE`` to give ``trioquart run`` (run from the repository root),
    which takes no call expression: an attribute of :mod:`benchmarks.served`."""
    get_app(name)  # fail early on an unknown name
    return f"benchmarks.served:{name.replace('-', '_')}"
