"""The exception-group boundary: how an error from a nursery becomes one handled error.

trio wraps errors from a nursery in an exception group. Handlers are written for plain
exceptions (``@app.errorhandler(KeyError)``), so at the framework boundary a group is
reduced to the one error it stands for:

1. ``trio.Cancelled`` members are dropped: they are the consequence of another error.
2. If one error remains, it is handled as if it had been raised on its own.
3. If several remain and the app has a handler registered for an exception-group type
   (``@app.errorhandler(ExceptionGroup)``, say), the group is handled whole. A catch-all
   ``@app.errorhandler(Exception)`` does not count here: it would hide the members.
4. Otherwise the first member, in the group's order, that is an ``HTTPException`` or has a
   registered handler is handled; the others are logged.
5. Otherwise the whole group is an unhandled error: logged with all its members, answered
   with a 500.

An error that asyncio code caused (a library built on asyncio, run under trio) gets a note
naming the asyncio call before it is reported: see :func:`explain_asyncio`.
"""

from __future__ import annotations

import linecache
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable

import trio
from werkzeug.exceptions import HTTPException

logger = logging.getLogger("trioquart")


def leaves(error: BaseException) -> list[BaseException]:
    """The non-group members of ``error``, depth first, in order."""
    if isinstance(error, BaseExceptionGroup):
        found: list[BaseException] = []
        for member in error.exceptions:
            found.extend(leaves(member))
        return found
    return [error]


def strip_cancelled(error: BaseException) -> BaseException | None:
    """``error`` without its ``trio.Cancelled`` members, collapsed to a lone member if one
    remains; None if nothing but cancellations was in it."""
    if not isinstance(error, BaseExceptionGroup):
        return None if isinstance(error, trio.Cancelled) else error
    rest = [leaf for leaf in leaves(error) if not isinstance(leaf, trio.Cancelled)]
    if not rest:
        return None
    if len(rest) == 1:
        return rest[0]
    _, remainder = error.split(trio.Cancelled)
    return remainder


def choose(
    error: BaseException,
    has_handler: Callable[[BaseException], bool],
    has_group_handler: Callable[[BaseExceptionGroup], bool],
) -> BaseException:
    """Pick the one error to handle for ``error`` (a plain error or a group), by the rules
    in this module's docstring. Cancellations must already be stripped."""
    if not isinstance(error, BaseExceptionGroup):
        return error
    if has_group_handler(error):
        return error
    members = leaves(error)
    for member in members:
        if isinstance(member, HTTPException) or has_handler(member):
            others = [m for m in members if m is not member]
            for other in others:
                logger.error(
                    "Error alongside the handled %r",
                    member,
                    exc_info=(type(other), other, other.__traceback__),
                )
            return member
    return error


