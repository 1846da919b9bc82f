"""The ``trioquart`` command: serve an app, list its routes, open a shell, run its commands.

::

    trioquart run examples.hello:app --port 5000
    trioquart --app examples.hello routes
    TRIOQUART_APP='notes:create_app("dev")' trioquart shell
    trioquart init-db          # a command the app registered on app.cli
    trioquart --version

The app is named by ``--app TARGET``, the ``TRIOQUART_APP`` variable, or (for ``run`` and
``routes``) a ``MODULE:APP`` argument; with none of them, ``asgi.py`` or ``app.py`` in the
current directory. :mod:`trioquart.discovery` says what a TARGET may be. Before anything else,
``.trioquartenv`` and then ``.env`` (the nearest ones, looking up from the current directory)
and ``--env-file FILE`` set environment variables not already set, through python-dotenv;
``TRIOQUART_SKIP_DOTENV=1`` skips the two default files. ``--debug`` sets
``TRIOQUART_DEBUG=1``, so that the app, and every worker process, starts in debug mode.

Commands registered on ``app.cli`` (``@app.cli.command()``, a blueprint's ``cli`` group, an
extension's command) run as ``trioquart NAME``, with the app context pushed: ``current_app``
and ``g`` work in them. click commands are synchronous; a command may be an ``async def``
function, which is then run with ``trio.run`` (in the app context), or may call ``trio.run``
itself. The app context is pushed without a trio loop around the command, so
``teardown_appcontext`` functions run afterwards in a ``trio.run`` of their own.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs
import click
import dotenv
import flask.cli
import trio
from click.core import ParameterSource

from . import __version__
from .discovery import DEFAULT_FILES, AppTarget, NoAppError, find_app, is_trioquart_app
from .serving import ServerConfig, load_config_file, serve
from .serving.listening import ServerSetupError, check_tls, open_sockets, socket_urls
from .serving.logs import LOG_LEVELS, apply_app_log_level, configure_logging
from .serving.supervisor import WORKER_STARTUP_FAILED, startup_failure, supervise
from .serving.worker import AppStartupError

if TYPE_CHECKING:
    from hypercorn.config import Sockets

__all__ = [
    "AppTarget",
    "ScriptInfo",
    "TrioQuartGroup",
    "app_context_for_cli",
    "load_dotenv",
    "main",
    "pass_script_info",
]

#: The dotenv files loaded by default, later ones taking precedence.
DEFAULT_DOTENV_FILES = (".trioquartenv", ".env")


class ScriptInfo(flask.cli.ScriptInfo):
    """How a command finds the app: what ``@pass_script_info`` hands to commands (Quart-Schema's
    ``schema``, say), and what ``--app`` and ``TRIOQUART_APP`` fill in.

    Flask's class, whose ``load_app`` finds only Flask apps, with one that finds trioquart apps
    (:func:`trioquart.discovery.find_app`): from ``create_app`` (a callable returning the app),
    else from ``app_import_path``, else in the current directory.
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: Any = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        super().__init__(app_import_path, create_app, set_debug_flag, load_dotenv_defaults)
        skip = os.environ.get("TRIOQUART_SKIP_DOTENV", "").lower() in {"1", "true", "yes"}
        self.load_dotenv_defaults = load_dotenv_defaults and not skip
        self._loaded_target: AppTarget | None = None

    def load_target(self) -> AppTarget:
        """The app and the target string that finds it again (a worker process needs that);
        found once, then remembered. Raises :class:`~trioquart.discovery.NoAppError`."""
        if self._loaded_target is None:
            if self.create_app is not None:
                app = self.create_app()
                target = AppTarget(getattr(app, "import_name", "app"), "<create_app>", app)
            else:
                target = find_app(self.app_import_path or None)
            self.use_target(target)
        assert self._loaded_target is not None
        return self._loaded_target

    def use_target(self, target: AppTarget) -> None:
        """Use this app from now on (what ``run MODULE:APP``'s argument found)."""
        if self.set_debug_flag and "TRIOQUART_DEBUG" in os.environ and is_trioquart_app(target.app):
            target.app.debug = _debug_flag()
        self._loaded_target = target
        self._loaded_app = target.app

    def load_app(self) -> Any:
        return self.load_target().app


#: Passes the :class:`ScriptInfo` to a click command (one is made if there is none).
pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def _debug_flag() -> bool:
    return os.environ.get("TRIOQUART_DEBUG", "").lower() in {"1", "true"}


