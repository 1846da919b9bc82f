"""The ``trioquart`` command: serve an app with Hypercorn's trio worker, list its routes.

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
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.run import run as hypercorn_run
from hypercorn.trio import serve

from . import __version__

__all__ = ["AppTarget", "main"]


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
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to bind to.")
@click.option(
    "--port",
    default=5000,
    type=click.IntRange(0, 65535),
    show_default=True,
    help="The port to bind to (0 lets the system pick one).",
)
@click.option("--reload", is_flag=True, help="Restart the server when a source file changes.")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(min=1),
    show_default=True,
    help="The number of worker processes.",
)
def run(target: AppTarget, host: str, port: int, reload: bool, workers: int) -> None:
    """Serve MODULE:APP with Hypercorn's trio worker.

    Requests are logged to stdout. CTRL+C or SIGTERM stops the server gracefully: requests in
    flight may finish and the app's after_serving hooks run. A second CTRL+C forces it.
    """
    config = HypercornConfig()
    config.application_path = str(target)
    config.worker_class = "trio"
    config.bind = [_bind_for(host, port)]
    config.accesslog = "-"
    config.errorlog = "-"
    config.use_reloader = reload
    config.workers = workers

    if workers == 1 and not reload:
        sys.exit(trio.run(_serve_in_process, target, config))

    # Several workers, or the reloader (which needs a supervisor process to restart the
    # worker): Hypercorn's supervisor spawns the workers, each importing the app afresh, and
    # turns SIGINT/SIGTERM into a graceful shutdown of all of them.
    click.echo(
        f"Serving {target} on http://{config.bind[0]} with {workers} worker"
        f"{'s' if workers > 1 else ''}{' and the reloader' if reload else ''}"
        " (press CTRL+C to quit)"
    )
    sys.exit(hypercorn_run(config))


async def _serve_in_process(target: AppTarget, config: HypercornConfig) -> int:
    """Serve one worker in this process; the exit code is returned.

    For a single worker this beats Hypercorn's supervisor (``hypercorn.run.run`` with
    ``workers=1``): that spawns a child process which imports the app a second time, and it
    exits 0 even if the worker crashed. Here a crash raises, so the exit code is non-zero, and
    the URL printed is the one actually bound (useful with ``--port 0``).

    ``hypercorn.run.run`` with ``workers=0`` would run in-process too, but it stops only on
    SIGINT, and then by raising KeyboardInterrupt wherever the code happens to be. Catching
    the signals instead and firing Hypercorn's ``shutdown_trigger`` gives the same graceful
    stop for SIGINT and SIGTERM: new connections are refused, requests in flight get
    ``graceful_timeout`` seconds, and then the lifespan shutdown (``after_serving``) runs.
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
                    shutdown_trigger=stop.wait,
                    mode="asgi",
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            binds: list[str] = await nursery.start(serve_then_stop_watching)
            click.echo(f"Serving {target} on {binds[0]} (press CTRL+C to quit)")
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
