"""JSON: ``trioquart.json`` and ``jsonify`` give Flask's bytes, through ``app.json``."""

from __future__ import annotations

import dataclasses
import io
import json as std_json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import flask
import pytest
from markupsafe import Markup

from trioquart import TrioQuart, request
from trioquart.json import (
    DefaultJSONProvider,
    JSONProvider,
    TaggedJSONSerializer,
    dump,
    dumps,
    jsonify,
    load,
    loads,
)


@dataclasses.dataclass
class Point:
    x: int
    y: int


class HasHtml:
    def __html__(self) -> str:
        return "<b>bold</b>"


SAMPLES: list[Any] = [
    {"a": 1},
    {"b": 2, "a": [1, 2, {"d": None, "c": True}]},
    [1, "two", 3.5],
    "caf\u00e9 \u2603 </script>",
    None,
    {
        "when": datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC),
        "day": date(2024, 3, 1),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "price": Decimal("10.50"),
        "point": Point(1, 2),
        "html": HasHtml(),
        "markup": Markup("<i>x</i>"),
    },
]


def flask_jsonify(*args: Any, debug: bool = False, **kwargs: Any) -> bytes:
    app = flask.Flask("reference")
    app.debug = debug
    with app.app_context():
        return flask.jsonify(*args, **kwargs).get_data()


def flask_dumps(obj: Any, **kwargs: Any) -> str:
    app = flask.Flask("reference")
    with app.app_context():
        return flask.json.dumps(obj, **kwargs)


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
async def test_jsonify_is_byte_identical_to_flask(value: Any) -> None:
    app = make_app()
    async with app.app_context():
        response = jsonify(value)
        assert response.mimetype == "application/json"
        assert await response.get_data() == flask_jsonify(value)
    assert dumps(value) == flask.json.dumps(value)  # without an app, too


async def test_jsonify_argument_forms() -> None:
    app = make_app()
    async with app.app_context():
        assert await jsonify({"a": 1}).get_data() == b'{"a":1}\n'
        assert await jsonify(1, 2).get_data() == b"[1,2]\n" == flask_jsonify(1, 2)
        assert await jsonify(b=1, a=2).get_data() == b'{"a":2,"b":1}\n'
        assert await jsonify().get_data() == b"null\n"
        with pytest.raises(TypeError):
            jsonify(1, a=2)


async def test_jsonify_in_debug_is_indented_as_in_flask() -> None:
    app = make_app()
    app.debug = True
    value = {"b": 1, "a": [1, 2]}
    async with app.app_context():
        assert await jsonify(value).get_data() == flask_jsonify(value, debug=True)


async def test_jsonify_through_a_view_and_the_top_level_export() -> None:
    import trioquart

    app = make_app()

    @app.get("/")
    async def index() -> Any:
        return jsonify(echo=request.args["q"])

    @app.get("/helper")
    async def helper() -> Any:
        return trioquart.jsonify([request.args["q"]])

    @app.get("/dict")
    async def as_dict() -> Any:
        return {"z": 1, "a": Decimal("1.5")}

    client = app.test_client()
    response = await client.get("/", query_string={"q": "hi"})
    assert response.headers["Content-Type"] == "application/json"
    assert await response.get_data() == b'{"echo":"hi"}\n'
    assert await (await client.get("/helper", query_string={"q": "x"})).get_data() == b'["x"]\n'
    assert await (await client.get("/dict")).get_data() == b'{"a":"1.5","z":1}\n'


def test_jsonify_needs_an_app_context() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        jsonify({"a": 1})


