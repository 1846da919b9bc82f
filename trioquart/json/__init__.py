"""JSON as Flask does it, through the current app's provider.

``app.json`` is Flask's provider (:class:`DefaultJSONProvider` unless the app class sets
``json_provider_class``, or ``app.json`` is replaced): it serialises dates as HTTP dates,
``UUID`` and ``Decimal`` as strings and dataclasses as objects, sorts keys, and writes
compact output unless the app is in debug mode. The functions here use the current app's
provider when there is an application context, and the standard library (with Flask's
handling of those extra types) otherwise, as :mod:`flask.json` and :mod:`quart.json` do.

:func:`jsonify` makes a response, so it needs an application context.
"""

from __future__ import annotations

import json as _json
from typing import IO, TYPE_CHECKING, Any

from flask.json.provider import DefaultJSONProvider, JSONProvider
from flask.json.tag import JSONTag, TaggedJSONSerializer

from ..globals import _cv_app

if TYPE_CHECKING:
    from ..wrappers.response import Response

__all__ = [
    "DefaultJSONProvider",
    "JSONProvider",
    "JSONTag",
    "TaggedJSONSerializer",
    "dump",
    "dumps",
    "jsonify",
    "load",
    "loads",
]


def _provider() -> JSONProvider | None:
    app_ctx = _cv_app.get()
    return app_ctx.app.json if app_ctx is not None else None


def dumps(obj: Any, **kwargs: Any) -> str:
    """``obj`` as a JSON string; ``kwargs`` go to the provider (or :func:`json.dumps`)."""
    provider = _provider()
    if provider is not None:
        return provider.dumps(obj, **kwargs)
    kwargs.setdefault("default", DefaultJSONProvider.default)
    return _json.dumps(obj, **kwargs)


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """Write ``obj`` as JSON to the text file ``fp``."""
    provider = _provider()
    if provider is not None:
        provider.dump(obj, fp, **kwargs)
        return
    kwargs.setdefault("default", DefaultJSONProvider.default)
    _json.dump(obj, fp, **kwargs)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse the JSON text (or UTF-8 bytes) ``s``."""
    provider = _provider()
    if provider is not None:
        return provider.loads(s, **kwargs)
    return _json.loads(s, **kwargs)


def load(fp: IO[Any], **kwargs: Any) -> Any:
    """Parse JSON read from the file ``fp``."""
    provider = _provider()
    if provider is not None:
        return provider.load(fp, **kwargs)
    return _json.load(fp, **kwargs)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """An ``application/json`` response, byte for byte what Flask's ``jsonify`` makes.

    One positional argument is serialised as it is; several become a list; keyword
    arguments become an object (positional and keyword arguments cannot be mixed).
    """
    provider = _provider()
    if provider is None:
        raise RuntimeError(
            "jsonify makes a response, which needs an application context"
            " (a request, or `async with app.app_context()`)."
        )
    return provider.response(*args, **kwargs)  # type: ignore[return-value]
