"""Jinja templates, rendered with Jinja's async mode.

The environment is made on first use of ``app.jinja_env`` (see
:meth:`TrioQuart.create_jinja_environment`). It loads templates with Flask's
``DispatchingJinjaLoader``, so the app's ``templates`` folder comes first and then each
blueprint's ``template_folder``, and it runs in Jinja's async mode: templates may call async
functions, and rendering is awaited (``await render_template(...)``).

Streaming (:func:`stream_template`) needs no context copying: trioquart keeps the request
context pushed until the response body has been sent, so ``request``, ``session`` and
``g`` stay usable inside a streamed template. :func:`stream_with_context` is kept, as a
pass-through, only so that code written for Flask or Quart runs unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask.templating import DispatchingJinjaLoader
from flask.templating import _default_template_ctx_processor as _flask_default_processor
from jinja2 import Environment as JinjaEnvironment
from jinja2 import Template

from . import signals
from .flashing import get_flashed_messages
from .globals import _cv_app, _cv_request, _cv_websocket, current_app, g, request, session
from .globals import websocket as websocket_proxy

if TYPE_CHECKING:
    from .app import TrioQuart

T = TypeVar("T")

__all__ = [
    "DispatchingJinjaLoader",
    "Environment",
    "create_environment",
    "get_template_attribute",
    "render_template",
    "render_template_string",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "update_template_context",
]


class Environment(JinjaEnvironment):
    """A Jinja environment bound to a trioquart app, always in async mode.

    Without a ``loader`` option it loads through ``app.create_global_jinja_loader()``
    (Flask's ``DispatchingJinjaLoader``: the app's template folder, then the blueprints').
    """

    def __init__(self, app: TrioQuart, **options: Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        # Everything here renders with render_async/generate_async; a sync environment
        # would make those raise, so async mode is not optional.
        options["enable_async"] = True
        super().__init__(**options)
        self.app = app


def create_environment(app: TrioQuart) -> Environment:
    """The Jinja environment for ``app``, from ``app.jinja_options`` and the config.

    Autoescaping follows ``app.select_jinja_autoescape`` (on for ``.html``, ``.htm``,
    ``.xml``, ``.xhtml``, ``.svg`` and for template strings); templates are reloaded when
    they change if ``TEMPLATES_AUTO_RELOAD`` is set, or, when it is None, in debug mode.
    """
    options = dict(app.jinja_options)
    options.setdefault("autoescape", app.select_jinja_autoescape)
    if "auto_reload" not in options:
        auto_reload = app.config["TEMPLATES_AUTO_RELOAD"]
        options["auto_reload"] = app.debug if auto_reload is None else auto_reload
    env_class: Any = getattr(app, "jinja_environment", None)
    if not (isinstance(env_class, type) and issubclass(env_class, Environment)):
        env_class = Environment  # flask.sansio's default is Flask's sync environment
    env: Environment = env_class(app, **options)
    env.globals.update(
        url_for=app.url_for,
        get_flashed_messages=get_flashed_messages,
        config=app.config,
        # Proxies: each resolves when a template uses it. ``request`` and ``websocket``
        # exist only in their own contexts, ``session`` only in either of them.
        request=request,
        websocket=websocket_proxy,
        session=session,
        g=g,
    )
    env.policies["json.dumps_function"] = app.json.dumps
    return env


async def update_template_context(app: TrioQuart, context: dict[str, Any]) -> None:
    """Add the default variables and the context processors' values to ``context``.

    The defaults are ``g`` and, in a request or websocket context, ``request`` or
    ``websocket``. Then come the app's context processors and those of the current
    blueprint chain, outermost blueprint first, so an inner blueprint's value wins over
    the app's. Values passed to the render call win over all of them. Async processors
    are awaited; sync ones run through ``app.ensure_async`` like other sync callables.
    """
    given = dict(context)
    app_ctx = _cv_app.get()
    if app_ctx is not None:
        context["g"] = app_ctx.g
    names: list[str | None] = [None]
    request_ctx = _cv_request.get()
    websocket_ctx = _cv_websocket.get()
    if request_ctx is not None:
        context["request"] = request_ctx.request
        names.extend(reversed(request_ctx.request.blueprints))
    elif websocket_ctx is not None:
        context["websocket"] = websocket_ctx.websocket
        names.extend(reversed(websocket_ctx.websocket.blueprints))
    processors = app.template_context_processors
    for name in names:
        if name not in processors:
            continue
        for processor in processors[name]:
            if processor is _flask_default_processor:
                continue  # it reads Flask's context variables; the defaults are set above
            context.update(await app.ensure_async(processor)())
    context.update(given)


def _environment(app: TrioQuart) -> Environment:
    env: Any = app.jinja_env
    if not env.is_async:
        raise RuntimeError("trioquart renders templates with a Jinja environment in async mode.")
    return cast(Environment, env)


async def _prepare(app: TrioQuart, template: Template, context: dict[str, Any]) -> None:
    # An app (or subclass) may define its own ``async def update_template_context``.
    method = getattr(app, "update_template_context", None)
    if method is not None:
        await method(context)
    else:
        await update_template_context(app, context)
    await signals.send(signals.before_render_template, app, template=template, context=context)


async def _render(app: TrioQuart, template: Template, context: dict[str, Any]) -> str:
    await _prepare(app, template, context)
    rendered = await template.render_async(context)
    await signals.send(signals.template_rendered, app, template=template, context=context)
    return rendered


async def _stream(
    app: TrioQuart, template: Template, context: dict[str, Any]
) -> AsyncIterator[str]:
    await _prepare(app, template, context)

    async def generate() -> AsyncGenerator[str, None]:
        async with aclosing(template.generate_async(context)) as chunks:
            async for chunk in chunks:
                yield chunk
        await signals.send(signals.template_rendered, app, template=template, context=context)

    return generate()


def _app() -> TrioQuart:
    return current_app._get_current_object()  # type: ignore[attr-defined]


async def render_template(
    template_name_or_list: str | Template | Iterable[str | Template], **context: Any
) -> str:
    """Render a template from the template folders with ``context``.

    Given a list of names, the first template that exists is rendered.
    ``html = await render_template("index.html", user=user)``.
    """
    app = _app()
    template = _environment(app).get_or_select_template(template_name_or_list)  # type: ignore[arg-type]
    return await _render(app, template, context)


async def render_template_string(source: str, **context: Any) -> str:
    """Render the template source ``source`` with ``context`` (autoescaped)."""
    app = _app()
    template = _environment(app).from_string(source)
    return await _render(app, template, context)


async def stream_template(
    template_name_or_list: str | Template | Iterable[str | Template], **context: Any
) -> AsyncIterator[str]:
    """Render a template piece by piece, as the response body: ``return await
    stream_template("report.html", rows=rows)``.

    The context processors run and ``before_render_template`` is sent before this returns;
    ``template_rendered`` is sent once the last piece has been produced.
    """
    app = _app()
    template = _environment(app).get_or_select_template(template_name_or_list)  # type: ignore[arg-type]
    return await _stream(app, template, context)


async def stream_template_string(source: str, **context: Any) -> AsyncIterator[str]:
    """Render the template source ``source`` piece by piece (see :func:`stream_template`)."""
    app = _app()
    template = _environment(app).from_string(source)
    return await _stream(app, template, context)


def stream_with_context(func_or_gen: T) -> T:
    """Return ``func_or_gen`` unchanged: an async generator, or an async generator function.

    Flask and Quart need this to keep the request context alive while a streamed body is
    produced. In trioquart the request context stays pushed until the body has been sent,
    so there is nothing to do; the function exists so ported code keeps working.
    """
    return func_or_gen


async def get_template_attribute(template_name: str, attribute: str) -> Any:
    """An attribute of a template's module, such as a macro, for use from Python.

    Jinja's async mode makes both steps awaitable, unlike Flask and Quart::

        hello = await get_template_attribute("macros.html", "hello")
        html = await hello("World")  # a macro call returns a coroutine of Markup
    """
    template = _environment(_app()).get_template(template_name)
    module = await template.make_module_async()
    return getattr(module, attribute)