# ---- the app context around a command -----------------------------------------------------


@contextlib.contextmanager
def app_context_for_cli(app: Any) -> Iterator[None]:
    """Push ``app``'s context for a synchronous command, and pop it afterwards.

    ``async with app.app_context()`` needs a trio loop, which a click command does not run
    in; this sets the context for the calling thread directly (trio copies it into any
    ``trio.run`` the command makes), then runs the ``teardown_appcontext`` functions, which
    may be async, in a ``trio.run`` of their own. Anything that is not a trioquart app (a
    plain ASGI callable) gets no context.
    """
    if not is_trioquart_app(app):
        yield
        return
    from . import signals
    from .globals import _cv_app

    token = _cv_app.set(app.app_context())
    error: BaseException | None = None
    try:
        yield
    except BaseException as raised:
        error = raised
        raise
    finally:
        try:
            if app.teardown_appcontext_funcs or signals.appcontext_tearing_down.receivers:
                trio.run(app.do_teardown_appcontext, error)
        finally:
            _cv_app.reset(token)


def _run_coroutines_with_trio(command: click.Command) -> None:
    """Let ``command`` (and, for a group, its subcommands) be ``async def``: a callback that
    returns a coroutine has it run with ``trio.run``. Wrapping once is enough."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            _run_coroutines_with_trio(subcommand)
    callback = command.callback
    if callback is None or getattr(callback, "_trioquart_runs_coroutines", False):
        return

    @functools.wraps(callback)
    def run_with_trio(*args: Any, **kwargs: Any) -> Any:
        result = callback(*args, **kwargs)
        if inspect.iscoroutine(result):
            return trio.run(_await, result)
        return result

    run_with_trio._trioquart_runs_coroutines = True  # type: ignore[attr-defined]
    command.callback = run_with_trio


async def _await(coroutine: Any) -> Any:
    return await coroutine


# ---- .env files, --app, --debug -----------------------------------------------------------


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Set environment variables from dotenv files, with python-dotenv.

    The nearest ``.trioquartenv`` and ``.env`` (looking up from the current directory) are
    read if ``load_defaults``, then ``path``; a later file's value wins over an earlier one's,
    and a variable already in the environment wins over them all (so the shell, a systemd
    unit or a container can always override a file). Returns whether any variable was read.
    """
    values: dict[str, str | None] = {}
    if load_defaults:
        for name in DEFAULT_DOTENV_FILES:
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                values |= dotenv.dotenv_values(found, encoding="utf-8")
    if path is not None:
        values |= dotenv.dotenv_values(path, encoding="utf-8")
    for key, value in values.items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
    return bool(values)


def _load_env_files(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    info = ctx.ensure_object(ScriptInfo)
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool | None:
    if ctx.get_parameter_source("debug") in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        return None  # not given: TRIOQUART_DEBUG, if set, says
    # An environment variable, so that the app's config (made when the app is created, maybe
    # in a factory) and every worker process of ``run --workers`` see it.
    os.environ["TRIOQUART_DEBUG"] = "1" if value else "0"
    return value


# --env-file must be processed first (it may set TRIOQUART_APP), then --app; both are eager,
# so that `trioquart --help` lists the commands of the app they name.
_env_file_option = click.Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_load_env_files,
    help="Load environment variables from this file too, over .trioquartenv and .env;"
    " variables already set take precedence over all of them.",
)
_app_option = click.Option(
    ["-A", "--app"],
    metavar="TARGET",
    envvar="TRIOQUART_APP",
    is_eager=True,
    expose_value=False,
    callback=_set_app,
    help="The app: MODULE, MODULE:NAME, MODULE:create_app, MODULE:create_app('arg'), or a"
    " path to a .py file or package. [env: TRIOQUART_APP; default: asgi.py or app.py here]",
)
_debug_option = click.Option(
    ["--debug/--no-debug"],
    expose_value=False,
    callback=_set_debug,
    help="Turn the app's debug mode on or off (sets TRIOQUART_DEBUG).",
)


