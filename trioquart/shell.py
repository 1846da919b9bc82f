"""``trioquart shell``: an interactive Python console in the app's context, where ``await`` works.

trio ships such a console (``python -m trio``), but only as a program: it has no public way
to add names or to run statements inside an app context. This one keeps the same idea (the
standard :class:`code.InteractiveConsole`, compiling with top-level ``await`` allowed) and
arranges the threads so that CTRL+C behaves as at Python's own prompt:

- the prompt runs in the main thread, where CTRL+C interrupts ``input()`` or a statement;
- one trio loop runs in a second thread for the whole session. Its main task pushes the app
  context (``async with app.app_context()``) and then runs each statement the prompt hands
  it, one at a time, in that context: ``current_app``, ``g`` and anything started in one
  statement (a ``trio.Event``, a memory channel) stay usable in the next.

CTRL+C during a statement cancels it (and prints ``KeyboardInterrupt``); at the prompt it
discards the line, as usual. End the session with CTRL+D (or ``exit()``); the app context is
then popped, so ``teardown_appcontext`` functions run.
"""

from __future__ import annotations

import ast
import code
import contextlib
import inspect
import math
import signal
import sys
import threading
import types
from typing import TYPE_CHECKING, Any

import attrs
import outcome
import trio

if TYPE_CHECKING:
    from .app import TrioQuart

__all__ = ["interact", "shell_namespace"]


def shell_namespace(app: TrioQuart) -> dict[str, Any]:
    """The names the console starts with: ``app``, ``g``, ``trio``, ``current_app``, and
    whatever the app's ``shell_context_processor`` functions return."""
    from .globals import current_app, g

    namespace: dict[str, Any] = {
        "__name__": "__console__",
        "__builtins__": __builtins__,
        "app": app,
        "g": g,
        "current_app": current_app,
        "trio": trio,
    }
    for processor in app.shell_context_processors:
        namespace.update(processor())
    return namespace


def interact(app: TrioQuart, banner: str | None = None) -> None:
    """Run the console until end of input, with ``app``'s context pushed."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())

    if threading.current_thread() is threading.main_thread():
        # CTRL+C must cancel a statement even when the shell was started with SIGINT
        # ignored (Python keeps an inherited SIG_IGN, as from a background job of a
        # non-interactive shell), which would otherwise leave a runaway statement running.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    loop = _StatementLoop(app)
    loop.start()
    try:
        # The namespace is made inside the loop, in the app context: shell context
        # processors may use current_app.
        namespace = loop.call(lambda: shell_namespace(app)).unwrap()
        console = _AwaitConsole(namespace, loop)
        if banner is None:
            banner = (
                f"Python {sys.version} on {sys.platform}\n"
                f"App: {app.import_name}\nInstance: {app.instance_path}\n"
                "The app context is pushed, and `await` works at the prompt."
            )
        console.interact(banner=banner, exitmsg="")
    finally:
        loop.stop()


@attrs.define
class _Statement:
    """One statement handed from the prompt to the trio loop, and what became of it."""

    function: Any
    done: threading.Event = attrs.field(factory=threading.Event)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    result: outcome.Outcome[Any] | None = None


class _StatementLoop:
    """The trio loop, in its own thread, that runs the console's statements."""

    def __init__(self, app: TrioQuart) -> None:
        self._app = app
        self._send, self._receive = trio.open_memory_channel[_Statement](math.inf)
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trioquart shell", daemon=True)
        self._failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def call(self, function: Any) -> outcome.Outcome[Any]:
        """Run ``function`` (sync, or async for a statement with ``await``) in the loop and
        wait for it; CTRL+C cancels it and is raised here once it has stopped."""
        statement = _Statement(function)
        assert self._token is not None
        sent = False
        try:
            self._token.run_sync_soon(self._send.send_nowait, statement)
            sent = True
            statement.done.wait()
        except KeyboardInterrupt:
            # The signal may come before the wait starts, even before the statement was
            # handed over: the loop runs callbacks in order, so a statement it received is
            # cancelled as soon as it starts (or at once if it has), and nothing is left
            # running behind the next prompt.
            self._token.run_sync_soon(statement.scope.cancel)
            if sent:
                statement.done.wait()
            raise
        assert statement.result is not None
        return statement.result

    def stop(self) -> None:
        if self._token is not None and self._thread.is_alive():
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._send.close)
        self._thread.join()

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as error:  # reported by start(), or lost at exit
            self._failure = error
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with self._app.app_context():
            self._ready.set()
            async with self._receive:
                async for statement in self._receive:
                    result: outcome.Outcome[Any] = outcome.Error(KeyboardInterrupt())
                    with statement.scope:
                        if inspect.iscoroutinefunction(statement.function):
                            result = await outcome.acapture(statement.function)
                        else:
                            result = outcome.capture(statement.function)
                    if isinstance(result, outcome.Error) and isinstance(
                        result.error, trio.Cancelled
                    ):  # by CTRL+C
                        result = outcome.Error(KeyboardInterrupt())
                    statement.result = result
                    statement.done.set()


class _AwaitConsole(code.InteractiveConsole):
    """Python's console, compiling with top-level ``await`` and running code in the loop."""

    def __init__(self, namespace: dict[str, Any], loop: _StatementLoop) -> None:
        super().__init__(namespace)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._loop = loop

    def runcode(self, code: types.CodeType) -> None:
        # A statement compiled with top-level await runs as a coroutine function's body;
        # either way, its globals are the console's namespace, where its names land.
        function = types.FunctionType(code, self.locals)
        try:
            result = self._loop.call(function)
        except KeyboardInterrupt:
            self.write("KeyboardInterrupt\n")
            return
        if isinstance(result, outcome.Error):
            error = result.error
            if isinstance(error, SystemExit):
                raise error
            # Skip outcome's own frame: the first one shown is the statement's.
            tb = error.__traceback__.tb_next if error.__traceback__ else None
            sys.excepthook(type(error), error, tb)
