"""Several worker processes behind one set of sockets, kept running by a supervisor.

``trioquart run --workers N`` (and ``--reload``) runs :func:`supervise` in the main process.
It binds the sockets once and starts N worker processes that share them; each worker runs
:func:`trioquart.serving.serve` on its own trio loop. The supervisor:

- **replaces a worker that dies**, logging how it ended (its exit status, or the signal
  that killed it), while the other workers go on serving. Replacements back off
  (0.1 s, doubling, at most ``MAX_BACKOFF``) when a slot keeps failing quickly, so a crash
  loop does not spin; after ``MAX_QUICK_FAILURES`` quick failures in a row it gives up,
  stops the other workers and exits 1. (Hypercorn's supervisor stops everything after a
  crash and exits 0.) A worker that served for ``STABLE_UPTIME`` seconds before it died
  starts its slot's count afresh.
- **stops gracefully on SIGINT or SIGTERM**: it closes its copies of the sockets at once and
  tells every worker to shut down gracefully; a second signal forces the stop (workers
  cancel everything and exit; any still running a second later are killed), and the exit
  code is then 1.
- with ``reload=True``, restarts the workers when a source file changes (watched with
  watchfiles: :mod:`trioquart.serving.reloader`), and after a failure (an import error in
  the app, say, printed without the import machinery's frames) waits for the next change
  instead of giving up.

Workers talk to the supervisor over a pipe: they report ``"ready"`` once they serve; the
supervisor sends ``"stop"`` or ``"force"``. A worker whose pipe closes (the supervisor
died) shuts down gracefully on its own. Workers ignore SIGINT: a Ctrl+C in a terminal
reaches every process in the group, and the supervisor alone decides what it means.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ..discovery import NoAppError
from .listening import open_sockets
from .loading import describe_load_error, load_target
from .logs import apply_app_log_level, configure_logging
from .reloader import reload_templates, source_roots, watch_source
from .worker import AppStartupError, serve

if TYPE_CHECKING:
    from hypercorn.config import Config, Sockets

__all__ = ["configure_logging", "describe_exit", "supervise"]

logger = logging.getLogger("trioquart.server")

#: Seconds a worker must have run before its death no longer counts as a quick failure.
STABLE_UPTIME = 10.0
#: Quick failures in a row, in one slot, after which the supervisor gives up.
MAX_QUICK_FAILURES = 5
#: The first and the longest wait before a failed worker is replaced.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
#: Exit status of a worker whose app failed to load or start.
WORKER_STARTUP_FAILED = 3


def describe_exit(exitcode: int | None) -> str:
    """How a worker process ended, in words (``multiprocessing`` gives -N for signal N)."""
    if exitcode is None:
        return "is still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}"
    if exitcode == WORKER_STARTUP_FAILED:
        return f"failed to start (exit status {exitcode})"
    return f"exited with status {exitcode}"


def supervise(
    target: str,
    config: Config,
    workers: int,
    *,
    reload: bool = False,
    sockets: Sockets | None = None,
    wait_for_change: bool = False,
) -> int:
    """Serve the app named by ``target`` (``module:attribute``) with ``workers`` processes
    until a signal stops them; the exit code for the command line is returned. ``sockets``
    are the listening sockets (:func:`~trioquart.serving.listening.open_sockets`); without
    them the config's binds are opened. With ``wait_for_change`` (and ``reload``), the
    first workers start at the first change to the source: the app is known not to load
    yet, and the command has said why."""
    supervisor = Supervisor(
        target=target,
        config=config,
        workers=workers,
        reload=reload,
        sockets=sockets,
        wait_for_change=wait_for_change,
    )
    return trio.run(supervisor.run)


@attrs.define(eq=False)
class Worker:
    """One worker process and the supervisor's end of its pipe."""

    slot: int
    process: Any  # multiprocessing's SpawnProcess
    pipe: Pipe
    started_at: float
    #: How many changes to the source the supervisor had seen when it started the worker.
    generation: int = 0
    #: Asked to stop because the source changed (it is to be started again at once).
    restarting: bool = False

    def tell(self, command: str) -> None:
        try:
            self.pipe.send(command)
        except (BrokenPipeError, OSError):
            pass  # it is gone already