class TrioQuartGroup(click.Group):
    """The ``trioquart`` command: its own commands, and the app's ``app.cli`` commands."""

    def __init__(self, **kwargs: Any) -> None:
        params = list(kwargs.pop("params", None) or ())
        params[:0] = [_env_file_option, _app_option, _debug_option]
        super().__init__(params=params, **kwargs)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo()
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (not args and self.no_args_is_help) or (
            len(args) == 1 and args[0] in self.get_help_option_names(ctx)
        ):
            # The help is shown before the options are processed: read the env files and
            # TRIOQUART_APP first, so that it lists the app's commands.
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command  # trioquart's own commands work without an app
        app = self._load_app(ctx)
        app_cli = getattr(app, "cli", None)
        if app_cli is None:
            return None
        command = app_cli.get_command(ctx, cmd_name)
        if command is None:
            return None
        from .globals import _cv_app

        pushed = _cv_app.get()
        if pushed is None or pushed.app is not app:
            ctx.with_resource(app_context_for_cli(app))
        _run_coroutines_with_trio(command)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        app = self._load_app(ctx, quiet_without_target=True)
        app_cli = getattr(app, "cli", None)
        if app_cli is not None:
            names.update(app_cli.list_commands(ctx))
        return sorted(names)

    def _load_app(self, ctx: click.Context, quiet_without_target: bool = False) -> Any:
        """The app, or None after saying why there is none (the command that needs it then
        fails as unknown, with exit code 2)."""
        info = ctx.ensure_object(ScriptInfo)
        try:
            return info.load_app()
        except NoAppError as error:
            named = info.app_import_path or info.create_app is not None
            if named or not quiet_without_target:
                click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
            return None


def _app_target_argument(ctx: click.Context, param: click.Parameter, value: Any) -> AppTarget:
    """``run`` and ``routes`` take the app as an optional argument: without it, the app that
    --app, TRIOQUART_APP or the current directory names."""
    if isinstance(value, AppTarget):
        return value
    return ctx.ensure_object(ScriptInfo).load_target()


class AppTargetType(click.ParamType):
    """The ``MODULE:APP`` argument, found while the arguments are parsed.

    Doing it this early turns every way of getting the target wrong (no such module, no such
    attribute, an error raised while importing it) into a usage error with exit code 2,
    before a server is started or a worker process spawned and fails with a traceback of its
    own.
    """

    name = "MODULE:APP"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, AppTarget):
            return value
        try:
            target = find_app(str(value))
        except NoAppError as error:
            self.fail(error.message, param, ctx)
        if ctx is not None:
            ctx.ensure_object(ScriptInfo).use_target(target)
        return target


