"""The app the benchmarks in ``benchmarks/`` measure (see ``docs/benchmarks.rst``).

It has exactly the endpoints every framework in the comparison implements::

    GET  /                 -> 200 "Hello, World!"
    GET  /json             -> {"hello": "world"}
    GET  /items/<int:id>   -> {"id": id, "q": <the "q" query argument>}
    POST /json             -> the posted JSON document, echoed
    WS   /ws               -> accepts, then echoes every text message

Serve it with ``hypercorn -k trio examples.bench_app:app`` from the repository root.
Keep it minimal: anything added here is added to every measured request.
"""

from __future__ import annotations

from typing import Any

from trioquart import Response, TrioQuart, jsonify, request, websocket

app = TrioQuart(__name__)


@app.get("/")
async def index() -> str:
    return "Hello, World!"


@app.get("/json")
async def hello_json() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/items/<int:id>")
async def item(id: int) -> dict[str, Any]:
    return {"id": id, "q": request.args.get("q")}


@app.post("/json")
async def echo_json() -> Response:
    # jsonify, so that any JSON document (a list, a string, null) comes back as JSON.
    return jsonify(await request.get_json())


@app.websocket("/ws")
async def echo_ws() -> None:
    await websocket.accept()
    while True:
        await websocket.send(await websocket.receive())
