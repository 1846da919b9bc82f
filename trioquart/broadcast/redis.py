"""The Redis (or Valkey) backend, on coredis, which runs on anyio and so on trio.

One task per process (:meth:`RedisBackend.run`, a service in the app's nursery) owns two
clients: one for publishing, shared by every publish (coredis pipelines concurrent commands
on one connection), and one for the subscribing connection, which the loop here rebuilds
whenever it is lost. coredis's own pub/sub reconnect is switched off: measured, after a
Redis restart it sometimes resubscribes on the server and then delivers nothing, without
an error. Instead, this module:

- reconnects with capped, jittered exponential back-off, reset once connected;
- resubscribes every channel the hub holds, and gives every subscriber a
  :class:`~trioquart.broadcast.Gap` once its channel is live again (messages published in
  between are lost: pub/sub keeps nothing);
- probes: every ``probe_interval`` seconds it publishes a token on a channel only this
  process subscribes to, and treats the subscription as lost if the token does not come
  back within another interval (the deaf subscriber);
- bounds what coredis buffers: its PubSub queues what it reads without limit, so the reader
  here drains it without waiting on anything else, and if it still falls
  :data:`BACKLOG_LIMIT` messages behind, the connection is dropped and rebuilt (with gaps)
  rather than letting the queue grow;
- logs an outage once when it starts, loudly (an error) once it has lasted
  ``outage_limit`` seconds, and once when it ends.

On Redis, channel ``name`` is the pub/sub channel ``<prefix>c:<name>``; with replay on, its
history is the Stream ``<prefix>h:<name>``, capped at about ``replay`` entries, and a Lua
script appends to the Stream and publishes in one step, so live messages and history agree
on order and ids.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import trio

from ..errors import strip_cancelled
from .backend import decode, encode
from .events import BroadcastUnavailable, Gap, Message
from .hub import Hub, Subscriber

__all__ = ["BACKLOG_LIMIT", "RedisBackend"]

logger = logging.getLogger("trioquart.broadcast")

#: Messages coredis may hold for the reader before the connection is rebuilt.
BACKLOG_LIMIT = 10_000
#: Seconds before the first reconnect attempt; doubled on each failure up to the maximum.
FIRST_DELAY = 0.05

PUBLISH_WITH_HISTORY = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', ARGV[4], 'd', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. id .. '\\n' .. ARGV[2])
return id
"""


class SubscriptionLostError(Exception):
    """The subscribing connection stopped delivering (ended, deaf, or too far behind)."""