def _bind_for(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


APP_TARGET = AppTargetType()


@click.group(cls=TrioQuartGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="trioquart")
def main() -> None:
    """Run and inspect trioquart apps, and run the commands they register on app.cli."""


@attrs.frozen
class BrokenTarget:
    """What ``run --reload`` serves when the app cannot be loaded yet: the target string,
    for the workers to try again once a change fixes the app."""

    target: str

    def __str__(self) -> str:
        return self.target


def _run_target_argument(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> AppTarget | BrokenTarget:
    """``run``'s app, as for ``routes``; but with ``--reload`` (an eager option, so known by
    now) an app that fails to load is not the end: the error is shown, and the reloader
    starts it once a change fixes it, as it does for an error saved while serving."""
    try:
        if value is None:
            return _app_target_argument(ctx, param, None)
        return cast(AppTarget, APP_TARGET.convert(value, param, ctx))
    except (click.UsageError, NoAppError) as error:
        target = value or ctx.ensure_object(ScriptInfo).app_import_path or _default_target()
        if not ctx.params.get("reload") or target is None:
            raise
        click.echo(f"Error: {error.format_message()}", err=True)
        click.echo("Waiting for a change that fixes the app (--reload).", err=True)
        return BrokenTarget(target)


def _default_target() -> str | None:
    """The module ``find_app(None)`` would import, if there is one to fix."""
    for filename in DEFAULT_FILES:
        package = os.path.splitext(filename)[0]
        if os.path.isfile(filename) or os.path.isfile(os.path.join(package, "__init__.py")):
            return package
    return None


@main.command()
@click.argument("target", metavar="MODULE:APP", required=False, callback=_run_target_argument)
@click.option("--host", help="The interface to bind to.  [default: 127.0.0.1]")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="The port to bind to (0 lets the system pick one).  [default: 5000]",
)
@click.option(
    "--bind",
    "-b",
    "binds",
    multiple=True,
    metavar="ADDRESS",
    help="Listen on ADDRESS (HOST:PORT, [IPv6]:PORT, unix:PATH or fd://FD) instead of"
    " --host and --port; may be given more than once.",
)
@click.option(
    "--certfile",
    type=click.Path(),
    help="Serve HTTPS (and HTTP/2) with this certificate (PEM); needs --keyfile.",
)
@click.option("--keyfile", type=click.Path(), help="The certificate's private key (PEM).")
@click.option(
    "--keep-alive",
    type=click.FloatRange(min=0),
    help="Seconds an idle keep-alive connection stays open.  [default: 5]",
)
@click.option(
    "--graceful-timeout",
    type=click.FloatRange(min=0),
    help="Seconds requests in flight get to finish after SIGTERM or CTRL+C.  [default: 3]",
)
@click.option(
    "--config",
    "-c",
    "config_file",
    metavar="FILE",
    help="A Hypercorn configuration: FILE.toml, FILE.py or python:MODULE. The options above"
    " take precedence over it.",
)
@click.option(
    "--access-log/--no-access-log",
    default=None,
    help="Log each request to stdout, one line each, whatever --log-level says."
    "  [default: on, or as --config says]",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="The level of trioquart's, the app's and Hypercorn's error log, to stderr."
    "  [default: info, and the app's logger as the app sets it]",
)
@click.option(
    "--reload",
    is_flag=True,
    is_eager=True,  # known when the app is loaded: an app that fails to load is then waited for
    help="Restart the server when a source file changes.",
)
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(min=1),
    show_default=True,
    help="The number of worker processes.",
)
def run(
    target: AppTarget | BrokenTarget,
    host: str | None,
    port: int | None,
    binds: tuple[str, ...],
    certfile: str | None,
    keyfile: str | None,
    keep_alive: float | None,
    graceful_timeout: float | None,
    config_file: str | None,
    access_log: bool | None,
    log_level: str | None,
    reload: bool,
    workers: int,
) -> None:
    """Serve the app: MODULE:APP, or the one --app, TRIOQUART_APP or the current
    directory's asgi.py or app.py names.

    trioquart's server runs Hypercorn's HTTP/1.1, HTTP/2 and websocket protocol code in a
    loop of its own, where no client can stop the server. Requests are logged to stdout.
    CTRL+C or SIGTERM stops the server gracefully: it stops accepting connections at once,
    requests in flight may finish within --graceful-timeout, websockets are closed with
    1001 (going away), and the app's after_serving hooks run. A second CTRL+C forces it.
    With --workers N, a worker process that dies is replaced. With --reload, the server
    restarts when a Python file under the current directory changes, and an error in the
    app is shown until a change fixes it.
    """
    config = _load_config(config_file) if config_file else ServerConfig()
    if binds:
        config.bind = list(binds)
    elif config_file is None or host is not None or port is not None:
        config.bind = [_bind_for(host or "127.0.0.1", 5000 if port is None else port)]
    if certfile is not None:
        config.certfile = certfile
    if keyfile is not None:
        config.keyfile = keyfile
    if keep_alive is not None:
        config.keep_alive_timeout = keep_alive
    if graceful_timeout is not None:
        config.graceful_timeout = graceful_timeout
    if access_log is not None or config_file is None:
        config.accesslog = "-" if access_log is not False else None
    if config_file is None:
        config.errorlog = "-"
    if log_level is not None:
        config.loglevel = log_level.upper()
    configure_logging(config.loglevel)
    sockets = _open_sockets(config)

    if workers == 1 and not reload:
        assert isinstance(target, AppTarget)  # only --reload lets a broken app through
        apply_app_log_level(target.app, config)
        try:
            sys.exit(trio.run(_serve_in_process, target, config, sockets))
        except* AppStartupError as group:  # the app has logged its traceback already
            failure = startup_failure(group)
            click.echo(f"Error: the app failed to start: {failure}", err=True)
            sys.exit(WORKER_STARTUP_FAILED)

    # Several workers, or the reloader (which restarts the worker): a supervisor in this
    # process runs the workers, each importing the app afresh (trioquart.serving.supervisor).
    click.echo(
        f"Serving {target} on {', '.join(socket_urls(sockets))} with {workers} worker"
        f"{'s' if workers > 1 else ''}{' and the reloader' if reload else ''}"
        " (press CTRL+C to quit)"
    )
    broken = isinstance(target, BrokenTarget)
    sys.exit(
        supervise(
            str(target), config, workers, reload=reload, sockets=sockets, wait_for_change=broken
        )
    )


def _open_sockets(config: ServerConfig) -> Sockets:
    """Check the certificate and bind every address before serving, so a mistake in either
    is one line (``Error: cannot listen on ...``) and an exit code (2: what was given is
    wrong; 1: the system refused), not a traceback from a worker."""
    try:
        check_tls(config)
        return open_sockets(config)
    except ServerSetupError as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(error.exit_code)


