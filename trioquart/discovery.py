"""Finding the app a command line names: ``--app``, ``TRIOQUART_APP``, or the current directory.

A target is ``MODULE[:NAME]``, where MODULE is a dotted module name or a path to a ``.py``
file or a package directory, and NAME is an attribute (``app``, ``holder.app``), a factory
(``create_app``, called with no arguments) or a factory call with literal arguments
(``create_app(config="testing")``). With no NAME, the module is searched the way ``flask``
searches one; with no target at all, ``asgi.py`` and then ``app.py`` in the current directory.

The conventions are Flask's (``flask.cli.prepare_import`` is used as it is), but Flask's own
locating functions accept only :class:`flask.Flask` apps, which a trioquart app is not, so the
locating step is trioquart's. Every way of getting the target wrong raises :class:`NoAppError`,
a :class:`click.ClickException` (exit code 2) with one readable message: for an error raised by the
user's own code, the exception and the user's frame where it happened, and never the frames of
``importlib`` between the command and that code.

A found app is an :class:`AppTarget`, whose ``str()`` names the same app again: it is what a
worker process is given to load the app for itself (:func:`load_app_target`).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import sysconfig
import traceback
from types import ModuleType
from typing import Any

import attrs
import click
import flask.cli

__all__ = ["AppTarget", "NoAppError", "find_app", "load_app_target"]

#: Files looked for in the current directory when no target is given, in this order.
DEFAULT_FILES = ("asgi.py", "app.py")
#: Attributes that hold the app, and factories that make it, when the target names no attribute.
APP_NAMES = ("app", "application")
FACTORY_NAMES = ("create_app", "make_app")


class NoAppError(click.ClickException):
    """The target names no app: why, in one message for the command line (``Error: ...``
    and exit code 2, as for a usage error, without the usage lines, which do not help)."""

    exit_code = 2


@attrs.frozen
class AppTarget:
    """An app, and the ``module:expression`` that finds it again in another process."""

    module: str
    expression: str
    app: Any

    @property
    def attribute(self) -> str:
        """The attribute (or factory) the expression starts with."""
        return self.expression.partition("(")[0]

    def __str__(self) -> str:
        return f"{self.module}:{self.expression}"


def find_app(target: str | None) -> AppTarget:
    """Import what ``target`` names and return the app in it (see the module docstring).

    ``None`` looks for ``asgi.py`` or ``app.py`` in the current directory.
    """
    if target is None:
        return _find_default_app()
    # Split at the first colon not followed by a slash, so that C:\\app.py stays a path.
    path, *rest = re.split(r":(?![\\/])", target, maxsplit=1)
    path, expression = path.strip(), (rest[0] if rest else "").strip()
    module_name = _module_name_for(path, target)
    module = _import(module_name)
    if not expression:
        return _find_app_in(module, module_name)
    return _app_from_expression(module, module_name, expression, target)


def load_app_target(target: str) -> Any:
    """The app a worker process serves: ``str(AppTarget)`` from its parent, found again."""
    return find_app(target).app


def is_trioquart_app(value: Any) -> bool:
    from .app import TrioQuart

    return isinstance(value, TrioQuart)


# ---- the module -------------------------------------------------------------------------


def _module_name_for(path: str, target: str) -> str:
    looks_like_a_path = path.endswith(".py") or os.sep in path or "/" in path
    if looks_like_a_path:
        if not os.path.exists(path):
            raise NoAppError(f"{target!r}: there is no file or directory {path!r}.")
        return flask.cli.prepare_import(path)
    if not _is_dotted_name(path):
        raise NoAppError(
            f"{target!r} is not of the form MODULE:APP (e.g. 'hello:app', 'hello:create_app()'"
            " or 'src/hello.py')."
        )
    # As ``flask`` does: the current directory goes first on sys.path, so ./hello.py is found
    # (the console script's sys.path starts with its own bin directory).
    return flask.cli.prepare_import(path)


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and _is_same_or_parent(error.name, module_name):
            raise NoAppError(
                f"could not import {module_name!r}: no module named {error.name!r} in"
                f" {os.getcwd()!r} or on the Python path."
            ) from None
        raise NoAppError(_describe_user_error(f"importing {module_name!r}", error)) from None
    except Exception as error:
        raise NoAppError(_describe_user_error(f"importing {module_name!r}", error)) from None


def _find_default_app() -> AppTarget:
    for filename in DEFAULT_FILES:
        package = os.path.splitext(filename)[0]
        if os.path.isfile(filename) or os.path.isfile(os.path.join(package, "__init__.py")):
            module_name = flask.cli.prepare_import(filename)
            return _find_app_in(_import(module_name), module_name)
    raise NoAppError(
        "no app to load: give one with --app MODULE:APP (or TRIOQUART_APP), or run the command"
        f" where {' or '.join(DEFAULT_FILES)} is."
    )


# ---- the app in it ----------------------------------------------------------------------


def _find_app_in(module: ModuleType, module_name: str) -> AppTarget:
    """The app in a module the target names without an attribute, found as ``flask`` does:
    ``app`` or ``application``; else the module's only trioquart app; else a ``create_app``
    or ``make_app`` factory that needs no arguments."""
    for name in APP_NAMES:
        value = getattr(module, name, None)
        if value is not None and callable(value):
            return _resolve(module_name, name, value, f"{module_name}:{name}")

    found = sorted({name for name, value in vars(module).items() if is_trioquart_app(value)})
    if len(found) == 1:
        return AppTarget(module_name, found[0], getattr(module, found[0]))
    if len(found) > 1:
        names = ", ".join(f"{module_name}:{name}" for name in found)
        raise NoAppError(
            f"module {module_name!r} has several trioquart apps ({names}): name one with"
            " --app MODULE:NAME."
        )

    for name in FACTORY_NAMES:
        factory = getattr(module, name, None)
        if inspect.isfunction(factory):
            return _call_factory(module_name, name, factory, (), {})

    raise NoAppError(
        f"module {module_name!r} has no trioquart app: none named {' or '.join(APP_NAMES)},"
        f" none at module level, and no {' or '.join(FACTORY_NAMES)} factory. Name it with"
        " --app MODULE:NAME."
    )


def _app_from_expression(
    module: ModuleType, module_name: str, expression: str, target: str
) -> AppTarget:
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise NoAppError(_not_an_expression(target)) from None

    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        if name is None:
            raise NoAppError(_not_an_expression(target))
        try:
            args = tuple(ast.literal_eval(arg) for arg in node.args)
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        except ValueError:
            raise NoAppError(
                f"{target!r}: the arguments of {name!r} must be literals (strings, numbers,"
                " lists, dicts, True, False, None)."
            ) from None
        if len(kwargs) != len(node.keywords):  # a **mapping argument
            raise NoAppError(_not_an_expression(target))
        factory = _attribute(module, module_name, name)
        if not callable(factory):
            raise NoAppError(f"{module_name}:{name} is a {type(factory).__name__}, not a factory.")
        return _call_factory(module_name, expression, factory, args, kwargs)

    name = _dotted(node)
    if name is None:
        raise NoAppError(_not_an_expression(target))
    return _resolve(module_name, name, _attribute(module, module_name, name), target)


def _resolve(module_name: str, name: str, value: Any, target: str) -> AppTarget:
    """What a named attribute gives: the app itself, or the app a factory returns.

    A trioquart app is itself; a callable that can be called without arguments (and is not
    a coroutine function, which a plain ASGI app is) is a factory; any other callable is
    taken for an ASGI app (an app wrapped in middleware, say).
    """
    if is_trioquart_app(value):
        return AppTarget(module_name, name, value)
    if not callable(value):
        raise NoAppError(f"{target!r} is a {type(value).__name__}, not an ASGI app.")
    if _is_factory(value):
        return _call_factory(module_name, name, value, (), {})
    return AppTarget(module_name, name, value)


def _is_factory(value: Any) -> bool:
    if inspect.iscoroutinefunction(value) or inspect.isclass(value):
        return False
    if not (inspect.isfunction(value) or inspect.ismethod(value)):
        # An object whose __call__ is the ASGI entry point.
        return False
    try:
        inspect.signature(value).bind()
    except TypeError:
        return False
    return True


def _call_factory(
    module_name: str, expression: str, factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> AppTarget:
    where = f"{module_name}:{expression}"
    try:
        inspect.signature(factory).bind(*args, **kwargs)
    except TypeError as error:
        raise NoAppError(f"{where}: the factory cannot be called so: {error}.") from None
    except ValueError:
        pass  # no signature to check (a builtin): the call says
    try:
        app = factory(*args, **kwargs)
    except Exception as error:
        raise NoAppError(_describe_user_error(f"calling {where}", error)) from None
    if app is None or not callable(app):
        raise NoAppError(
            f"{where} returned {type(app).__name__}, not an app: a factory must return the app."
        )
    if "(" not in expression:
        expression += "()"  # so that a worker calls the factory too
    return AppTarget(module_name, expression, app)


def _attribute(module: ModuleType, module_name: str, name: str) -> Any:
    value: Any = module
    for part in name.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise NoAppError(f"module {module_name!r} has no attribute {name!r}.") from None
    return value


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _not_an_expression(target: str) -> str:
    return (
        f"{target!r} is not of the form MODULE:APP: after the colon, an attribute ('app') or"
        " a factory call with literal arguments ('create_app(\"testing\")')."
    )


# ---- describing errors ------------------------------------------------------------------


def _is_dotted_name(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _is_same_or_parent(package: str, module_name: str) -> bool:
    return module_name == package or module_name.startswith(package + ".")


def _describe_user_error(doing: str, error: BaseException) -> str:
    """One line for an error raised by the user's code, and the user's frame it came from.

    The frames between the command and the user's code (importlib's bootstrap, which shows
    as ``<frozen importlib._bootstrap>``, and trioquart's own) say nothing the user can act
    on, so only the innermost frame that is neither is shown. A syntax error has no such
    frame: its own file and line are the place.
    """
    summary = "".join(traceback.format_exception_only(type(error), error)).strip()
    summary = summary.splitlines()[-1]  # a SyntaxError's caret lines are shown below instead
    message = f"{doing} failed: {summary}"
    if isinstance(error, SyntaxError) and error.filename:
        source = (error.text or "").strip()
        message += f"\n  at {error.filename}:{error.lineno}"
        return message + (f"\n    {source}" if source else "")
    frame = _innermost_user_frame(error)
    if frame is not None:
        message += f"\n  at {frame.filename}:{frame.lineno}, in {frame.name}"
        if frame.line:
            message += f"\n    {frame.line.strip()}"
    return message


def _innermost_user_frame(error: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame in neither the standard library, nor an installed package, nor
    trioquart; else the innermost one that is not importlib's."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith("<frozen ")
        and os.path.abspath(frame.filename) != os.path.abspath(__file__)
    ]
    libraries = {
        os.path.abspath(path) + os.sep
        for key, path in sysconfig.get_paths().items()
        if key in {"stdlib", "platstdlib", "purelib", "platlib"}
    }
    libraries.add(os.path.dirname(os.path.abspath(__file__)) + os.sep)
    users = [
        frame
        for frame in frames
        if not any(os.path.abspath(frame.filename).startswith(lib) for lib in libraries)
    ]
    chosen = users or frames
    return chosen[-1] if chosen else None
