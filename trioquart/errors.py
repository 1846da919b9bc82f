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
"""

from __future__ import annotations

import logging
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
