"""The context-local globals: ``current_app``, ``g``, ``request``, ``websocket``, ``session``.

Each is a werkzeug ``LocalProxy`` over a :class:`contextvars.ContextVar`. trio copies the
spawning task's context into every new task, so a task started in a connection's nursery
sees the same request (or websocket) as the handler that started it. A variable set to None
means "no context here": background tasks use that to leave their request behind.

Reading an attribute through a proxy (``request.args``, ``websocket.receive``) is what
handlers do most, several times a request or message. werkzeug's proxy reaches it only after
the ordinary lookup has failed, which made the two reads of a websocket echo a large share
of trioquart's work per round trip, so :class:`_ContextProxy` looks up ordinary names on the
current object straight away.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from flask.ctx import _AppCtxGlobals
    from flask.sessions import SessionMixin

    from .app import TrioQuart
    from .ctx import AppContext, RequestContext, WebsocketContext
    from .wrappers.request import Request
    from .wrappers.websocket import Websocket

_cv_app: ContextVar[AppContext | None] = ContextVar("trioquart.app_ctx", default=None)
_cv_request: ContextVar[RequestContext | None] = ContextVar("trioquart.request_ctx", default=None)
_cv_websocket: ContextVar[WebsocketContext | None] = ContextVar(
    "trioquart.websocket_ctx", default=None
)


_find = object.__getattribute__
#: The proxy's own attributes (werkzeug's), besides the dunder names its class defines.
_PROXY_OWN = frozenset({"_get_current_object", "_LocalProxy__wrapped"})


class _ContextProxy(LocalProxy):
    """A ``LocalProxy`` that reads ordinary attributes of the current object directly.

    Dunder names and the proxy's own attributes keep werkzeug's handling (``__class__``
    still answers for the proxied object, so ``isinstance`` works); setting and deleting
    attributes, operators and everything else are werkzeug's unchanged.
    """

    __slots__ = ()

    def __init__(self, get: Callable[[], Any]) -> None:
        super().__init__(get)
        # werkzeug wraps the function in one of its own; calling it directly is cheaper.
        object.__setattr__(self, "_get_current_object", get)

    def __getattribute__(self, name: str) -> Any:
        if name[:1] == "_" and (name[:2] == "__" or name in _PROXY_OWN):
            return _find(self, name)
        return getattr(_find(self, "_get_current_object")(), name)


def _app_ctx() -> AppContext:
    ctx = _cv_app.get()
    if ctx is None:
        raise RuntimeError(
            "Working outside of application context: push one with `async with app.app_context()`."
        )
    return ctx


def _request_ctx() -> RequestContext:
    ctx = _cv_request.get()
    if ctx is None:
        raise RuntimeError("Working outside of request context: this needs an active HTTP request.")
    return ctx


def _websocket_ctx() -> WebsocketContext:
    ctx = _cv_websocket.get()
    if ctx is None:
        raise RuntimeError("Working outside of websocket context: this needs an active websocket.")
    return ctx


def _current_app() -> TrioQuart:
    ctx = _cv_app.get()
    return (ctx if ctx is not None else _app_ctx()).app


def _g() -> _AppCtxGlobals:
    ctx = _cv_app.get()
    return (ctx if ctx is not None else _app_ctx()).g


def _request() -> Request:
    ctx = _cv_request.get()
    return (ctx if ctx is not None else _request_ctx()).request


def _websocket() -> Websocket:
    ctx = _cv_websocket.get()
    return (ctx if ctx is not None else _websocket_ctx()).websocket


def _session() -> SessionMixin:
    ctx: Any = _cv_request.get() or _cv_websocket.get()
    if ctx is None:
        raise RuntimeError("Working outside of request or websocket context: no session.")
    return ctx.session


app_ctx: AppContext = _ContextProxy(_app_ctx)  # type: ignore[assignment]
request_ctx: RequestContext = _ContextProxy(_request_ctx)  # type: ignore[assignment]
current_app: TrioQuart = _ContextProxy(_current_app)  # type: ignore[assignment]
g: _AppCtxGlobals = _ContextProxy(_g)  # type: ignore[assignment]
websocket_ctx: WebsocketContext = _ContextProxy(_websocket_ctx)  # type: ignore[assignment]
request: Request = _ContextProxy(_request)  # type: ignore[assignment]
websocket: Websocket = _ContextProxy(_websocket)  # type: ignore[assignment]
session: SessionMixin = _ContextProxy(_session)  # type: ignore[assignment]
