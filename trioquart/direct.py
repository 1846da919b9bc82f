"""The direct path from a view's most common return values to a response.

Most views return a ``str`` (or ``bytes``), a ``dict`` or a response of their own
(``jsonify``'s). :meth:`TrioQuart.make_response` handles every kind of return value; for
these a response is built (or passed on) here straight away, skipping the coroutine and
the checks for tuples, iterables and exceptions. The response is the one
``make_response`` would have made: same class, body and headers. (Passing a response on
measured with callgrind, in-process ``POST /json`` of ``examples/bench_app.py``, whose view
returns ``jsonify(...)``: 353.7 k -> 351.5 k instructions per request.)

The path is only taken while nothing customises response making: an extension (Quart-Schema)
replaces ``make_response`` on the app instance, a subclass may override it, and either must
see every return value. A ``dict`` goes through the app's JSON provider unless it is
exactly Flask's ``DefaultJSONProvider``: then its settings are read as usual, but the
``json.JSONEncoder`` those settings make is kept and reused (``json.dumps`` with any
argument builds a new one per call), which gives the same bytes.

The same holds the other way, for a request's JSON body (:func:`load_json`): with the
default provider, bytes that can only be UTF-8 are decoded and parsed here, as
``json.loads`` would do them, without its encoding detection and the provider's call
around it. Measured with callgrind (in-process ``POST /json`` of ``examples/bench_app.py``,
300 requests): 361.4 k -> 353.7 k instructions per request.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask.json.provider import DefaultJSONProvider

from .overrides import uses_own

if TYPE_CHECKING:
    from .app import TrioQuart
    from .plan import Plan
    from .wrappers.response import Response


def direct_response(app: TrioQuart, rv: Any, plan: Plan | None) -> Response | None:
    """The response for ``rv`` if it is a ``str``, ``bytes``, ``dict`` or an instance of
    exactly the app's ``response_class``, and the app makes its responses itself (as its
    ``plan`` says, if it has one yet); None to go through ``app.make_response``."""
    kind: type = type(rv)
    if kind is not str and kind is not bytes and kind is not dict:
        if kind is not app.response_class:
            return None
    if not (plan.own_make_response if plan is not None else uses_own(app, "make_response")):
        return None
    if kind is dict:
        return json_response(app, rv)
    if kind is str or kind is bytes:
        return app.response_class(rv)
    return rv  # a response already (``jsonify``'s, say): make_response passes it through


def json_response(app: TrioQuart, obj: Any) -> Response:
    """``app.json.response(obj)``, with a reused encoder for the default provider."""
    provider: Any = app.json
    if type(provider) is not DefaultJSONProvider:
        return provider.response(obj)
    compact = provider.compact
    pretty = compact is False or (compact is None and app.debug)
    settings = (provider.default, provider.ensure_ascii, provider.sort_keys, pretty)
    kept = provider.__dict__.get("_trioquart_encoder")
    if kept is None or kept[0] != settings:
        encoder = json.JSONEncoder(
            default=settings[0],
            ensure_ascii=settings[1],
            sort_keys=settings[2],
            **({"indent": 2} if pretty else {"separators": (",", ":")}),
        )
        kept = provider.__dict__["_trioquart_encoder"] = (settings, encoder)
    return app.response_class(f"{kept[1].encode(obj)}\n", mimetype=provider.mimetype)


#: ``json.loads`` without arguments parses with a decoder made like this one.
_DECODER = json.JSONDecoder()


def load_json(app: TrioQuart, data: bytes) -> Any:
    """``app.json.loads(data)``, parsed directly for the default provider."""
    provider: Any = app.json
    # json.loads takes bytes as UTF-8 unless they start with a byte order mark or a NUL
    # (UTF-16 or UTF-32): bytes whose first two are non-zero ASCII (or the one byte of a
    # single-byte document) can only be UTF-8.
    if (
        type(provider) is DefaultJSONProvider
        and data
        and 0 < data[0] < 0x80
        and (len(data) == 1 or data[1])
    ):
        return _DECODER.decode(data.decode("utf-8", "surrogatepass"))
    return provider.loads(data)
