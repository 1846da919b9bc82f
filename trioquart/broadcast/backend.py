"""What the broadcaster needs from a backend, and how a message travels as bytes."""

from __future__ import annotations

from typing import Protocol

import trio

from .events import Gap, Message
from .hub import Hub, Subscriber

__all__ = ["Backend", "decode", "encode"]


class Backend(Protocol):
    """A pub/sub engine behind the :class:`~trioquart.broadcast.hub.Hub`.

    The backend delivers what it receives to the hub; the hub fans it out. ``run`` is the
    one task per process that owns the backend's connections (a service in the app's
    nursery); a backend that needs none returns from it at once.
    """

    name: str
    hub: Hub

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the connections until cancelled; ``task_status.started()`` once serving."""

    async def publish(self, channel: str, data: str | bytes) -> str | None:
        """Send ``data`` to every subscriber of ``channel``; the message id when replay is
        on. Raises :class:`~trioquart.broadcast.BroadcastUnavailable` if it cannot."""

    async def wait_live(self, subscriber: Subscriber) -> None:
        """Return once messages published on the subscriber's channel reach the hub (it was
        just added to the hub), or when that cannot happen soon: then the subscriber owes a
        gap, which the backend settles once the channel is live."""

    async def history(self, channel: str, since: str) -> tuple[list[Message], Gap | None]:
        """The kept messages after ``since``, oldest first, and a Gap if some after it are
        no longer kept."""

    @property
    def connected(self) -> bool: ...

    @property
    def healthy(self) -> bool:
        """False once an outage has lasted longer than its limit."""

    @property
    def down_for(self) -> float | None: ...


def encode(data: str | bytes, message_id: str = "") -> bytes:
    """``data`` with its type and id in front: ``s`` or ``b``, the id, a newline, the data."""
    if isinstance(data, str):
        return b"s" + message_id.encode() + b"\n" + data.encode()
    return b"b" + message_id.encode() + b"\n" + data


def decode(channel: str, payload: bytes) -> Message:
    head, _, body = payload.partition(b"\n")
    kind, message_id = head[:1], head[1:].decode()
    data: str | bytes = body.decode() if kind == b"s" else body
    return Message(channel, data, message_id or None)
