"""The benchmark app (``examples/bench_app.py``) answers every endpoint the benchmarks
measure, so a speed-up that breaks one of them shows up here rather than as a fast number."""

from __future__ import annotations

import trio

from examples.bench_app import app

TIMEOUT = 5


async def test_index() -> None:
    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "Hello, World!"
    assert response.mimetype in {"text/plain", "text/html"}


async def test_json() -> None:
    response = await app.test_client().get("/json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert await response.get_json() == {"hello": "world"}


async def test_item_with_converter_and_query() -> None:
    response = await app.test_client().get("/items/7?q=x")
    assert response.status_code == 200
    assert await response.get_json() == {"id": 7, "q": "x"}


async def test_item_without_query() -> None:
    response = await app.test_client().get("/items/7")
    assert await response.get_json() == {"id": 7, "q": None}


async def test_item_rejects_a_non_integer() -> None:
    response = await app.test_client().get("/items/seven")
    assert response.status_code == 404


async def test_post_json_echo() -> None:
    document = {"a": [1, 2, {"b": None}], "c": "é"}
    response = await app.test_client().post("/json", json=document)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert await response.get_json() == document


async def test_post_json_echo_of_a_list() -> None:
    response = await app.test_client().post("/json", json=[1, "two"])
    assert await response.get_json() == [1, "two"]


async def test_websocket_echo() -> None:
    with trio.fail_after(TIMEOUT):
        async with app.test_client().websocket("/ws") as ws:
            for message in ["hello", "", "x" * 10_000, "ünïcode"]:
                await ws.send(message)
                assert await ws.receive() == message
