"""Message flashing: a message stored in the session by one request and shown by a later one.

``await flash("Saved")`` in the view that redirects, ``get_flashed_messages()`` in the page
that follows (often in a template). The messages live in the session under ``_flashes`` as
Flask keeps them, so a session cookie written by Flask can be read here and the other way
round; this needs ``SECRET_KEY`` like any session.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import signals
from .globals import _cv_app, _cv_request, _cv_websocket

_KEY = "_flashes"

__all__ = ["flash", "get_flashed_messages"]


async def flash(message: str, category: str = "message") -> None:
    """Keep ``message`` for the next request that calls :func:`get_flashed_messages`.

    ``category`` is free text; ``"message"``, ``"info"``, ``"warning"`` and ``"error"``
    are customary. Sends the ``message_flashed`` signal. In a websocket the message is
    lost, since a websocket cannot set the session cookie.
    """
    ctx: Any = _cv_request.get() or _cv_websocket.get()
    if ctx is None:
        raise RuntimeError("flash needs an active request: the message is kept in the session.")
    session = ctx.session
    flashes = session.get(_KEY, [])
    flashes.append((category, message))
    # Assigning marks the session modified, so it is saved with the response.
    session[_KEY] = flashes
    await signals.send(signals.message_flashed, ctx.app, message=message, category=category)


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """The flashed messages, oldest first, removed from the session on the first call.

    Later calls in the same request return the same messages. ``with_categories=True``
    gives ``(category, message)`` pairs; ``category_filter`` keeps only those categories.
    Outside a request (a template rendered in a background task, say) there is no
    session, and the list is empty.
    """
    ctx: Any = _cv_request.get() or _cv_websocket.get()
    if ctx is None:
        if _cv_app.get() is None:
            raise RuntimeError("get_flashed_messages needs an application context.")
        return []
    flashes: list[tuple[str, str]] | None = ctx.flashes
    if flashes is None:
        session = ctx.session
        stored = session.pop(_KEY) if _KEY in session else []
        flashes = [(pair[0], pair[1]) for pair in stored]
        ctx.flashes = flashes
    if category_filter:
        wanted = {category_filter} if isinstance(category_filter, str) else set(category_filter)
        flashes = [pair for pair in flashes if pair[0] in wanted]
    if with_categories:
        return flashes
    return [message for _, message in flashes]