@attrs.define(eq=False)
class Supervisor:
    target: str
    config: Config
    workers: int
    reload: bool = False
    exit_code: int = 0
    stopping: trio.Event = attrs.Factory(trio.Event)
    forced: bool = False
    running: dict[int, Worker] = attrs.Factory(dict)
    sockets: Sockets | None = None
    #: Changes to the source seen so far, and an event set at the next one (or at the stop).
    generation: int = 0
    changed: trio.Event = attrs.Factory(trio.Event)
    #: Start the workers only after the first change (the app does not load yet).
    wait_for_change: bool = False

    async def run(self) -> int:
        if self.sockets is None:
            self.sockets = open_sockets(self.config)
        try:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch_signals, signals)
                    if self.reload:
                        roots = source_roots(self.target.partition(":")[0])
                        await nursery.start(watch_source, roots, self._source_changed)
                        logger.info("Watching %s for changes", ", ".join(map(str, roots)))
                    async with trio.open_nursery() as slots:
                        for slot in range(self.workers):
                            slots.start_soon(self._keep_running, slot)
                    nursery.cancel_scope.cancel()
        finally:
            self._close_sockets()
        return self.exit_code

    # ---- one slot ---------------------------------------------------------------------------

    async def _keep_running(self, slot: int) -> None:
        quick_failures = 0
        if self.reload and self.wait_for_change:
            await self._next_change(0)
        while not self.stopping.is_set():
            worker = self._start(slot)
            exitcode = await self._wait_for_exit(worker)
            if self.stopping.is_set():
                if exitcode:
                    logger.warning(
                        "Worker %d (pid %d) %s", slot, worker.process.pid, describe_exit(exitcode)
                    )
                return
            if worker.restarting:
                continue  # stopped by the reloader, for a change
            uptime = trio.current_time() - worker.started_at
            quick_failures = quick_failures + 1 if uptime < STABLE_UPTIME else 1
            logger.error(
                "Worker %d (pid %d) %s after %.1f s",
                slot,
                worker.process.pid,
                describe_exit(exitcode),
                uptime,
            )
            if self.reload:
                logger.error("Waiting for a change to the source before starting it again")
                await self._next_change(worker.generation)
                continue
            if quick_failures >= MAX_QUICK_FAILURES:
                logger.critical(
                    "Worker %d failed %d times in a row within %.0f s of starting; stopping",
                    slot,
                    quick_failures,
                    STABLE_UPTIME,
                )
                self.exit_code = 1
                self._stop()
                return
            delay = min(FIRST_BACKOFF * 2 ** (quick_failures - 1), MAX_BACKOFF)
            logger.info("Starting a new worker %d in %.1f s", slot, delay)
            with trio.move_on_after(delay):
                await self.stopping.wait()

    def _start(self, slot: int) -> Worker:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_worker_main,
            args=(self.target, self.config, self.sockets, theirs, self.reload),
            name=f"trioquart worker {slot}",
        )
        process.start()
        theirs.close()
        worker = Worker(
            slot=slot,
            process=process,
            pipe=ours,
            started_at=trio.current_time(),
            generation=self.generation,
        )
        self.running[slot] = worker
        return worker

    async def _wait_for_exit(self, worker: Worker) -> int | None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, worker)
            await trio.lowlevel.wait_readable(worker.process.sentinel)
            nursery.cancel_scope.cancel()
        worker.process.join()
        worker.pipe.close()
        self.running.pop(worker.slot, None)
        exitcode: int | None = worker.process.exitcode
        return exitcode

    async def _listen(self, worker: Worker) -> None:
        """Log the worker's reports until its pipe closes."""
        while True:
            await trio.lowlevel.wait_readable(worker.pipe.fileno())
            try:
                message = worker.pipe.recv()
            except (EOFError, OSError):
                return
            if message == "ready":
                logger.info("Worker %d (pid %d) is serving", worker.slot, worker.process.pid)

    # ---- stopping ---------------------------------------------------------------------------

    async def _watch_signals(self, signals: Any) -> None:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not self.stopping.is_set():
                logger.warning("%s: shutting down gracefully (again to force)", name)
                self._stop()
            elif not self.forced:
                logger.warning("%s again: forcing the shutdown", name)
                self.forced = True
                self.exit_code = 1
                for worker in list(self.running.values()):
                    worker.tell("force")
                await trio.sleep(1.0)
                for worker in list(self.running.values()):
                    worker.process.kill()

    def _stop(self) -> None:
        """Refuse new connections now and ask every worker to finish gracefully."""
        self.stopping.set()
        self.changed.set()  # nothing waits for a change any more
        self._close_sockets()
        for worker in list(self.running.values()):
            worker.tell("stop")

    def _close_sockets(self) -> None:
        if self.sockets is None:
            return
        for sock in [*self.sockets.secure_sockets, *self.sockets.insecure_sockets]:
            sock.close()

    # ---- reloading --------------------------------------------------------------------------

    def _source_changed(self, paths: set[Path]) -> None:
        """Restart the running workers, and wake the slots waiting for a fix."""
        if self.stopping.is_set():
            return
        names = sorted(_relative(path) for path in paths)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        logger.info("Reloading: %s changed", shown)
        self.generation += 1
        self.changed.set()
        self.changed = trio.Event()
        for worker in list(self.running.values()):
            worker.restarting = True
            worker.tell("stop")

    async def _next_change(self, since: int) -> None:
        """Wait until the source has changed since generation ``since`` (or the stop)."""
        while self.generation == since and not self.stopping.is_set():
            await self.changed.wait()


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---- the worker process -----------------------------------------------------------------------


