"""``TrioQuart``: the application object.

Registration (routes, hooks, error handlers, blueprints, config) is flask.sansio's, so it
behaves as in Flask. What runs per request is ours and async: dispatch, the hooks in Flask's
order, error handling and response making. The ASGI side (messages, nurseries, timeouts) lives
in :mod:`trioquart.asgi`; the app only sees requests and responses.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from datetime import timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import click
import trio
from flask.sansio.app import App
from flask.sansio.scaffold import setupmethod
from werkzeug.datastructures import Headers, ImmutableDict
from werkzeug.exceptions import BadRequestKeyError, HTTPException, InternalServerError
from werkzeug.routing import BuildError, MapAdapter, RoutingException
from werkzeug.sansio.response import Response as SansIOResponse
from werkzeug.wrappers import Response as WerkzeugResponse

from . import signals
from .asgi import HTTPConnection, serve
from .config import Config
from .ctx import AppContext, RequestContext, WebsocketContext, _ConnectionContext
from .direct import direct_response, json_response
from .errors import choose, explain_asyncio, strip_cancelled
from .globals import _cv_app, _cv_request, _cv_websocket, request_ctx, websocket_ctx
from .plan import PLANNED, Plan
from .routing import bind_to_request
from .scaffold import WebsocketScaffoldMixin
from .sessions import SecureCookieSessionInterface, SessionInterface
from .templating import Environment
from .wrappers.request import Request
from .wrappers.response import Response
from .wrappers.websocket import CloseWebsocket, Websocket, WebsocketDisconnectedError

if TYPE_CHECKING:
    from flask.sessions import SessionMixin

    from .asgi.lifespan import ServingNursery
    from .testing import TestApp, TestClient
    from .testing.cli import TrioQuartCliRunner
    from .typing import ASGIReceive, ASGISend, ResponseReturnValue, Scope

F = TypeVar("F", bound=Callable[..., Any])

_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"

_default_config = {
    "DEBUG": None,
    "TESTING": False,
    "PROPAGATE_EXCEPTIONS": None,
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "TRUSTED_HOSTS": None,
    "SERVER_NAME": None,
    "APPLICATION_ROOT": "/",
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_PARTITIONED": False,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000,
    "SEND_FILE_MAX_AGE_DEFAULT": None,
    "TRAP_BAD_REQUEST_ERRORS": None,
    "TRAP_HTTP_EXCEPTIONS": False,
    "EXPLAIN_TEMPLATE_LOADING": False,
    "PREFERRED_URL_SCHEME": "http",
    "TEMPLATES_AUTO_RELOAD": None,
    "MAX_COOKIE_SIZE": 4093,
    "PROVIDE_AUTOMATIC_OPTIONS": True,
    # trioquart's own settings (the timeouts are in seconds; None disables them).
    "BODY_TIMEOUT": 60,
    "RESPONSE_TIMEOUT": 60,
    "TEARDOWN_TIMEOUT": 10,
    "BACKGROUND_TASK_SHUTDOWN_TIMEOUT": 5,
    "BODY_BUFFER_CHUNKS": 8,
    "WEBSOCKET_QUEUE_SIZE": 16,
    "WEBSOCKET_MAX_MESSAGE_SIZE": 16 * 1024 * 1024,
    "WEBSOCKET_DRAIN_TIMEOUT": 5,
}


class _TestClientClass:
    """The default of ``TrioQuart.test_client_class``: :class:`trioquart.testing.TestClient`,
    imported on first use so that an app that is only served does not load the testing
    package. Setting the attribute on a subclass or on an app replaces it."""

    def __get__(self, instance: object, owner: type | None = None) -> type[TestClient]:
        from .testing import TestClient

        return TestClient


class TrioQuart(WebsocketScaffoldMixin, App):
    """A trio-native ASGI application with Flask's and Quart's API.

    ``app = TrioQuart(__name__)``, then routes and hooks as in Flask; serve it with
    ``trioquart run module:app`` or ``hypercorn -k trio module:app``.
    """

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    websocket_class: type[Websocket] = Websocket
    jinja_environment = Environment  # type: ignore[assignment]
    config_class = Config
    default_config = ImmutableDict(_default_config)
    #: The session interface; async methods, see :mod:`trioquart.sessions`.
    session_interface: SessionInterface = SecureCookieSessionInterface()
    #: The class :meth:`test_client` makes, always a class (not Flask's ``None``) so that
    #: an extension can derive its own client from it and set that on the app, as
    #: Quart-Schema does (``app.test_client_class = new_class(..., (Mixin,
    #: app.test_client_class))``). A subclass should keep :class:`TestClient`'s
    #: constructor and its ``_make_request`` extension point.
    test_client_class: type[TestClient] = _TestClientClass()  # type: ignore[assignment]

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
    ) -> None:
        super().__init__(
            import_name,
            static_url_path=static_url_path,
            static_folder=static_folder,
            static_host=static_host,
            host_matching=host_matching,
            subdomain_matching=subdomain_matching,
            template_folder=template_folder,
            instance_path=instance_path,
            instance_relative_config=instance_relative_config,
            root_path=root_path,
        )
        self.cli = click.Group(self.name)
        self._init_websocket_hooks()
        if self.has_static_folder:
            if bool(static_host) != host_matching:
                raise ValueError("static_host is needed exactly when host_matching is on.")
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                host=static_host,
                view_func=self.send_static_file,
            )
        self.before_serving_funcs: list[Callable[[], Awaitable[None]]] = []
        self.after_serving_funcs: list[Callable[[], Awaitable[None]]] = []
        self.while_serving_gens: list[Callable[[], AsyncGenerator[None, None]]] = []
        #: Set when the app starts shutting down, so background loops can finish up.
        self.shutdown_event = trio.Event()
        self._nursery: ServingNursery | None = None
        self._async_funcs: dict[Callable[..., Any], Callable[..., Awaitable[Any]]] = {}
        #: Made when the first request arrives (see :mod:`trioquart.plan`).
        self._plan: Plan | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        """As usual; replacing a method the app's plan relies on drops the plan."""
        object.__setattr__(self, name, value)
        if name in PLANNED:
            object.__setattr__(self, "_plan", None)

    def _first_request_plan(self) -> Plan:
        """The plan, made now if need be: from here on no setup method may be called."""
        self._got_first_request = True
        plan = self._plan = Plan(self)
        return plan

    # ---- ASGI entry point -------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        await self.asgi_app(scope, receive, send)

    def asgi_app(self, scope: Scope, receive: ASGIReceive, send: ASGISend) -> Awaitable[None]:
        """The ASGI callable; wrap this (``app.asgi_app = Middleware(app.asgi_app)``) to add
        ASGI middleware while keeping ``app`` itself."""
        if scope["type"] == "http":  # the common case, without a dispatch layer of calls
            return HTTPConnection(self, scope, receive, send).run()
        return serve(self, scope, receive, send)

    # ---- registration of serving hooks ------------------------------------------------

    @setupmethod
    def before_serving(self, func: F) -> F:
        """Run ``func`` when the server starts, before it accepts requests."""
        self.before_serving_funcs.append(self.ensure_async(func))
        return func

    @setupmethod
    def after_serving(self, func: F) -> F:
        """Run ``func`` when the server stops, after background tasks have ended."""
        self.after_serving_funcs.append(self.ensure_async(func))
        return func

    @setupmethod
    def while_serving(self, func: F) -> F:
        """An async generator run up to its ``yield`` at startup and resumed at shutdown."""
        self.while_serving_gens.append(func)
        return func

    # ---- contexts and helpers -----------------------------------------------------------

    def make_config(self, instance_relative: bool = False) -> Config:
        root_path = self.instance_path if instance_relative else self.root_path
        defaults = dict(self.default_config)
        defaults["DEBUG"] = os.environ.get("TRIOQUART_DEBUG", "").lower() in {"1", "true"}
        return self.config_class(root_path, defaults)

    def app_context(self) -> AppContext:
        """A new application context: ``async with app.app_context(): ...``."""
        return AppContext(self)

    def request_context(self, request: Request) -> RequestContext:
        return RequestContext(self, request)

    def websocket_context(self, websocket: Websocket) -> WebsocketContext:
        return WebsocketContext(self, websocket)

    def test_request_context(self, path: str = "/", **kwargs: Any) -> RequestContext:
        """A request context for a made-up request, for tests: ``async with
        app.test_request_context("/?a=1", method="POST"): ...``."""
        from .testing.utils import make_test_request

        return self.request_context(make_test_request(self, path, **kwargs))

    def test_client(self, use_cookies: bool = True, **kwargs: Any) -> TestClient:
        """An in-process client that calls this app without sockets: an instance of
        :attr:`test_client_class` (``kwargs`` go to its constructor)."""
        return self.test_client_class(self, use_cookies=use_cookies, **kwargs)

    def test_app(self) -> TestApp:
        """``async with app.test_app() as test_app:`` runs the lifespan (serving hooks, the
        app nursery) around a block of tests."""
        from .testing import TestApp

        return TestApp(self)

    def test_cli_runner(self, **kwargs: Any) -> TrioQuartCliRunner:
        """A click test runner whose ``invoke(args=[...])`` runs this app's ``app.cli``
        commands (and ``trioquart``'s own) against this app, with no import: keyword arguments
        go to :class:`click.testing.CliRunner`. ``test_cli_runner_class`` replaces the class."""
        from .testing.cli import TrioQuartCliRunner

        cls = self.test_cli_runner_class or TrioQuartCliRunner
        return cls(self, **kwargs)  # type: ignore[arg-type,return-value]

    def create_url_adapter(self, request: Request | Websocket | None) -> MapAdapter | None:
        if request is not None:
            if (trusted := self.config["TRUSTED_HOSTS"]) is not None:
                request.trusted_hosts = trusted
            subdomain = None
            server_name = self.config["SERVER_NAME"]
            if self.url_map.host_matching:
                server_name = None
            elif not self.subdomain_matching:
                subdomain = self.url_map.default_subdomain or ""
            return bind_to_request(self.url_map, request, server_name, subdomain)
        if self.config["SERVER_NAME"] is not None:
            return self.url_map.bind(
                self.config["SERVER_NAME"],
                script_name=self.config["APPLICATION_ROOT"],
                url_scheme=self.config["PREFERRED_URL_SCHEME"],
            )
        return None

    def create_jinja_environment(self) -> Any:
        """The Jinja environment (async mode), made on first use of ``app.jinja_env``."""
        from .templating import create_environment

        return create_environment(self)

    async def update_template_context(self, context: dict[str, Any]) -> None:
        """Add the context processors' values (app, then the blueprint chain) to
        ``context``; values already in ``context`` win."""
        from .templating import update_template_context

        await update_template_context(self, context)

    async def open_instance_resource(self, resource: str, mode: str = "rb") -> Any:
        """Open ``resource`` relative to the instance folder, with trio's file I/O."""
        return await trio.open_file(os.path.join(self.instance_path, resource), mode)

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """``func`` itself if it is a coroutine function, else a wrapper that runs it in a
        worker thread (with the current context copied, as trio does). Remembered per
        function, since views and hooks are asked about on every request and
        ``inspect.iscoroutinefunction`` is slow: measured again (callgrind, in-process
        ``GET /``), 219 k instructions per request with the table, 224 k without (2 %)."""
        try:
            return self._async_funcs[func]
        except KeyError:
            pass
        except TypeError:  # not hashable
            return func if inspect.iscoroutinefunction(func) else self.sync_to_async(func)
        wrapped = func if inspect.iscoroutinefunction(func) else self.sync_to_async(func)
        if len(self._async_funcs) < 10_000:  # views and hooks, not per-request callables
            self._async_funcs[func] = wrapped
        return wrapped

    def sync_to_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await trio.to_thread.run_sync(functools.partial(func, *args, **kwargs))

        return wrapper

    @functools.cached_property
    def _null_session(self) -> SessionMixin:
        """The session used when sessions are unavailable (no secret key): one per app,
        since a null session cannot be changed. An attribute once made, compared with
        ``is`` on every request."""
        return self.session_interface.make_null_session(self)

    @property
    def propagate_exceptions(self) -> bool:
        """Whether unhandled errors reach the in-process test client as themselves."""
        value = self.config["PROPAGATE_EXCEPTIONS"]
        if value is not None:
            return bool(value)
        return self.testing or self.debug

    # ---- the app nursery and background tasks -------------------------------------------

    @property
    def nursery(self) -> ServingNursery:
        """The app's nursery, open while the app serves (between lifespan startup and
        shutdown). Tasks started here live beyond any one request; an error in one is logged
        and leaves the others running. They are services: cancelled as soon as the app
        shuts down (``add_background_task`` jobs get a grace period instead)."""
        if self._nursery is None:
            raise RuntimeError(
                "The app is not serving, so it has no nursery: run it under a server or in"
                " `async with app.test_app()`."
            )
        return self._nursery

    def add_background_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``func(*args, **kwargs)`` in the app nursery, in a fresh app context.

        The task outlives the request that started it; at shutdown it gets
        ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` seconds to finish before it is cancelled.
        """
        nursery = self.nursery
        runner = self.ensure_async(func)

        async def in_app_context() -> None:
            _cv_request.set(None)
            _cv_websocket.set(None)
            async with self.app_context():
                await runner(*args, **kwargs)

        nursery.start_job(in_app_context, name=getattr(func, "__qualname__", None))

    async def handle_background_exception(self, error: BaseException) -> None:
        explain_asyncio(error)
        await signals.send(signals.got_background_exception, self, exception=error)
        self.logger.error("Error in background task", exc_info=error)

    async def startup(self) -> None:
        """Run the ``before_serving`` functions and start the ``while_serving`` generators.
        A failure is sent as ``got_serving_exception`` and raised."""
        self._serving_gens: list[AsyncGenerator[None, None]] = []
        async with self.app_context():
            try:
                for func in self.before_serving_funcs:
                    await func()
                for gen_func in self.while_serving_gens:
                    gen = gen_func()
                    await gen.__anext__()
                    self._serving_gens.append(gen)
            except Exception as error:
                explain_asyncio(error)
                await signals.send(signals.got_serving_exception, self, exception=error)
                raise

    async def shutdown(self) -> None:
        """Resume the ``while_serving`` generators (last first), then run ``after_serving``.
        A failure is sent as ``got_serving_exception`` and raised."""
        async with self.app_context():
            try:
                for gen in reversed(getattr(self, "_serving_gens", [])):
                    try:
                        await gen.__anext__()
                    except StopAsyncIteration:
                        pass
                    else:
                        raise RuntimeError("A while_serving generator yielded more than once.")
                for func in self.after_serving_funcs:
                    await func()
            except Exception as error:
                explain_asyncio(error)
                await signals.send(signals.got_serving_exception, self, exception=error)
                raise

    # ---- per-request dispatch -------------------------------------------------------------

    async def handle_request(self, ctx: RequestContext) -> Response:
        """Turn the pushed request context into a response, errors included.

        An unhandled error is logged and answered with a 500 (the error handler for 500 is
        used if there is one), unless the in-process test client asked for it to propagate.
        """
        plan = self._plan or self._first_request_plan()
        try:
            if not plan.plain_request:
                return await self.full_dispatch_request(ctx)
            # full_dispatch_request, with nothing to run before the view.
            rv: Any
            try:
                if signals.request_started.receivers:
                    await signals.send(signals.request_started, self)
                rv = await self._view_of_request(ctx)
            except Exception as error:
                rv = await self.handle_user_exception(ctx, error)
            return await self.finalize_request(ctx, rv)
        except Exception as error:
            return await self.handle_exception(ctx, error)

    async def full_dispatch_request(self, ctx: RequestContext) -> Response:
        if not self._got_first_request:  # set once: each set runs __setattr__
            self._got_first_request = True
        rv: Any
        try:
            if signals.request_started.receivers:
                await signals.send(signals.request_started, self)
            rv = await self.preprocess_request(ctx)
            if rv is None:
                rv = await self.dispatch_request(ctx)
        except Exception as error:
            rv = await self.handle_user_exception(ctx, error)
        return await self.finalize_request(ctx, rv)

    async def preprocess_request(self, ctx: RequestContext) -> ResponseReturnValue | None:
        """Run the URL value preprocessors, then the ``before_request`` functions (app
        first, then each blueprint from the outermost in); a value returned by one of them
        is the response and the view is not called."""
        if not (self.url_value_preprocessors or self.before_request_funcs):
            return None
        request = ctx.request
        names = (None, *reversed(request.blueprints))
        for name in names:
            for url_func in self.url_value_preprocessors.get(name, ()):
                result = url_func(request.endpoint, request.view_args)
                if inspect.isawaitable(result):
                    await result
        for name in names:
            for before_func in self.before_request_funcs.get(name, ()):
                rv = await self.ensure_async(before_func)()
                if rv is not None:
                    return cast("ResponseReturnValue", rv)
        return None

    async def dispatch_request(self, ctx: RequestContext) -> ResponseReturnValue:
        return await self._view_of_request(ctx)

    def _view_of_request(self, ctx: RequestContext) -> Awaitable[ResponseReturnValue]:
        """What ``dispatch_request`` awaits: the view's coroutine (or the automatic
        ``OPTIONS`` answer's); the routing error is raised instead, if there was one."""
        request = ctx.request
        if request.routing_exception is not None:
            raise request.routing_exception
        rule = request.url_rule
        assert rule is not None
        if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return self.make_default_options_response(ctx)
        view = self.view_functions[rule.endpoint]
        # No typing.cast here: it is a call at run time, on every request.
        return self.ensure_async(view)(**(request.view_args or {}))

    async def make_default_options_response(self, ctx: RequestContext | None = None) -> Response:
        """The automatic answer to ``OPTIONS``: an empty response whose ``Allow`` header lists
        the methods the URL accepts.

        A coroutine whose request context defaults to the current one, as in Quart:
        extensions that answer ``OPTIONS`` themselves, such as Quart-CORS's ``route_cors``,
        ``await current_app.make_default_options_response()`` with no argument.
        """
        if ctx is None:
            ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        assert ctx is not None and ctx.url_adapter is not None
        response = self.response_class()
        response.allow.update(ctx.url_adapter.allowed_methods())
        return response

    async def finalize_request(
        self,
        ctx: RequestContext,
        rv: ResponseReturnValue | HTTPException,
        from_error_handler: bool = False,
    ) -> Response:
        plan = self._plan
        response = direct_response(self, rv, plan)
        if response is None:
            response = await self.make_response(rv)
        try:
            if not (
                plan is not None
                and plan.plain_response
                and not ctx._after_request_functions
                and (ctx._session is None or ctx._session is self._null_session)
            ):
                response = await self.process_response(ctx, response)
            if signals.request_finished.receivers:
                await signals.send(signals.request_finished, self, response=response)
        except Exception as error:
            if not from_error_handler:
                raise
            explain_asyncio(error)
            self.logger.exception("Finalizing the response to an error failed as well")
        return response

    async def process_response(self, ctx: RequestContext, response: Response) -> Response:
        """Run ``after_this_request`` functions, then ``after_request`` functions (innermost
        blueprint first, each list in reverse), then save the session."""
        for func in ctx._after_request_functions:
            response = await func(response)
        if self.after_request_funcs:
            for name in chain(ctx.request.blueprints, (None,)):
                for after_func in reversed(self.after_request_funcs.get(name, ())):
                    response = await self.ensure_async(after_func)(response)
        session = ctx._session
        if session is not None and not self.session_interface.is_null_session(session):
            await self.session_interface.save_session(self, session, response)
        return response

    async def do_teardown_request(self, exc: BaseException | None) -> None:
        """Run the ``teardown_request`` functions, innermost blueprint first. Each runs even
        if an earlier one failed; failures are logged."""
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        for name in chain(ctx.request.blueprints, (None,)):
            for func in reversed(self.teardown_request_funcs.get(name, ())):
                await self._run_teardown(func, exc)
        await signals.send(signals.request_tearing_down, self, exc=exc)

    async def do_teardown_appcontext(self, exc: BaseException | None) -> None:
        for func in reversed(self.teardown_appcontext_funcs):
            await self._run_teardown(func, exc)
        await signals.send(signals.appcontext_tearing_down, self, exc=exc)

    async def _run_teardown(self, func: Callable[..., Any], exc: BaseException | None) -> None:
        try:
            await self.ensure_async(func)(exc)
        except Exception as error:
            explain_asyncio(error)
            self.logger.exception("Error in teardown function %r", func)

    # ---- per-websocket dispatch -----------------------------------------------------------

    async def handle_websocket(self, ctx: WebsocketContext) -> Response | None:
        """Run the websocket's hooks and handler; the result is the response to deny the
        handshake with (if it was not accepted), or None.

        Errors go through the error handlers as for requests; an unhandled one is logged
        and becomes a 500 (a 1011 close once accepted).
        """
        plan = self._plan or self._first_request_plan()
        try:
            if not plan.plain_websocket:
                return await self.full_dispatch_websocket(ctx)
            # full_dispatch_websocket, with nothing to run before the handler: one frame
            # less for every wait of a handler that lives as long as its websocket.
            rv: Any
            try:
                await signals.send(signals.websocket_started, self)
                rv = await self._view_of_websocket(ctx)
            except WebsocketDisconnectedError:
                rv = None
            except Exception as error:
                ctx.handled_error = error
                rv = await self.handle_user_exception(ctx, error)
            return await self.finalize_websocket(ctx, rv)
        except Exception as error:
            return await self.handle_websocket_exception(ctx, error)

    async def full_dispatch_websocket(self, ctx: WebsocketContext) -> Response | None:
        if not self._got_first_request:  # set once: each set runs __setattr__
            self._got_first_request = True
        rv: Any
        try:
            await signals.send(signals.websocket_started, self)
            rv = await self.preprocess_websocket(ctx)
            if rv is None:
                rv = await self.dispatch_websocket(ctx)
        except WebsocketDisconnectedError:
            rv = None  # the client left while the handler was receiving: a normal end
        except Exception as error:
            ctx.handled_error = error
            rv = await self.handle_user_exception(ctx, error)
        return await self.finalize_websocket(ctx, rv)

    async def preprocess_websocket(self, ctx: WebsocketContext) -> ResponseReturnValue | None:
        """The URL value preprocessors, then the ``before_websocket`` functions (app
        first, then blueprints from the outermost in); a value returned is the response."""
        websocket = ctx.websocket
        names = (None, *reversed(websocket.blueprints))
        for name in names:
            for url_func in self.url_value_preprocessors.get(name, ()):
                result = url_func(websocket.endpoint, websocket.view_args)
                if inspect.isawaitable(result):
                    await result
        for name in names:
            for before_func in self.before_websocket_funcs.get(name, ()):
                rv = await self.ensure_async(before_func)()
                if rv is not None:
                    return cast("ResponseReturnValue", rv)
        return None

    async def dispatch_websocket(self, ctx: WebsocketContext) -> ResponseReturnValue | None:
        return await self._view_of_websocket(ctx)

    def _view_of_websocket(self, ctx: WebsocketContext) -> Awaitable[ResponseReturnValue | None]:
        """What ``dispatch_websocket`` awaits: the handler's coroutine (the routing error
        is raised instead, if there was one)."""
        websocket = ctx.websocket
        if websocket.routing_exception is not None:
            raise websocket.routing_exception
        rule = websocket.url_rule
        assert rule is not None
        view = self.view_functions[rule.endpoint]
        return self.ensure_async(view)(**(websocket.view_args or {}))

    async def finalize_websocket(
        self,
        ctx: WebsocketContext,
        rv: ResponseReturnValue | HTTPException | None,
        from_error_handler: bool = False,
    ) -> Response | None:
        response = await self.make_response(rv) if rv is not None else None
        try:
            response = await self.postprocess_websocket(ctx, response)
            await signals.send(signals.websocket_finished, self, response=response)
        except Exception as error:
            if not from_error_handler:
                raise
            explain_asyncio(error)
            self.logger.exception("Finalizing the websocket after an error failed as well")
        return response

    async def postprocess_websocket(
        self, ctx: WebsocketContext, response: Response | None
    ) -> Response | None:
        """Run the ``after_websocket`` functions, innermost blueprint first, each list in
        reverse. The session is not saved: a websocket cannot set cookies."""
        for name in chain(ctx.websocket.blueprints, (None,)):
            for after_func in reversed(self.after_websocket_funcs.get(name, ())):
                response = await self.ensure_async(after_func)(response)
        session = ctx._session
        if session is not None and getattr(session, "modified", False):
            self.logger.warning(
                "The session was changed in websocket %s; the change is lost, because a"
                " websocket cannot set cookies",
                ctx.websocket.path,
            )
        return response

    async def handle_websocket_exception(
        self, ctx: WebsocketContext, error: BaseException
    ) -> Response | None:
        """An unhandled error in a websocket: logged, then a 500 denial (or a 1011 close
        once accepted). Propagated instead to the in-process test client when asked."""
        ctx.unhandled_error = error
        if isinstance(error, CloseWebsocket):
            # A deliberate close (see CloseWebsocket): no 500, no log line, no propagation.
            return await self.finalize_websocket(ctx, None, from_error_handler=True)
        explain_asyncio(error)
        await signals.send(signals.got_websocket_exception, self, exception=error)
        if ctx.websocket.scope.get("trioquart.propagate_exceptions") and self.propagate_exceptions:
            raise error
        self.log_exception(ctx, error)
        server_error = InternalServerError(
            original_exception=error if isinstance(error, Exception) else None
        )
        handler = self._find_error_handler(server_error, ctx.websocket.blueprints)
        rv: Any = server_error
        if handler is not None:
            rv = await self.ensure_async(handler)(server_error)
        return await self.finalize_websocket(ctx, rv, from_error_handler=True)

    async def do_teardown_websocket(self, exc: BaseException | None) -> None:
        """Run the ``teardown_websocket`` functions, innermost blueprint first (blueprint
        ones included). Each runs even if an earlier one failed."""
        ctx = websocket_ctx._get_current_object()  # type: ignore[attr-defined]
        for name in chain(ctx.websocket.blueprints, (None,)):
            for func in reversed(self.teardown_websocket_funcs.get(name, ())):
                await self._run_teardown(func, exc)
        await signals.send(signals.websocket_tearing_down, self, exc=exc)

    # ---- errors -------------------------------------------------------------------------

    def _has_handler(self, ctx: _ConnectionContext | None) -> Callable[[BaseException], bool]:
        blueprints = ctx.connection.blueprints if ctx is not None else []

        def has_handler(error: BaseException) -> bool:
            if not isinstance(error, Exception):
                return False
            return self._find_error_handler(error, blueprints) is not None

        return has_handler

    def unwrap_error(self, ctx: _ConnectionContext | None, error: BaseException) -> BaseException:
        """The one error that ``error`` stands for (see :mod:`trioquart.errors`)."""
        stripped = strip_cancelled(error)
        if stripped is None:
            return error
        blueprints = ctx.connection.blueprints if ctx is not None else []

        def has_group_handler(group: BaseExceptionGroup) -> bool:
            for name in (*blueprints, None):
                handlers: dict[Any, Any] = self.error_handler_spec[name][None]
                for cls in type(group).__mro__:
                    if issubclass(cls, BaseExceptionGroup) and cls in handlers:
                        return True
            return False

        return choose(stripped, self._has_handler(ctx), has_group_handler)

    async def handle_user_exception(
        self, ctx: _ConnectionContext, error: Exception
    ) -> HTTPException | ResponseReturnValue:
        """Find and run the error handler for ``error``; re-raise it if there is none."""
        chosen = self.unwrap_error(ctx, error)
        if not isinstance(chosen, Exception):
            raise chosen
        if isinstance(chosen, BadRequestKeyError) and (
            self.debug or self.config["TRAP_BAD_REQUEST_ERRORS"]
        ):
            chosen.show_exception = True
        if isinstance(chosen, HTTPException) and not self.trap_http_exception(chosen):
            return await self.handle_http_exception(ctx, chosen)
        handler = self._find_error_handler(chosen, ctx.connection.blueprints)
        if handler is None:
            raise chosen
        return cast("ResponseReturnValue", await self.ensure_async(handler)(chosen))

    async def handle_http_exception(
        self, ctx: _ConnectionContext, error: HTTPException
    ) -> HTTPException | ResponseReturnValue:
        if error.code is None or isinstance(error, RoutingException):
            return error
        handler = self._find_error_handler(error, ctx.connection.blueprints)
        if handler is None:
            return error
        return cast("ResponseReturnValue", await self.ensure_async(handler)(error))

    async def handle_exception(self, ctx: RequestContext, error: BaseException) -> Response:
        """Answer an unhandled error: log it and respond 500 (via the 500 handler if any).

        When the in-process test client asked for it (``PROPAGATE_EXCEPTIONS``, on by default
        in testing and debug), the error is re-raised as itself instead.
        """
        ctx.unhandled_error = error
        explain_asyncio(error)
        await signals.send(signals.got_request_exception, self, exception=error)
        if ctx.request.scope.get("trioquart.propagate_exceptions") and self.propagate_exceptions:
            raise error
        self.log_exception(ctx, error)
        server_error = InternalServerError(
            original_exception=error if isinstance(error, Exception) else None
        )
        handler = self._find_error_handler(server_error, ctx.request.blueprints)
        rv: Any = server_error
        if handler is not None:
            rv = await self.ensure_async(handler)(server_error)
        return await self.finalize_request(ctx, rv, from_error_handler=True)

    def log_exception(self, ctx: _ConnectionContext | None, error: BaseException) -> None:
        if ctx is None:
            where = "the app"
        elif isinstance(ctx, WebsocketContext):
            where = f"websocket {ctx.websocket.path}"
        else:
            where = f"{ctx.connection.method} {ctx.connection.path}"
        self.logger.error("Exception on %s", where, exc_info=error)

    # ---- responses ----------------------------------------------------------------------

    async def make_response(self, rv: ResponseReturnValue | HTTPException) -> Response:
        """Turn a view's return value into a :class:`Response`.

        Accepts str, bytes, a dict or list (as JSON), an async or sync iterable (streamed),
        a Response (ours or werkzeug's), an HTTPException, and the tuples ``(body, status)``,
        ``(body, headers)`` and ``(body, status, headers)``.
        """
        status: Any = None
        headers: Any = None
        if isinstance(rv, tuple):
            if len(rv) == 3:
                rv, status, headers = rv
            elif len(rv) == 2:
                if isinstance(rv[1], (Headers, dict, tuple, list)):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    "A view's tuple must be (body, status, headers), (body, status) or"
                    " (body, headers)."
                )
        if rv is None:
            raise TypeError(
                "The view returned None: a view must return a response, such as a string,"
                " a dict, a Response or a (body, status) tuple."
            )
        response: Response
        if isinstance(rv, self.response_class):
            response = rv
        elif isinstance(rv, (str, bytes, bytearray)):
            response = self.response_class(rv, status=status, headers=headers)
            status = headers = None
        elif isinstance(rv, (dict, list)):
            response = json_response(self, rv)
        elif isinstance(rv, HTTPException):
            response = self._response_from_http_exception(rv)
        elif isinstance(rv, WerkzeugResponse):
            response = self.response_class(rv.get_data(), status=rv.status, headers=rv.headers)
        elif isinstance(rv, SansIOResponse):
            raise TypeError(f"Cannot send a {type(rv).__name__}: it has no body.")
        elif isinstance(rv, (AsyncIterable, Iterable)):
            response = self.response_class(rv)
        else:
            raise TypeError(
                f"The view returned a {type(rv).__name__}, which is not a valid response."
            )
        if status is not None:
            if isinstance(status, (str, bytes, bytearray)):
                response.status = status if isinstance(status, str) else status.decode()
            else:
                response.status_code = int(status)
        if headers:
            response.headers.update(headers)
        return response

    def _response_from_http_exception(self, error: HTTPException) -> Response:
        if error.response is not None:
            inner: Any = error.response
            if isinstance(inner, self.response_class):
                return inner
            return self.response_class(inner.get_data(), status=inner.status, headers=inner.headers)
        if type(error).get_response is not HTTPException.get_response:
            # The subclass builds its own response (a redirect's Location, say).
            inner = error.get_response()
            return self.response_class(inner.get_data(), status=inner.status, headers=inner.headers)
        return self.response_class(error.get_body(), error.code, error.get_headers())

    # ---- URL building ---------------------------------------------------------------------

    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """Build the URL for ``endpoint`` (``.name`` is relative to the current blueprint)."""
        req_ctx: _ConnectionContext | None = _cv_request.get() or _cv_websocket.get()
        if req_ctx is not None:
            url_adapter = req_ctx.url_adapter
            blueprint_name = req_ctx.connection.blueprint
            if endpoint[:1] == ".":
                endpoint = f"{blueprint_name}{endpoint}" if blueprint_name else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
        else:
            app_ctx = _cv_app.get()
            url_adapter = app_ctx.url_adapter if app_ctx is not None else None
            if url_adapter is None:
                raise RuntimeError(
                    "Unable to build URLs outside a request without SERVER_NAME configured."
                )
            if _external is None:
                _external = True
        if _scheme is not None and not _external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        self.inject_url_defaults(endpoint, values)
        try:
            rv = url_adapter.build(  # type: ignore[union-attr]
                endpoint, values, method=_method, url_scheme=_scheme, force_external=_external
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            rv = f"{rv}#{quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv
