"""The local fan-out: which subscribers this process has, and a bounded mailbox for each.

A backend hands every message it receives to :meth:`Hub.deliver`, which offers it to each
subscriber of that channel without waiting: a subscriber whose mailbox is full is dealt with
by its overflow policy (ended, or its oldest message dropped) and never holds up the others
or the backend's reader. Memory is therefore bounded by ``buffer_size`` messages per
subscriber, whatever the publishers and the clients do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

import trio

from .events import Gap, Message

__all__ = ["Event", "Hub", "Overflow", "Subscriber"]

logger = logging.getLogger("trioquart.broadcast")

Event = Message | Gap
Overflow = Literal["close", "drop_oldest"]


class Subscriber:
    """One ``subscribe()`` call's mailbox and state.

    ``owes_gap`` is set while the subscriber may be missing messages that the backend could
    not deliver (its channel was not subscribed on the backend, or the connection dropped):
    the backend settles it with one :class:`Gap` once the channel is live again.
    """

    __slots__ = (
        "channel",
        "buffer_size",
        "overflow",
        "cancel_scope",
        "too_slow",
        "owes_gap",
        "missed",
        "missed_unknown",
        "_inbox_in",
        "inbox",
    )

    def __init__(self, channel: str, buffer_size: int, overflow: Overflow) -> None:
        self.channel = channel
        self.buffer_size = buffer_size
        self.overflow = overflow
        #: Cancelled to end a subscriber that fell behind (the subscription block's scope).
        self.cancel_scope = trio.CancelScope()
        self.too_slow = False
        self.owes_gap = False
        #: Messages dropped from the front of the mailbox, not yet reported with a Gap.
        self.missed = 0
        self.missed_unknown = False
        self._inbox_in, self.inbox = trio.open_memory_channel[Event](buffer_size)

    def offer(self, event: Event) -> bool:
        """Put ``event`` in the mailbox without waiting; False if the subscriber was ended."""
        if self.too_slow:
            return False
        try:
            self._inbox_in.send_nowait(event)
            return True
        except trio.WouldBlock:
            pass
        if self.overflow == "close":
            self.too_slow = True
            self.cancel_scope.cancel()
            logger.warning(
                "A subscriber to %r fell %d messages behind and was ended (it gets"
                " SubscriberTooSlow; a websocket closes with 1013)",
                self.channel,
                self.buffer_size,
            )
            return False
        dropped = self.inbox.receive_nowait()
        if isinstance(dropped, Message):
            self.missed += 1
        elif dropped.missed is None:
            self.missed_unknown = True
        else:
            self.missed += dropped.missed
        self._inbox_in.send_nowait(event)
        return True

    def take_missed(self) -> Gap | None:
        """The Gap for messages dropped from the front of the mailbox, if any: it belongs
        before whatever the mailbox holds now."""
        if not (self.missed or self.missed_unknown):
            return None
        gap = Gap(self.channel, "dropped", None if self.missed_unknown else self.missed)
        self.missed, self.missed_unknown = 0, False
        return gap

    def settle_gap(self) -> None:
        """Deliver the owed Gap, if any (the channel is live again)."""
        if self.owes_gap:
            self.owes_gap = False
            self.offer(Gap(self.channel, "reconnected"))

    def close(self) -> None:
        self._inbox_in.close()


class Hub:
    """The subscribers of one process, by channel."""

    def __init__(self) -> None:
        self.topics: dict[str, set[Subscriber]] = {}
        #: Set (and replaced) whenever the set of channels changes, for the backend's
        #: reconciling task.
        self.changed = trio.Event()

    @property
    def channels(self) -> Iterable[str]:
        return self.topics.keys()

    @property
    def subscriber_count(self) -> int:
        return sum(len(members) for members in self.topics.values())

    def add(self, subscriber: Subscriber) -> None:
        members = self.topics.get(subscriber.channel)
        if members is None:
            members = self.topics[subscriber.channel] = set()
            self._notify()
        members.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        members = self.topics.get(subscriber.channel)
        if members is None or subscriber not in members:
            return
        members.discard(subscriber)
        subscriber.close()
        if not members:
            del self.topics[subscriber.channel]
            self._notify()

    def deliver(self, event: Event) -> None:
        """Offer ``event`` to every subscriber of its channel; never waits."""
        members = self.topics.get(event.channel)
        if not members:
            return
        ended = [member for member in members if not member.offer(event)]
        for member in ended:
            self.remove(member)

    def subscribers(self, channel: str | None = None) -> list[Subscriber]:
        if channel is not None:
            return list(self.topics.get(channel, ()))
        return [member for members in self.topics.values() for member in members]

    def _notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()