def holds_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is, or holds, a ``KeyboardInterrupt`` (which belongs to the server)."""
    if isinstance(error, BaseExceptionGroup):
        return error.subgroup(KeyboardInterrupt) is not None
    return isinstance(error, KeyboardInterrupt)


def belongs_to_server(error: BaseException) -> bool:
    """Whether ``error`` is a cancellation or an interrupt: those leave the ASGI callable,
    everything else is answered there (see :mod:`trioquart.asgi`)."""
    if isinstance(error, trio.Cancelled | KeyboardInterrupt):
        return True
    if isinstance(error, BaseExceptionGroup):
        return strip_cancelled(error) is None or holds_interrupt(error)
    return False


# ---- asyncio code run under trio ----------------------------------------------------------

#: The start of every note :func:`explain_asyncio` adds, so that it adds one at most.
ASYNCIO_NOTE_MARK = "trioquart: asyncio under trio."

_NO_LOOP_MESSAGES = ("no running event loop", "no current event loop")
_FOREIGN_YIELD = re.compile(r"unrecognized yield message (?P<what>.*?)\. Are you trying", re.S)


def explain_asyncio(error: BaseException) -> str | None:
    """Add a note to ``error`` saying which asyncio call caused it, if asyncio code did.

    Code built on asyncio (``redis.asyncio``, ``valkey.asyncio``, an extension's store ...)
    fails under trio in two ways, neither of which says much where it is seen: an asyncio
    function that needs its event loop raises ``RuntimeError: no running event loop``
    (which the library often re-raises as its own error, a "connection error", say), and
    awaiting an asyncio future makes trio throw a ``TypeError`` about an "unrecognized
    yield message" into the awaiting code. This looks for either in ``error``, its causes
    and contexts and the members of a group, and adds a note (PEP 678, printed with the
    traceback and kept in the lifespan failure message) that names the asyncio call, the
    code that made it and what to do instead. Returns the note, or None if there was no
    sign of asyncio or the error already has the note. The app calls it for every error it
    reports: unhandled request and websocket errors (and errors while answering them),
    failed serving hooks, background-task and teardown errors.
    """
    if any(note.startswith(ASYNCIO_NOTE_MARK) for note in getattr(error, "__notes__", ())):
        return None
    found: list[tuple[int, str]] = []
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        described = _describe_asyncio_failure(current)
        if described is not None:
            found.append(described)
    if not found:
        return None
    # The most precise; if tied, the one found last, the deepest cause: it happened first.
    _, description = max(reversed(found), key=lambda item: item[0])
    note = (
        f"{ASYNCIO_NOTE_MARK} {description} trioquart runs on trio, where no asyncio event"
        " loop is running, so code built on asyncio cannot run in a trioquart app (and an"
        " asyncio library's connection or timeout errors here mean this, not a network"
        " fault). Use a library that supports trio, directly or through anyio, instead."
    )
    error.add_note(note)
    return note


def _describe_asyncio_failure(error: BaseException) -> tuple[int, str] | None:
    """What asyncio call ``error`` itself (not its causes) comes from, and how precisely
    that is known (2: the asyncio function is in the traceback; 1: only the call site)."""
    try:
        message = str(error)
    except Exception:  # an error that cannot say what it is: nothing to explain, and
        return None  # the report of it must not fail here
    foreign_yield = _FOREIGN_YIELD.search(message) if isinstance(error, TypeError) else None
    if foreign_yield is None and not any(text in message for text in _NO_LOOP_MESSAGES):
        return None
    # trio's and trioquart's own frames are left out: neither calls asyncio, and where a
    # coroutine is driven by hand (trioquart.asgi.driving) trio's TypeError is first raised
    # in the driver, which would otherwise look like the innermost frame, the await.
    frames = [
        (frame, lineno)
        for frame, lineno in traceback.walk_tb(error.__traceback__)
        if frame.f_globals.get("__name__", "").partition(".")[0] not in ("trio", "trioquart")
    ]
    asyncio_module = sys.modules.get("asyncio")
    asyncio_dir = os.path.dirname(asyncio_module.__file__ or "") if asyncio_module else None
    precision, called, site = 1, "an asyncio call", frames[-1] if frames else None
    for index, (frame, _) in enumerate(frames):
        if asyncio_dir and os.path.dirname(frame.f_code.co_filename) == asyncio_dir:
            name = frame.f_code.co_name
            module = frame.f_globals.get("__name__", "asyncio")
            public = getattr(asyncio_module, name, None) is not None
            called = f"asyncio.{name}()" if public else f"{module}.{frame.f_code.co_qualname}()"
            precision, site = 2, frames[index - 1] if index else None
            break
    where = ""
    if site is not None:
        frame, lineno = site
        module = frame.f_globals.get("__name__", frame.f_code.co_filename)
        line = linecache.getline(frame.f_code.co_filename, lineno).strip()
        where = f" in {module} line {lineno}, {frame.f_code.co_name}()" + (
            f" (`{line}`)" if line else ""
        )
    if foreign_yield is not None:
        what = foreign_yield.group("what")
        source = f" (from {called})" if precision == 2 else ""
        return precision, (
            f"Awaiting {what}{source}{where} handed trio an object that only asyncio's event"
            " loop can wait on."
        )
    return precision, f"{called}{where} needs a running asyncio event loop."
