"""The smallest trioquart app. From the repository root, serve it with::

    trioquart run examples.hello:app

then open http://127.0.0.1:5000/ or http://127.0.0.1:5000/json.
"""

from __future__ import annotations

from trioquart import TrioQuart

app = TrioQuart(__name__)


@app.get("/")
async def index() -> str:
    return "Hello, World!"


@app.get("/json")
async def hello_json() -> dict[str, str]:
    # A dict return value becomes a JSON response.
    return {"hello": "world"}