def test_without_an_app_the_standard_library_is_used_with_flasks_types() -> None:
    value = {"b": Decimal("2"), "a": uuid.UUID(int=1), "d": date(2020, 1, 2)}
    # Not sorted and not compact (json.dumps defaults), as flask.json does without an app.
    assert dumps(value) == flask.json.dumps(value)
    assert dumps(value).startswith('{"b": "2"')
    assert loads('{"a": [1]}') == {"a": [1]}
    assert loads(b'{"a": 1}') == {"a": 1}
    out = io.StringIO()
    dump(value, out)
    assert out.getvalue() == dumps(value)
    assert load(io.StringIO('{"x": true}')) == {"x": True}
    with pytest.raises(TypeError):
        dumps(object())


async def test_with_an_app_the_provider_is_used() -> None:
    app = make_app()
    value = {"b": 1, "a": datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)}
    async with app.app_context():
        assert (
            dumps(value) == flask_dumps(value) == '{"a": "Thu, 02 Jan 2020 03:04:05 GMT", "b": 1}'
        )
        out = io.StringIO()
        dump(value, out)
        assert out.getvalue() == dumps(value)
        assert loads('{"a": 1}') == {"a": 1}
        assert load(io.StringIO("[1]")) == [1]
        # Keyword arguments reach the provider.
        assert dumps({"a": 1}, indent=1) == '{\n "a": 1\n}'
        app.json.sort_keys = False  # type: ignore[attr-defined]
        assert dumps({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents


class MoneyProvider(DefaultJSONProvider):
    """Knows one more type, and marks its output."""

    mimetype = "application/vnd.example+json"

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Money):
            return f"{o.cents / 100:.2f} EUR"
        return DefaultJSONProvider.default(o)


async def test_provider_class_on_an_app_subclass() -> None:
    class MoneyApp(TrioQuart):
        json_provider_class = MoneyProvider

    app = MoneyApp(__name__)
    assert isinstance(app.json, MoneyProvider)

    @app.get("/price")
    async def price() -> Any:
        return {"price": Money(1999)}

    @app.get("/jsonify")
    async def as_jsonify() -> Any:
        return jsonify(Money(5))

    client = app.test_client()
    response = await client.get("/price")
    assert response.headers["Content-Type"] == "application/vnd.example+json"
    assert await response.get_data() == b'{"price":"19.99 EUR"}\n'
    assert await (await client.get("/jsonify")).get_data() == b'"0.05 EUR"\n'
    async with app.app_context():
        assert dumps([Money(1)]) == '["0.01 EUR"]'


class UpperProvider(JSONProvider):
    """A provider written from scratch (another JSON library, say)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return std_json.dumps(obj, **kwargs).upper()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return {"loaded": std_json.loads(s, **kwargs)}


async def test_assigning_app_json() -> None:
    app = make_app()
    app.json = UpperProvider(app)

    @app.post("/echo")
    async def echo() -> Any:
        return jsonify(await request.get_json())

    response = await app.test_client().post("/echo", json={"name": "ada"})
    assert response.mimetype == "application/json"
    # request.get_json parsed with the provider's loads, jsonify wrote with its dumps (the
    # base class's response adds no newline).
    assert await response.get_data() == b'{"LOADED": {"NAME": "ADA"}}'
    async with app.app_context():
        assert dumps(["x"]) == '["X"]'
        assert loads("[1]") == {"loaded": [1]}


def test_tagged_serializer_is_flasks() -> None:
    serializer = TaggedJSONSerializer()
    value = {"t": (1, 2), "b": b"\x00", "u": uuid.UUID(int=5), "m": Markup("<x>")}
    assert serializer.loads(serializer.dumps(value)) == value
    assert TaggedJSONSerializer is flask.json.tag.TaggedJSONSerializer


def test_provider_and_tag_modules_port_quart_imports() -> None:
    from flask.json.provider import DefaultJSONProvider as FlaskProvider
    from flask.json.tag import TaggedJSONSerializer as FlaskSerializer

    from trioquart.json.provider import DefaultJSONProvider
    from trioquart.json.tag import TaggedJSONSerializer

    assert DefaultJSONProvider is FlaskProvider
    assert TaggedJSONSerializer is FlaskSerializer
