"""What a subscription yields, what the broadcaster raises, and how it reports its health."""

from __future__ import annotations

import attrs

from ..wrappers.websocket import CloseWebsocket

__all__ = [
    "BroadcastError",
    "BroadcastHealth",
    "BroadcastUnavailable",
    "Gap",
    "Message",
    "SubscriberTooSlow",
    "stream_position",
]


@attrs.frozen
class Message:
    """One published message, as a subscriber receives it."""

    #: The channel it was published on.
    channel: str
    #: What was published: ``str`` stays ``str`` and ``bytes`` stays ``bytes``.
    data: str | bytes
    #: Its position in the channel's history when replay is on (pass it as ``since`` to
    #: resume after it); None otherwise.
    id: str | None = None


@attrs.frozen
class Gap:
    """A place in a subscription where messages may be missing.

    Delivery is at most once, so rather than losing messages silently the broadcaster puts
    a gap in the stream wherever it could not deliver: the app resynchronises (reloads
    state, tells the user) and carries on with the messages that follow.
    """

    #: The channel of the subscription.
    channel: str
    #: Why: ``"reconnected"`` (the backend connection was lost or not yet made, and is live
    #: again), ``"dropped"`` (this subscriber was behind and its oldest messages were dropped,
    #: with ``BROADCAST_OVERFLOW = "drop_oldest"``), ``"trimmed"`` (``since`` is older than
    #: the history kept), ``"unavailable"`` (the history asked for with ``since`` could not
    #: be read because the backend was unreachable; live messages follow).
    reason: str
    #: How many messages are missing, when that is known.
    missed: int | None = None


class BroadcastError(Exception):
    """Base class of the broadcaster's errors."""


class BroadcastUnavailable(BroadcastError):  # noqa: N818 -- reads as a state
    """Publishing failed because the backend (Redis) cannot be reached. Nothing is queued:
    the message was not sent, and the caller decides what to tell its user."""


class SubscriberTooSlow(BroadcastError, CloseWebsocket):  # noqa: N818 -- says what happened
    """A subscriber fell ``buffer_size`` messages behind and was ended.

    Raised from the ``async with broadcast.subscribe(...)`` block, which is cancelled when
    it happens (even while it waits to send to a slow websocket client). It is a
    :class:`~trioquart.CloseWebsocket` with 1013 (Try Again Later): escaping a websocket
    handler or its nursery's tasks, it closes the websocket with 1013 and the client can
    reconnect and resynchronise.
    """

    def __init__(self, channel: str, buffer_size: int) -> None:
        CloseWebsocket.__init__(self, 1013, "Try Again Later")
        self.args = (f"The subscriber to {channel!r} fell {buffer_size} messages behind",)
        self.channel = channel
        self.buffer_size = buffer_size


@attrs.frozen
class BroadcastHealth:
    """The broadcaster's state, for a health check (:meth:`Broadcast.health`)."""

    #: False while the app is not serving, or once the backend has been unreachable for
    #: longer than ``BROADCAST_OUTAGE_LIMIT`` seconds.
    healthy: bool
    #: Whether the backend connection is up (always True for the in-memory backend).
    connected: bool
    #: ``"memory"`` or ``"redis"``.
    backend: str
    #: Seconds since the backend connection was lost; None while connected.
    down_for: float | None
    #: Channels with at least one subscriber in this process.
    channels: int
    #: Subscribers in this process.
    subscribers: int

    def as_dict(self) -> dict[str, object]:
        return attrs.asdict(self)


def stream_position(message_id: str) -> tuple[int, int]:
    """A message id (``"<milliseconds>-<sequence>"``, as Redis Streams number entries) as a
    pair that sorts in publishing order."""
    first, _, second = message_id.partition("-")
    try:
        return int(first), int(second or 0)
    except ValueError:
        raise ValueError(f"Not a broadcast message id: {message_id!r}") from None