def _worker_main(
    target: str, config: Config, sockets: Sockets, pipe: Pipe, reload: bool = False
) -> None:
    """A worker process: load the app, serve it until the supervisor says stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(config.loglevel)
    try:
        app = load_target(target)
    except NoAppError as error:  # already a message: the user's error and their frame
        logger.error("Worker (pid %d) could not load %s: %s", os.getpid(), target, error.message)
        raise SystemExit(WORKER_STARTUP_FAILED) from None
    except Exception as error:
        description = describe_load_error(error)
        logger.error("Worker (pid %d) could not load %s:\n%s", os.getpid(), target, description)
        raise SystemExit(WORKER_STARTUP_FAILED) from None
    apply_app_log_level(app, config)
    if reload:
        reload_templates(app)
    raise SystemExit(trio.run(_serve_worker, app, config, sockets, pipe))


async def _serve_worker(app: Any, config: Config, sockets: Sockets, pipe: Pipe) -> int:
    """Serve until told to stop; the worker's exit status is returned."""
    stop = trio.Event()
    ready = False
    try:
        with trio.open_signal_receiver(signal.SIGTERM) as sigterm:
            async with trio.open_nursery() as nursery:

                async def serve_then_stop(task_status: trio.TaskStatus[Any]) -> None:
                    await serve(
                        app,
                        config,
                        sockets=sockets,
                        shutdown_trigger=stop.wait,
                        task_status=task_status,
                    )
                    nursery.cancel_scope.cancel()

                nursery.start_soon(_obey_supervisor, pipe, stop, nursery.cancel_scope)
                nursery.start_soon(_obey_sigterm, sigterm, stop)
                await nursery.start(serve_then_stop)
                ready = True
                pipe.send("ready")
    except Exception as error:
        if ready:
            raise
        failure = startup_failure(error)
        if failure is not None:  # the app has logged its own traceback
            logger.error("Worker (pid %d) failed to start: %s", os.getpid(), failure)
        else:
            logger.exception("Worker (pid %d) failed to start", os.getpid())
        return WORKER_STARTUP_FAILED
    return 0


def startup_failure(error: BaseException) -> str | None:
    """The app's own message if ``error`` is (or holds) a failed lifespan startup."""
    if isinstance(error, BaseExceptionGroup):
        group = error.subgroup(AppStartupError)
        return None if group is None else next(iter(_leaves(group))).message
    return error.message if isinstance(error, AppStartupError) else None


def _leaves(group: BaseExceptionGroup[AppStartupError]) -> list[AppStartupError]:
    found: list[AppStartupError] = []
    for member in group.exceptions:
        found.extend(_leaves(member) if isinstance(member, BaseExceptionGroup) else [member])
    return found


async def _obey_supervisor(pipe: Pipe, stop: trio.Event, everything: trio.CancelScope) -> None:
    while True:
        await trio.lowlevel.wait_readable(pipe.fileno())
        try:
            command = pipe.recv()
        except (EOFError, OSError):
            command = "stop"  # the supervisor is gone: stop serving, gracefully
        if command == "force":
            everything.cancel()
            return
        stop.set()
        if command == "stop":
            # Only "force" may follow; a closed pipe (EOF) means nothing more will.
            try:
                await trio.lowlevel.wait_readable(pipe.fileno())
                if pipe.recv() == "force":
                    everything.cancel()
            except (EOFError, OSError):
                pass
            return


async def _obey_sigterm(sigterm: Any, stop: trio.Event) -> None:
    async for _ in sigterm:
        stop.set()