def _load_config(spec: str) -> ServerConfig:
    try:
        return load_config_file(spec)
    except (OSError, ValueError, ImportError, AttributeError) as error:
        raise click.BadParameter(f"cannot load {spec!r}: {error}", param_hint="--config") from None


async def _serve_in_process(target: AppTarget, config: ServerConfig, sockets: Sockets) -> int:
    """Serve one worker in this process; the exit code is returned.

    Signals are caught rather than left to raise KeyboardInterrupt wherever the code
    happens to be: the first SIGINT or SIGTERM fires the server's ``shutdown_trigger``,
    which is the graceful stop (see :mod:`trioquart.serving.worker`); a second one cancels
    everything and the exit code is 1.
    """
    stop = trio.Event()
    forced = False
    with trio.open_signal_receiver(*_shutdown_signals()) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                nonlocal forced
                async for signum in signals:
                    if not stop.is_set():
                        click.echo(
                            f"{signal.Signals(signum).name}: shutting down"
                            " (press CTRL+C again to force)",
                            err=True,
                        )
                        stop.set()
                    else:
                        click.echo("Forced shutdown.", err=True)
                        forced = True
                        nursery.cancel_scope.cancel()

            async def serve_then_stop_watching(
                task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
            ) -> None:
                await serve(
                    target.app,
                    config,
                    sockets=sockets,
                    shutdown_trigger=stop.wait,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            bound: list[str] = await nursery.start(serve_then_stop_watching)
            click.echo(f"Serving {target} on {', '.join(bound)} (press CTRL+C to quit)")
    return 1 if forced else 0


def _shutdown_signals() -> list[int]:
    return [signal.SIGINT, signal.SIGTERM] + (
        [signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else []  # Windows' CTRL+Break
    )


#: ``routes --sort`` keys: each sorts by its column, then by rule and endpoint.
ROUTE_SORT_KEYS = ("rule", "endpoint", "blueprint", "methods", "match")


@main.command()
@click.argument(
    "target",
    metavar="MODULE:APP",
    type=APP_TARGET,
    required=False,
    callback=_app_target_argument,
)
@click.option(
    "--sort",
    "-s",
    type=click.Choice(ROUTE_SORT_KEYS),
    default="rule",
    show_default=True,
    help="The column to sort by; 'match' is the order in which rules are tried.",
)
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS too.")
def routes(target: AppTarget, sort: str, all_methods: bool) -> None:
    """List the app's URL rules: endpoint, blueprint, methods (WS for a websocket) and rule."""
    url_map = getattr(target.app, "url_map", None)
    if url_map is None:
        raise click.BadParameter(f"{str(target)!r} has no url_map; is it a trioquart app?")
    rules = list(url_map.iter_rules())
    if not rules:
        click.echo("No routes.")
        return
    rows = [
        (
            str(rule.endpoint),
            str(rule.endpoint).rpartition(".")[0],
            "WS" if rule.websocket else _format_methods(rule.methods, all_methods),
            str(rule.rule),
        )
        for rule in rules
    ]
    if sort != "match":
        column = {"endpoint": 0, "blueprint": 1, "methods": 2}.get(sort)
        rows.sort(key=lambda row: ((row[column],) if column is not None else ()) + (row[3], row[0]))
    click.echo(_format_table(("Endpoint", "Blueprint", "Methods", "Rule"), rows))


def _format_methods(methods: Iterable[str] | None, all_methods: bool = False) -> str:
    if methods is None:
        return "*"
    hidden = set() if all_methods else {"HEAD", "OPTIONS"}
    return ", ".join(sorted(set(methods) - hidden))


def _format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    separator = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])


@main.command()
@pass_script_info
def shell(info: ScriptInfo) -> None:
    """Open a Python console with the app context pushed, where `await` works.

    The console starts with app, g, current_app and trio defined, and whatever the app's
    shell_context_processor functions return. CTRL+C cancels a running statement;
    CTRL+D ends the session (teardown_appcontext functions then run).
    """
    app = info.load_app()
    if not is_trioquart_app(app):
        raise click.UsageError(f"{info.load_target()} is not a trioquart app: no shell for it.")
    from .shell import interact

    interact(app)


if __name__ == "__main__":
    # ``python -m trioquart.cli``: run the command of the module as imported under its own
    # name, so that extensions importing ``trioquart.cli.ScriptInfo`` get the class in use.
    from trioquart.cli import main as _main

    _main()
