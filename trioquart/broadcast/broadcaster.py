"""The app-facing broadcaster: configuration, its place in the lifespan, publish, subscribe."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import trio

from ..globals import current_app
from .backend import Backend
from .events import (
    BroadcastHealth,
    BroadcastUnavailable,
    Gap,
    Message,
    SubscriberTooSlow,
    stream_position,
)
from .hub import Event, Hub, Overflow, Subscriber
from .memory import MemoryBackend

if TYPE_CHECKING:
    from ..app import TrioQuart

__all__ = ["DEFAULTS", "Broadcast", "Subscription"]

#: The configuration keys and their defaults (``init_app`` sets any that are missing).
DEFAULTS: dict[str, Any] = {
    "BROADCAST_URL": None,
    "BROADCAST_BUFFER_SIZE": 64,
    "BROADCAST_OVERFLOW": "close",
    "BROADCAST_MAX_MESSAGE_SIZE": 1024 * 1024,
    "BROADCAST_PREFIX": "trioquart:",
    "BROADCAST_REPLAY": 0,
    "BROADCAST_PROBE_INTERVAL": 5.0,
    "BROADCAST_OUTAGE_LIMIT": 30.0,
    "BROADCAST_RECONNECT_MAX_DELAY": 5.0,
    "BROADCAST_CONNECT_TIMEOUT": 2.0,
}

EXTENSION_KEY = "trioquart.broadcast"
REDIS_SCHEMES = {"redis", "rediss", "unix"}


def make_backend(hub: Hub, config: Any) -> Backend:
    """The backend ``BROADCAST_URL`` names: none (or ``memory://``) for in-memory, a
    ``redis://``, ``rediss://`` or ``unix://`` URL for Redis."""
    url = config["BROADCAST_URL"]
    replay = int(config["BROADCAST_REPLAY"])
    if not url or url == "memory://":
        return MemoryBackend(hub, replay=replay)
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise ValueError(
            f"BROADCAST_URL {url!r}: expected memory:// or a Redis URL"
            " (redis://, rediss://, unix://)"
        )
    from .redis import RedisBackend

    return RedisBackend(
        hub,
        url,
        prefix=config["BROADCAST_PREFIX"],
        replay=replay,
        probe_interval=float(config["BROADCAST_PROBE_INTERVAL"]),
        outage_limit=float(config["BROADCAST_OUTAGE_LIMIT"]),
        reconnect_max_delay=float(config["BROADCAST_RECONNECT_MAX_DELAY"]),
        connect_timeout=float(config["BROADCAST_CONNECT_TIMEOUT"]),
    )


class AppBroadcast:
    """One app's broadcast state (in ``app.extensions``): the hub, and the backend while
    the app serves."""

    def __init__(self, app: TrioQuart) -> None:
        self.app = app
        self.hub = Hub()
        self.backend: Backend | None = None
        self.serving = False

    async def start(self) -> None:
        """``before_serving``: read the configuration and start the backend's task."""
        overflow = self.app.config["BROADCAST_OVERFLOW"]
        if overflow not in ("close", "drop_oldest"):
            raise ValueError(
                f"BROADCAST_OVERFLOW is {overflow!r}: expected 'close' or 'drop_oldest'"
            )
        self.backend = make_backend(self.hub, self.app.config)
        await self.app.nursery.start(self.backend.run)
        self.serving = True

    async def stop(self) -> None:
        """``after_serving``: the backend's task has been cancelled with the app nursery."""
        self.serving = False
        self.backend = None

    def ready_backend(self) -> Backend:
        """The backend to use now. The in-memory one needs no task, so it also works
        outside the lifespan (in-process tests without ``app.test_app()``)."""
        if self.backend is not None:
            return self.backend
        if self.app.config["BROADCAST_URL"] not in (None, "", "memory://"):
            raise RuntimeError(
                "The broadcaster is not running: it starts with the app's lifespan (under a"
                " server, or in `async with app.test_app()` in tests)."
            )
        self.backend = make_backend(self.hub, self.app.config)
        return self.backend


class Subscription:
    """What ``async with broadcast.subscribe(channel)`` yields: an async iterator of
    :class:`Message` and :class:`Gap`, oldest first.

    With ``since``, the kept messages after it come first, then live ones (any live message
    already replayed is skipped, so each arrives once).
    """

    def __init__(self, subscriber: Subscriber, replayed: list[Message], gap: Gap | None) -> None:
        self._subscriber = subscriber
        self._pending: deque[Event] = deque(replayed)
        if gap is not None:
            self._pending.appendleft(gap)
        self._replayed_up_to = stream_position(replayed[-1].id or "0") if replayed else None
        #: The id of the last message this subscription yielded (None until one had an id).
        self.last_id: str | None = None

    @property
    def channel(self) -> str:
        return self._subscriber.channel

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        subscriber = self._subscriber
        while True:
            if self._pending:
                await trio.lowlevel.checkpoint()
                event = self._pending.popleft()
            else:
                event = subscriber.take_missed() or await self._receive()
                if (
                    self._replayed_up_to is not None
                    and isinstance(event, Message)
                    and event.id is not None
                    and stream_position(event.id) <= self._replayed_up_to
                ):
                    continue  # already yielded from the history
            if isinstance(event, Message) and event.id is not None:
                self.last_id = event.id
            return event

    async def _receive(self) -> Event:
        try:
            return await self._subscriber.inbox.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class Broadcast:
    """Publish/subscribe channels for an app, across its worker processes and hosts when
    ``BROADCAST_URL`` names a Redis server (in one process's memory otherwise)::

        broadcast = Broadcast(app)

        @app.websocket("/room/<name>")
        async def room(name):
            async with broadcast.subscribe(name) as messages:
                async for event in messages:
                    ...

    ``Broadcast()`` followed by ``init_app(app)`` works too, Flask-extension style. The
    backend starts with the app's lifespan and runs as one service in ``app.nursery``.
    """

    def __init__(self, app: TrioQuart | None = None) -> None:
        self.app = app
        if app is not None:
            self.init_app(app)

    def init_app(self, app: TrioQuart) -> None:
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        state = AppBroadcast(app)
        app.extensions[EXTENSION_KEY] = state
        app.before_serving(state.start)
        app.after_serving(state.stop)

    def _state(self) -> AppBroadcast:
        app = self.app if self.app is not None else current_app
        try:
            return cast(AppBroadcast, app.extensions[EXTENSION_KEY])
        except KeyError:
            raise RuntimeError("Broadcast.init_app(app) was not called for this app") from None

    async def publish(self, channel: str, data: str | bytes) -> str | None:
        """Send ``data`` to every current subscriber of ``channel``, in every process.

        Returns the message's id when replay is on (None otherwise). Raises
        :class:`BroadcastUnavailable` at once when the backend cannot be reached (nothing
        is queued), and ``ValueError`` for a message over ``BROADCAST_MAX_MESSAGE_SIZE``.
        """
        state = self._state()
        if not isinstance(data, (str, bytes)):
            raise TypeError(f"Broadcast messages are str or bytes, not {type(data).__name__}")
        size = len(data.encode()) if isinstance(data, str) else len(data)
        limit = state.app.config["BROADCAST_MAX_MESSAGE_SIZE"]
        if limit is not None and size > limit:
            raise ValueError(
                f"A {size}-byte message is over BROADCAST_MAX_MESSAGE_SIZE ({limit} bytes)"
            )
        return await state.ready_backend().publish(channel, data)

    @asynccontextmanager
    async def subscribe(
        self,
        channel: str,
        *,
        since: str | None = None,
        buffer_size: int | None = None,
        overflow: Overflow | None = None,
    ) -> AsyncIterator[Subscription]:
        """Receive what is published on ``channel`` while the block runs.

        Messages published after the block starts reach it. Each subscriber has a buffer of
        ``buffer_size`` messages (``BROADCAST_BUFFER_SIZE``); one that falls that far
        behind is, by default, ended: the block is cancelled and :class:`SubscriberTooSlow`
        raised from it. With ``overflow="drop_oldest"`` the oldest buffered messages are
        dropped instead and a :class:`Gap` marks the place. ``since`` (a message id; needs
        ``BROADCAST_REPLAY``) first replays the kept messages after it.
        """
        state = self._state()
        config = state.app.config
        backend = state.ready_backend()
        if since is not None and not config["BROADCAST_REPLAY"]:
            raise ValueError("subscribe(since=...) needs BROADCAST_REPLAY (history kept)")
        subscriber = Subscriber(
            channel,
            buffer_size if buffer_size is not None else config["BROADCAST_BUFFER_SIZE"],
            overflow if overflow is not None else config["BROADCAST_OVERFLOW"],
        )
        with subscriber.cancel_scope:
            state.hub.add(subscriber)
            try:
                await backend.wait_live(subscriber)
                replayed: list[Message] = []
                gap: Gap | None = None
                if since is not None:
                    try:
                        replayed, gap = await backend.history(channel, since)
                    except BroadcastUnavailable:
                        gap = Gap(channel, "unavailable")
                yield Subscription(subscriber, replayed, gap)
            finally:
                state.hub.remove(subscriber)
        if subscriber.too_slow and subscriber.cancel_scope.cancelled_caught:
            raise SubscriberTooSlow(channel, subscriber.buffer_size) from None

    def health(self) -> BroadcastHealth:
        """The state a health check reports (see :class:`BroadcastHealth`)."""
        state = self._state()
        backend = state.backend
        hub = state.hub
        if backend is None:
            in_memory = state.app.config["BROADCAST_URL"] in (None, "", "memory://")
            return BroadcastHealth(
                healthy=in_memory,
                connected=in_memory,
                backend="memory" if in_memory else "redis",
                down_for=None,
                channels=len(hub.topics),
                subscribers=hub.subscriber_count,
            )
        return BroadcastHealth(
            healthy=backend.healthy,
            connected=backend.connected,
            backend=backend.name,
            down_for=backend.down_for,
            channels=len(hub.topics),
            subscribers=hub.subscriber_count,
        )