def redacted(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def import_coredis() -> Any:
    try:
        import coredis
    except ImportError:
        raise RuntimeError(
            'BROADCAST_URL names Redis, which needs coredis: pip install "trioquart[redis]"'
        ) from None
    return coredis


def describe(error: BaseException) -> str:
    """One line for an error that may be an exception group."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(member) for member in error.exceptions)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def coredis_backlog(pubsub: Any) -> Callable[[], int]:
    """A function counting the messages coredis holds for ``pubsub``'s reader: its
    connection's push queue and the PubSub's own queue, both unbounded (coredis 6.9
    internals, checked by the tests, so an upgrade that renames them fails loudly)."""
    queues = (pubsub.connection._push_message_buffer_in, pubsub._send_stream)

    def backlog() -> int:
        return sum(queue.statistics().current_buffer_used for queue in queues)

    return backlog


class RedisBackend:
    """Pub/sub across processes and hosts through one Redis server."""

    name = "redis"

    def __init__(
        self,
        hub: Hub,
        url: str,
        *,
        prefix: str = "trioquart:",
        replay: int = 0,
        probe_interval: float = 5.0,
        outage_limit: float = 30.0,
        reconnect_max_delay: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        coredis = import_coredis()
        from coredis.retry import NoRetryPolicy

        self.hub = hub
        self.url = url
        self.replay = replay
        self.probe_interval = probe_interval
        self.outage_limit = outage_limit
        self.reconnect_max_delay = reconnect_max_delay
        self.connect_timeout = connect_timeout
        self._errors: tuple[type[BaseException], ...] = (
            coredis.exceptions.ConnectionError,
            TimeoutError,
            OSError,
        )
        self._no_retry = NoRetryPolicy()
        # A reply that takes longer than this means Redis is stuck: the publish fails.
        self._client = coredis.Redis.from_url(
            url,
            retry_policy=self._no_retry,
            connect_timeout=connect_timeout,
            stream_timeout=connect_timeout,
        )
        # No read timeout here: a quiet subscription is normal (the probe watches it).
        self._subscriber_client = coredis.Redis.from_url(
            url, retry_policy=self._no_retry, connect_timeout=connect_timeout
        )
        self._channel_prefix = f"{prefix}c:"
        self._history_prefix = f"{prefix}h:"
        self._probe_channel = f"{prefix}p:{uuid.uuid4().hex}"
        self._probe_expected = ""
        self._probe_back = trio.Event()
        self._probe_count = 0
        #: Channels subscribed on the current connection.
        self._live: set[str] = set()
        self._live_waiters: dict[str, trio.Event] = {}
        self._down_since: float | None = trio.current_time()
        self._ever_connected = False
        self._first_attempt = trio.Event()
        # What has been logged about the current outage (each is said once).
        self._start_failure_logged = False
        self._outage_limit_logged = False

    # ---- state --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._down_since is None

    @property
    def down_for(self) -> float | None:
        if self._down_since is None:
            return None
        return trio.current_time() - self._down_since

    @property
    def healthy(self) -> bool:
        """False once the current outage has lasted ``outage_limit`` seconds."""
        return not self._check_outage()

    def _came_up(self) -> None:
        if self._ever_connected:
            logger.warning(
                "Broadcast: reconnected to Redis at %s after %.1f s; live subscriptions get"
                " a gap marker",
                redacted(self.url),
                self.down_for or 0.0,
            )
        else:
            logger.info("Broadcast: connected to Redis at %s", redacted(self.url))
        self._ever_connected = True
        self._first_attempt.set()
        self._down_since = None
        self._outage_limit_logged = False

    def _went_down(self, reason: str) -> None:
        self._first_attempt.set()
        self._live = set()
        for subscriber in self.hub.subscribers():
            subscriber.owes_gap = True
        for waiter in self._live_waiters.values():
            waiter.set()
        self._live_waiters.clear()
        if self._down_since is None:
            self._down_since = trio.current_time()
            logger.warning(
                "Broadcast: lost the connection to Redis at %s (%s); reconnecting."
                " Messages published meanwhile do not reach this process.",
                redacted(self.url),
                reason,
            )
        elif not self._ever_connected and not self._start_failure_logged:
            self._start_failure_logged = True
            logger.warning(
                "Broadcast: cannot connect to Redis at %s (%s); retrying",
                redacted(self.url),
                reason,
            )

    async def _watch_outages(self) -> None:
        """Say loudly, once per outage, when it passes ``outage_limit``."""
        while True:
            await trio.sleep(min(1.0, self.outage_limit / 4))
            self._check_outage()

    def _check_outage(self) -> bool:
        """Whether the current outage has passed the limit; logs it the first time."""
        down_for = self.down_for
        if down_for is None or down_for < self.outage_limit:
            return False
        if not self._outage_limit_logged:
            self._outage_limit_logged = True
            logger.error(
                "Broadcast: Redis at %s has been unreachable for %.0f s"
                " (BROADCAST_OUTAGE_LIMIT); publishing fails and subscribers receive nothing"
                " until it is back. broadcast.health() reports unhealthy.",
                redacted(self.url),
                down_for,
            )
        return True

    # ---- the connection loop ------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, and keep connected until cancelled. Reports started once the first
        attempt has succeeded or failed (at most ``connect_timeout`` seconds), so an app
        whose Redis is up starts with its subscriptions live."""
        async with self._client, self._subscriber_client, trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_connected)
            nursery.start_soon(self._watch_outages)
            with trio.move_on_after(self.connect_timeout):
                await self._first_attempt.wait()
            task_status.started()

    async def _keep_connected(self) -> None:
        delay = FIRST_DELAY
        while True:
            try:
                await self._serve_connection()
                reason = "the subscription ended"
            except BaseException as raised:
                # Being shut down: end with the cancellation, not with whatever coredis's
                # teardown raised alongside it.
                await trio.lowlevel.checkpoint_if_cancelled()
                error = strip_cancelled(raised)
                if error is None:
                    error = SubscriptionLostError("the subscription was cancelled")
                if not isinstance(error, Exception):
                    raise
                if not self._is_connection_error(error):
                    logger.error("Broadcast: unexpected error in the Redis loop", exc_info=error)
                reason = describe(error)
            if self.connected:
                delay = FIRST_DELAY  # it was connected: start the back-off afresh
            self._went_down(reason)
            await trio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.reconnect_max_delay)

    def _is_connection_error(self, error: BaseException) -> bool:
        if isinstance(error, BaseExceptionGroup):
            return all(self._is_connection_error(member) for member in error.exceptions)
        return isinstance(error, (SubscriptionLostError, *self._errors))

    async def _serve_connection(self) -> None:
        pubsub = self._subscriber_client.pubsub(
            retry_policy=self._no_retry,
            ignore_subscribe_messages=True,
            channels=[self._probe_channel],
        )
        async with pubsub:
            self._came_up()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reconcile, pubsub)
                nursery.start_soon(self._probe)
                await self._read(pubsub)

    async def _read(self, pubsub: Any) -> None:
        """Hand every message to the hub (which never waits) and watch coredis's backlog."""
        backlog = coredis_backlog(pubsub)
        probe = self._probe_channel.encode()
        prefix = self._channel_prefix.encode()
        deliver = self.hub.deliver
        async for message in pubsub:
            if message["type"] != "message":
                continue
            channel: bytes = message["channel"]
            if channel.startswith(prefix):
                deliver(decode(channel[len(prefix) :].decode(), message["data"]))
            elif channel == probe and message["data"].decode() == self._probe_expected:
                self._probe_back.set()
            if backlog() > BACKLOG_LIMIT:
                raise SubscriptionLostError(
                    f"fell {BACKLOG_LIMIT} messages behind Redis; dropping the connection"
                )
        raise SubscriptionLostError("the subscription ended")

    async def _reconcile(self, pubsub: Any) -> None:
        """Keep the connection's subscriptions equal to the hub's channels."""
        while True:
            changed = self.hub.changed
            wanted = set(self.hub.channels)
            gone = self._live - wanted
            new = wanted - self._live
            if gone:
                self._live -= gone  # before awaiting: a subscriber arriving now must wait
                await pubsub.unsubscribe(*(self._channel_prefix + name for name in gone))
            if new:
                await pubsub.subscribe(*(self._channel_prefix + name for name in new))
                self._live |= new
                for name in new:
                    waiter = self._live_waiters.pop(name, None)
                    if waiter is not None:
                        waiter.set()
                    for subscriber in self.hub.subscribers(name):
                        subscriber.settle_gap()
            if not gone and not new:
                await changed.wait()

    async def _probe(self) -> None:
        """Publish a token to ourselves every interval and expect it back (the module
        docstring says why)."""
        while True:
            await trio.sleep(self.probe_interval)
            self._probe_count += 1
            self._probe_expected = str(self._probe_count)
            self._probe_back = trio.Event()
            receivers = await self._client.publish(self._probe_channel, self._probe_expected)
            if receivers == 0:
                raise SubscriptionLostError("Redis holds no subscription for this process")
            with trio.move_on_after(self.probe_interval):
                await self._probe_back.wait()
            if not self._probe_back.is_set():
                raise SubscriptionLostError(
                    f"the probe did not come back within {self.probe_interval} s"
                    " (a deaf subscription)"
                )

    # ---- what subscribers and publishers call -------------------------------------------

    async def wait_live(self, subscriber: Subscriber) -> None:
        channel = subscriber.channel
        if channel not in self._live and self.connected:
            waiter = self._live_waiters.setdefault(channel, trio.Event())
            with trio.move_on_after(self.connect_timeout):
                await waiter.wait()
        else:
            await trio.lowlevel.checkpoint()
        if channel not in self._live:
            subscriber.owes_gap = True

    async def publish(self, channel: str, data: str | bytes) -> str | None:
        try:
            if not self.replay:
                await self._client.publish(self._channel_prefix + channel, encode(data))
                return None
            kind = "s" if isinstance(data, str) else "b"
            body = data.encode() if isinstance(data, str) else data
            message_id = await self._client.eval(
                PUBLISH_WITH_HISTORY,
                keys=[self._history_prefix + channel],
                args=[self.replay, body, self._channel_prefix + channel, kind],
            )
        except self._errors as error:
            raise BroadcastUnavailable(
                f"Cannot publish to {channel!r}: Redis is unreachable ({describe(error)})"
            ) from error
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    async def history(self, channel: str, since: str) -> tuple[list[Message], Gap | None]:
        try:
            entries = await self._client.xrange(
                self._history_prefix + channel, since, "+", count=self.replay + 1
            )
        except self._errors as error:
            raise BroadcastUnavailable(
                f"Cannot read the history of {channel!r}: Redis is unreachable"
            ) from error
        messages = []
        for entry in entries:
            fields = entry.field_values
            data: str | bytes = fields[b"d"]
            if fields.get(b"k") == b"s":
                data = fields[b"d"].decode()
            messages.append(Message(channel, data, entry.identifier.decode()))
        if messages and messages[0].id == since:
            return messages[1:], None
        # ``since`` itself is no longer kept, so entries after it may be gone too.
        return messages, (Gap(channel, "trimmed") if messages else None)
