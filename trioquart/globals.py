"""The context-local globals: ``current_app``, ``g``, ``request``, ``websocket``, ``session``.

Each is a werkzeug ``LocalProxy`` over a :class:`contextvars.ContextVar`. trio copies the
spawning task's context into every new task, so a task started in a connection's nursery
sees the same request (or websocket) as the handler that started it. A variable set to None
means "no context here": background tasks use that to leave their request behind.
"""

from __future__ import annotations

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
    return _app_ctx().app


def _g() -> _AppCtxGlobals:
    return _app_ctx().g


def _request() -> Request:
    return _request_ctx().request


def _websocket() -> Websocket:
    return _websocket_ctx().websocket


def _session() -> SessionMixin:
    ctx: Any = _cv_request.get() or _cv_websocket.get()
    if ctx is None:
        raise RuntimeError("Working outside of request or websocket context: no session.")
    return ctx.session


app_ctx: AppContext = LocalProxy(_app_ctx)  # type: ignore[assignment]
request_ctx: RequestContext = LocalProxy(_request_ctx)  # type: ignore[assignment]
current_app: TrioQuart = LocalProxy(_current_app)  # type: ignore[assignment]
g: _AppCtxGlobals = LocalProxy(_g)  # type: ignore[assignment]
websocket_ctx: WebsocketContext = LocalProxy(_websocket_ctx)  # type: ignore[assignment]
request: Request = LocalProxy(_request)  # type: ignore[assignment]
websocket: Websocket = LocalProxy(_websocket)  # type: ignore[assignment]
session: SessionMixin = LocalProxy(_session)  # type: ignore[assignment]
