"""The ``trioquart`` command: serve an app, list its routes.

::

    trioquart run examples.hello:app --port 5000
    trioquart routes examples.hello:app
    trioquart --version

``MODULE:APP`` names a module importable from the current directory (as with ``flask run``,
the current directory is put on ``sys.path``) and the attribute holding the app; ``:APP``
defaults to ``:app``.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import click
import flask.cli
import trio

from . import __version__
from .serving import ServerConfig, load_config_file, serve
from .serving.supervisor import (
    WORKER_STARTUP_FAILED,
    configure_logging,
    startup_failure,
    supervise,
)
from .serving.worker import AppStartupError

__all__ = ["AppTarget", "ScriptInfo", "main", "pass_script_info"]


@attrs.frozen
class AppTarget:
    """A ``MODULE:APP`` argument, imported and checked."""

    module: str
    attribute: str
    app: Any

    def __str__(self) -> str:
        return f"{self.module}:{self.attribute}"


class AppTargetType(click.ParamType):
    """Imports ``MODULE:APP`` while the arguments are parsed.

    Doing it this early turns every way of getting the target wrong (no such module, no such
    attribute, a typo in the syntax) into a usage error with exit code 2, before a server is
    started or a worker process spawned and fails with a traceback of its own.
    """

    name = "MODULE:APP"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, AppTarget):
            return value
        module_name, _, attribute = str(value).partition(":")
        attribute = attribute or "app"
        if not _is_dotted_name(module_name) or not _is_dotted_name(attribute):
            self.fail(f"{value!r} is not of the form MODULE:APP (e.g. 'hello:app').", param, ctx)

        _make_cwd_importable()
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and _is_same_or_parent(error.name, module_name):
                self.fail(
                    f"could not import {module_name!r}: no module named {error.name!r} in"
                    f" {os.getcwd()!r} or on the Python path.",
                    param,
                    ctx,
                )
            self.fail(_describe_import_error(module_name, error), param, ctx)
        except Exception as error:
            self.fail(_describe_import_error(module_name, error), param, ctx)

        app: Any = module
        for part in attribute.split("."):
            try:
                app = getattr(app, part)
            except AttributeError:
                self.fail(f"module {module_name!r} has no attribute {attribute!r}.", param, ctx)
        if not callable(app):
            self.fail(f"{value!r} is a {type(app).__name__}, not an ASGI app.", param, ctx)
        return AppTarget(module=module_name, attribute=attribute, app=app)


class ScriptInfo(flask.cli.ScriptInfo):
    """How a command finds the app: what ``@pass_script_info`` hands to commands that
    extensions register on ``app.cli`` (Quart-Schema's ``schema``, say).

    Flask's class, whose ``load_app`` finds only Flask apps, with one that takes the app
    from ``create_app`` (a callable returning it), or else imports ``MODULE:APP`` from
    ``app_import_path``, as ``trioquart run`` does.
    """

    def load_app(self) -> Any:
        if self._loaded_app is not None:
            return self._loaded_app
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path:
            app = APP_TARGET.convert(self.app_import_path, None, None).app
        else:
            raise click.UsageError("No app to load: give MODULE:APP.")
        self._loaded_app = app
        return app


#: Passes the :class:`ScriptInfo` to a click command (one is made if there is none).
pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def _is_dotted_name(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _is_same_or_parent(package: str, module_name: str) -> bool:
    return module_name == package or module_name.startswith(package + ".")


def _describe_import_error(module_name: str, error: BaseException) -> str:
    """One readable paragraph for an error raised by the user's module while importing it:
    the exception and the innermost place it came from, which is what they need to fix."""
    description = "".join(traceback.format_exception_only(error)).strip()
    frames = traceback.extract_tb(error.__traceback__)
    where = f"\n  (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"importing {module_name!r} failed:\n  {description}{where}"


def _make_cwd_importable() -> None:
    # The console script's sys.path starts with its own bin directory, not the current one;
    # put the current directory first so ``trioquart run hello:app`` finds ./hello.py.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def _bind_for(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


APP_TARGET = AppTargetType()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="trioquart")
def main() -> None:
    """Run and inspect trioquart apps."""


@main.command()
@click.argument("target", metavar="MODULE:APP", type=APP_TARGET)
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
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS (and HTTP/2) with this certificate (PEM).",
)
@click.option(
    "--keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's key."
)
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
    help="Log each request to stdout.  [default: on, or as --config says]",
)
@click.option("--reload", is_flag=True, help="Restart the server when a source file changes.")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(min=1),
    show_default=True,
    help="The number of worker processes.",
)
def run(
    target: AppTarget,
    host: str | None,
    port: int | None,
    binds: tuple[str, ...],
    certfile: str | None,
    keyfile: str | None,
    keep_alive: float | None,
    graceful_timeout: float | None,
    config_file: str | None,
    access_log: bool | None,
    reload: bool,
    workers: int,
) -> None:
    """Serve MODULE:APP.

    trioquart's server runs Hypercorn's HTTP/1.1, HTTP/2 and websocket protocol code in a
    loop of its own, where no client can stop the server. Requests are logged to stdout.
    CTRL+C or SIGTERM stops the server gracefully: it stops accepting connections at once,
    requests in flight may finish within --graceful-timeout, websockets are closed with
    1001 (going away), and the app's after_serving hooks run. A second CTRL+C forces it.
    With --workers N, a worker process that dies is replaced.
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

    if workers == 1 and not reload:
        try:
            sys.exit(trio.run(_serve_in_process, target, config))
        except* AppStartupError as group:  # the app has logged its traceback already
            failure = startup_failure(group)
            click.echo(f"Error: the app failed to start: {failure}", err=True)
            sys.exit(WORKER_STARTUP_FAILED)

    # Several workers, or the reloader (which restarts the worker): a supervisor in this
    # process runs the workers, each importing the app afresh (trioquart.serving.supervisor).
    configure_logging()
    click.echo(
        f"Serving {target} on {', '.join(config.bind)} with {workers} worker"
        f"{'s' if workers > 1 else ''}{' and the reloader' if reload else ''}"
        " (press CTRL+C to quit)"
    )
    sys.exit(supervise(str(target), config, workers, reload=reload))


def _load_config(spec: str) -> ServerConfig:
    try:
        return load_config_file(spec)
    except (OSError, ValueError, ImportError, AttributeError) as error:
        raise click.BadParameter(f"cannot load {spec!r}: {error}", param_hint="--config") from None


async def _serve_in_process(target: AppTarget, config: ServerConfig) -> int:
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
                await serve(target.app, config, shutdown_trigger=stop.wait, task_status=task_status)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            bound: list[str] = await nursery.start(serve_then_stop_watching)
            click.echo(f"Serving {target} on {', '.join(bound)} (press CTRL+C to quit)")
    return 1 if forced else 0


def _shutdown_signals() -> list[int]:
    return [signal.SIGINT, signal.SIGTERM] + (
        [signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else []  # Windows' CTRL+Break
    )


@main.command()
@click.argument("target", metavar="MODULE:APP", type=APP_TARGET)
def routes(target: AppTarget) -> None:
    """List the URL rules of MODULE:APP, sorted by rule."""
    url_map = getattr(target.app, "url_map", None)
    if url_map is None:
        raise click.BadParameter(f"{str(target)!r} has no url_map; is it a trioquart app?")
    rows = [
        (str(rule.endpoint), _format_methods(rule.methods), str(rule.rule))
        for rule in sorted(url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))
    ]
    if not rows:
        click.echo("No routes.")
        return
    click.echo(_format_table(("Endpoint", "Methods", "Rule"), rows))


def _format_methods(methods: Iterable[str] | None) -> str:
    if methods is None:
        return "*"
    return ", ".join(sorted(set(methods) - {"HEAD", "OPTIONS"}))


def _format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    separator = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), separator, *(line(row) for row in rows)])


if __name__ == "__main__":
    main()
