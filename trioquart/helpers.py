"""The helpers a view calls: ``abort``, ``redirect``, ``make_response``, ``jsonify``,
``url_for``. Each uses the current app where there is one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.utils import redirect as _werkzeug_redirect

from .direct import json_response
from .globals import _cv_app, current_app, request

if TYPE_CHECKING:
    from werkzeug.sansio.response import Response as SansIOResponse

    from .wrappers.response import Response


def abort(code: int | SansIOResponse, *args: Any, **kwargs: Any) -> NoReturn:
    """Stop the request with an HTTP error: ``abort(404)``, ``abort(401, "Log in first")``,
    or ``abort(response)`` to answer with that response."""
    app_ctx = _cv_app.get()
    if app_ctx is not None:
        app_ctx.app.aborter(code, *args, **kwargs)
    _werkzeug_abort(code, *args, **kwargs)


def redirect(location: str, code: int = 302) -> Response:
    """A response redirecting to ``location``."""
    app_ctx = _cv_app.get()
    if app_ctx is not None:
        return app_ctx.app.redirect(location, code)  # type: ignore[return-value]
    from .wrappers.response import Response

    return _werkzeug_redirect(location, code, Response=Response)  # type: ignore[arg-type,return-value]


async def make_push_promise(path: str) -> None:
    """Ask an HTTP/2 server to push ``path`` along with this response (a no-op where the
    server cannot push)."""
    await request.send_push_promise(path)


async def make_response(*args: Any) -> Response:
    """A response from a view-style return value, to add headers or cookies to it:
    ``response = await make_response("Hello", 201)``."""
    if not args:
        return current_app.response_class()
    if len(args) == 1:
        args = args[0]
    return await current_app.make_response(args)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """A JSON response from the arguments, serialised by ``app.json``."""
    if len(args) == 1 and not kwargs:
        # The app from its context directly, not through current_app's proxy (callgrind,
        # in-process POST /json of examples/bench_app.py: 351.5 k -> 350.0 k per request).
        app_ctx = _cv_app.get()
        app = app_ctx.app if app_ctx is not None else current_app._get_current_object()  # type: ignore[attr-defined]
        return json_response(app, args[0])
    return current_app.json.response(*args, **kwargs)  # type: ignore[return-value]


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: Any,
) -> str:
    """The URL for ``endpoint`` with ``values`` (see :meth:`TrioQuart.url_for`)."""
    return current_app.url_for(
        endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
    )
