"""Application and request contexts, pushed onto context variables.

A context is pushed with ``async with`` and popped when the block ends. Popping runs the
teardown functions inside a shielded cancel scope bounded by ``TEARDOWN_TIMEOUT``: teardown
must still be able to await (close a database connection, say) after a client disconnect
has cancelled the request, but it must not hang the connection forever.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

import trio
from werkzeug.exceptions import HTTPException

from . import signals
from .globals import _cv_app, _cv_request, _cv_websocket
from .overrides import uses_own
from .routing import match, remembered_match, unbound_match_key
from .sessions import SecureCookieSessionInterface

if TYPE_CHECKING:
    from flask.ctx import _AppCtxGlobals
    from flask.sessions import SessionMixin
    from werkzeug.routing import MapAdapter

    from .app import TrioQuart
    from .routing import MatchKey
    from .wrappers.request import Request
    from .wrappers.response import Response
    from .wrappers.websocket import Websocket

P = ParamSpec("P")
R = TypeVar("R")

logger = logging.getLogger("trioquart")

_sentinel: Any = object()
_COOKIE_OPEN_SESSION = SecureCookieSessionInterface.open_session


class _Shielded:
    """Run a block shielded from outside cancellation, but never longer than ``timeout``."""

    def __init__(self, timeout: float | None, what: str) -> None:
        self.scope = trio.CancelScope(shield=True)
        if timeout is not None:
            self.scope.deadline = trio.current_time() + timeout
        self.what = what

    def __enter__(self) -> trio.CancelScope:
        return self.scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        handled = self.scope.__exit__(exc_type, exc, tb)
        if self.scope.cancelled_caught:
            logger.error("%s did not finish within TEARDOWN_TIMEOUT and was cancelled", self.what)
        return handled


class _Pushed:
    """``async with context:`` pushes it, and pops it (with the block's error) at the end."""

    async def push(self) -> None:
        raise TypeError(f"{type(self).__name__} must define push")

    async def pop(self, exc: BaseException | None = _sentinel) -> None:
        raise TypeError(f"{type(self).__name__} must define pop")

    async def __aenter__(self) -> Self:
        await self.push()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.pop(exc)


class AppContext(_Pushed):
    """The application context: ``current_app`` and ``g``.

    Pushed for every request and websocket, for lifespan hooks and background tasks, and by
    hand with ``async with app.app_context()``.
    """

    def __init__(self, app: TrioQuart) -> None:
        self.app = app
        self._g: _AppCtxGlobals | None = None
        self._url_adapter: MapAdapter | None = _sentinel
        # The outermost push's token, and those of pushes of this context inside it (rare,
        # so no list is kept for them until one happens).
        self._token: Token[AppContext | None] | None = None
        self._inner_tokens: list[Token[AppContext | None]] | None = None

    @property
    def url_adapter(self) -> MapAdapter | None:
        # Built on first use: most requests never build a URL outside a request context.
        if self._url_adapter is _sentinel:
            self._url_adapter = self.app.create_url_adapter(None)
        return self._url_adapter

    @property
    def g(self) -> _AppCtxGlobals:
        """The context's ``g``, made on first use: most requests never touch it."""
        g = self._g
        if g is None:
            g = self._g = self.app.app_ctx_globals_class()
        return g

    @g.setter
    def g(self, value: _AppCtxGlobals) -> None:
        self._g = value

    async def push(self) -> None:
        self._enter()
        if signals.appcontext_pushed.receivers:
            await signals.send(signals.appcontext_pushed, self.app)

    def _enter(self) -> None:
        """What pushing does besides the ``appcontext_pushed`` signal."""
        token = _cv_app.set(self)
        if self._token is None:
            self._token = token
        else:
            if self._inner_tokens is None:
                self._inner_tokens = []
            self._inner_tokens.append(token)

    def _leave_quietly(self) -> bool:
        """Pop the outermost push now if popping has nothing to await (no teardown, no
        signal receivers); False, and nothing done, otherwise."""
        app = self.app
        if (
            self._inner_tokens
            or self._token is None
            or app.teardown_appcontext_funcs
            or signals.appcontext_tearing_down.receivers
            or signals.appcontext_popped.receivers
        ):
            return False
        token, self._token = self._token, None
        _cv_app.reset(token)
        return True

    async def pop(self, exc: BaseException | None = _sentinel) -> None:
        app = self.app
        try:
            if not self._inner_tokens and (
                app.teardown_appcontext_funcs or signals.appcontext_tearing_down.receivers
            ):
                if exc is _sentinel:
                    exc = None
                with _Shielded(app.config["TEARDOWN_TIMEOUT"], "teardown_appcontext"):
                    await app.do_teardown_appcontext(exc)
        finally:
            if self._inner_tokens:
                token = self._inner_tokens.pop()
            else:
                if self._token is None:
                    raise RuntimeError("This application context is not pushed.")
                token, self._token = self._token, None
            _cv_app.reset(token)
        if signals.appcontext_popped.receivers:
            with trio.CancelScope(shield=True):
                await signals.send(signals.appcontext_popped, app)

    def copy(self) -> AppContext:
        """A new context for the same app sharing this one's ``g``."""
        ctx = AppContext(self.app)
        ctx._g = self.g
        return ctx


class _ConnectionContext(_Pushed):
    """What the request and websocket contexts share: the connection, its session and
    its matched URL rule. Pushing one also pushes an application context if none is
    active for this app: directly when it is trioquart's own with nothing to await around
    it (measured with callgrind, in the commit that did so, together with the lazy ``g``:
    ``GET /`` 210.3 k -> 206.9 k instructions per request)."""

    _cv: ContextVar[Any]
    _teardown_label: str

    def __init__(
        self,
        app: TrioQuart,
        connection: Request | Websocket,
        session: SessionMixin | None = None,
    ) -> None:
        self.app = app
        self.connection = connection
        #: The error that reached the app's unhandled-error path (a 500 or a 1011);
        #: teardown functions get it.
        self.unhandled_error: BaseException | None = None
        #: An error that an error handler (or an HTTPException's own response) answered.
        self.handled_error: BaseException | None = None
        self.flashes: list[tuple[str, str]] | None = None
        self._session = session
        # As in AppContext: the outermost push (with the app context it pushed, if any),
        # and pushes of this context inside it.
        self._token: Token[Any] | None = None
        self._pushed_app_ctx: AppContext | None = None
        self._inner_tokens: list[tuple[Token[Any], AppContext | None]] | None = None
        self._url_adapter: MapAdapter | None = _sentinel
        self._match_key: MatchKey | None = None
        plan = app._plan
        if plan.own_url_adapter if plan is not None else uses_own(app, "create_url_adapter"):
            self._match_key = unbound_match_key(
                app.url_map, connection, app.subdomain_matching, app.config["TRUSTED_HOSTS"]
            )
        if self._match_key is None:
            self._bind()  # now, so that an untrusted Host is a routing error from the start

    @property
    def url_adapter(self) -> MapAdapter | None:
        """The URL map bound to this connection (None if that failed, as for an untrusted
        Host); bound on first use where matching did not need it."""
        adapter = self._url_adapter
        return self._bind() if adapter is _sentinel else adapter

    @url_adapter.setter
    def url_adapter(self, adapter: MapAdapter | None) -> None:
        self._url_adapter = adapter

    def _bind(self) -> MapAdapter | None:
        adapter: MapAdapter | None
        try:
            adapter = self.app.create_url_adapter(self.connection)
        except HTTPException as error:  # an untrusted Host header, say
            adapter = None
            self.connection.routing_exception = error
        self._url_adapter = adapter
        return adapter

    @property
    def session(self) -> SessionMixin:
        """The session; reading it marks it accessed, so the response varies on Cookie."""
        session = self._session
        if session is None:
            raise RuntimeError("The session is opened when the context is pushed.")
        session.accessed = True
        return session

    def match_request(self) -> None:
        """Match against the URL map; a failure is kept for dispatch to raise."""
        key = self._match_key
        if key is not None and self._url_adapter is _sentinel:
            known = remembered_match(self.app.url_map, key)
            if known is not None:
                self.connection.url_rule, self.connection.view_args = known
                return
        adapter = self.url_adapter
        if adapter is None:
            return
        try:
            rule, view_args = match(adapter)
        except HTTPException as error:
            self.connection.routing_exception = error
        else:
            self.connection.url_rule = rule
            self.connection.view_args = view_args

    async def push(self) -> None:
        app_ctx = _cv_app.get()
        new_app_ctx: AppContext | None = None
        if app_ctx is None or app_ctx.app is not self.app:
            new_app_ctx = self.app.app_context()
            if type(new_app_ctx) is AppContext and not signals.appcontext_pushed.receivers:
                new_app_ctx._enter()
            else:
                await new_app_ctx.push()
        token = self._cv.set(self)
        if self._token is None:
            self._token, self._pushed_app_ctx = token, new_app_ctx
        else:
            if self._inner_tokens is None:
                self._inner_tokens = []
            self._inner_tokens.append((token, new_app_ctx))
        if self._session is None:
            app = self.app
            interface = app.session_interface
            session: SessionMixin | None = None
            # The default interface opens none without a secret key: known without
            # awaiting it (callgrind, in-process GET /: 206.9 k -> 205.9 k instructions).
            if app.secret_key or type(interface).open_session is not _COOKIE_OPEN_SESSION:
                session = await interface.open_session(app, self.connection)
            self._session = session if session is not None else app._null_session
        self.match_request()

    async def _teardown(self, exc: BaseException | None) -> None:
        raise TypeError("subclasses define their teardown")

    def _has_teardown(self) -> bool:
        """Whether popping has teardown work (functions or signal receivers) to await."""
        raise TypeError("subclasses say whether they have teardown work")

    def _close(self) -> None:
        """Release what the connection holds (uploaded files)."""

    async def pop(self, exc: BaseException | None = _sentinel) -> None:
        try:
            if not self._inner_tokens:
                if exc is _sentinel:
                    exc = None
                if self._has_teardown():
                    with _Shielded(self.app.config["TEARDOWN_TIMEOUT"], self._teardown_label):
                        await self._teardown(exc)
                self._close()
        finally:
            if self._inner_tokens:
                token, app_ctx = self._inner_tokens.pop()
            else:
                if self._token is None:
                    raise RuntimeError("This context is not pushed.")
                token, app_ctx = self._token, self._pushed_app_ctx
                self._token = self._pushed_app_ctx = None
            self._cv.reset(token)
            if app_ctx is not None and not (
                type(app_ctx) is AppContext and app_ctx._leave_quietly()
            ):
                await app_ctx.pop(exc)

    def copy(self) -> Self:
        """A new context for the same connection and session (for the copy decorators)."""
        return self.__class__(self.app, self.connection, self._session)


class RequestContext(_ConnectionContext):
    """The request context: ``request``, ``session`` and the matched URL rule."""

    _cv = _cv_request
    _teardown_label = "teardown_request"

    def __init__(
        self, app: TrioQuart, request: Request, session: SessionMixin | None = None
    ) -> None:
        super().__init__(app, request, session)
        self.request = request
        self._after_request_functions: list[Callable[[Response], Awaitable[Response]]] = []

    def _has_teardown(self) -> bool:
        return bool(self.app.teardown_request_funcs or signals.request_tearing_down.receivers)

    async def _teardown(self, exc: BaseException | None) -> None:
        await self.app.do_teardown_request(exc)

    def _close(self) -> None:
        self.request.close()


class WebsocketContext(_ConnectionContext):
    """The websocket context: ``websocket``, the (read-only) ``session`` and the matched
    websocket rule."""

    _cv = _cv_websocket
    _teardown_label = "teardown_websocket"

    def __init__(
        self, app: TrioQuart, websocket: Websocket, session: SessionMixin | None = None
    ) -> None:
        super().__init__(app, websocket, session)
        self.websocket = websocket

    def _has_teardown(self) -> bool:
        return bool(self.app.teardown_websocket_funcs or signals.websocket_tearing_down.receivers)

    async def _teardown(self, exc: BaseException | None) -> None:
        await self.app.do_teardown_websocket(exc)

    def _close(self) -> None:
        pass


def after_this_request(func: Callable[[Response], Any]) -> Callable[[Response], Any]:
    """Run ``func`` on this request's response, after the ``after_request`` functions'
    turn comes (it runs first of them), as in Flask."""
    ctx = _cv_request.get()
    if ctx is None:
        raise RuntimeError("after_this_request can only be used within a request context.")
    ctx._after_request_functions.append(ctx.app.ensure_async(func))
    return func


def has_app_context() -> bool:
    """Whether an application context is active in this task."""
    return _cv_app.get() is not None


def has_request_context() -> bool:
    """Whether a request context is active in this task."""
    return _cv_request.get() is not None


def copy_current_app_context(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap ``func`` so it runs inside a copy of the current application context.

    Tasks started from a handler already inherit the context; this is for code that runs
    somewhere that does not (another trio run, a callback stored for later).
    """
    ctx = _cv_app.get()
    if ctx is None:
        raise RuntimeError("copy_current_app_context needs an active application context.")
    app_ctx = ctx.copy()

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        async with app_ctx:
            return await func(*args, **kwargs)

    return wrapper


def copy_current_request_context(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap ``func`` so it runs inside a copy of the current request context."""
    ctx = _cv_request.get()
    if ctx is None:
        raise RuntimeError("copy_current_request_context needs an active request context.")
    request_ctx = ctx.copy()

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        async with request_ctx:
            return await func(*args, **kwargs)

    return wrapper


def has_websocket_context() -> bool:
    """Whether a websocket context is active in this task."""
    return _cv_websocket.get() is not None


def copy_current_websocket_context(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """Wrap ``func`` so it runs inside a copy of the current websocket context."""
    ctx = _cv_websocket.get()
    if ctx is None:
        raise RuntimeError("copy_current_websocket_context needs an active websocket context.")
    websocket_ctx = ctx.copy()

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        async with websocket_ctx:
            return await func(*args, **kwargs)

    return wrapper
