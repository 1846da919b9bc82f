"""Publish/subscribe channels for an app: a chat room, live notifications, a dashboard.

In one process the in-memory backend needs no set-up. With ``BROADCAST_URL`` naming a Redis
(or Valkey) server, a message published in one worker process reaches subscribers in every
process and host sharing that server (``pip install "trioquart[redis]"``).

Delivery is at most once, and losses are visible: wherever messages may be missing (the
backend connection was lost, a subscriber fell behind), the subscription yields a
:class:`Gap`. Memory is bounded: each subscriber has a buffer of
``BROADCAST_BUFFER_SIZE`` messages, and one that falls that far behind is ended
(:class:`SubscriberTooSlow`, which closes its websocket with 1013) or, with
``BROADCAST_OVERFLOW = "drop_oldest"``, loses its oldest messages behind a gap.
"""

from .broadcaster import DEFAULTS, Broadcast, Subscription
from .events import (
    BroadcastError,
    BroadcastHealth,
    BroadcastUnavailable,
    Gap,
    Message,
    SubscriberTooSlow,
)

__all__ = [
    "DEFAULTS",
    "Broadcast",
    "BroadcastError",
    "BroadcastHealth",
    "BroadcastUnavailable",
    "Gap",
    "Message",
    "SubscriberTooSlow",
    "Subscription",
]
