"""The in-memory backend: one process, no set-up, what an app gets by default."""

from __future__ import annotations

from collections import deque

import trio

from .events import Gap, Message, stream_position
from .hub import Hub, Subscriber

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Publishing hands the message straight to the hub. With replay on, each channel keeps
    its last ``replay`` messages, numbered per channel like Redis Stream ids (``"<n>-0"``),
    so an app behaves the same on both backends."""

    name = "memory"
    connected = True
    healthy = True
    down_for = None

    def __init__(self, hub: Hub, replay: int = 0) -> None:
        self.hub = hub
        self.replay = replay
        self._kept: dict[str, deque[Message]] = {}
        self._counts: dict[str, int] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()

    async def publish(self, channel: str, data: str | bytes) -> str | None:
        await trio.lowlevel.checkpoint()
        message_id = None
        if self.replay:
            count = self._counts[channel] = self._counts.get(channel, 0) + 1
            message_id = f"{count}-0"
        message = Message(channel, data, message_id)
        if self.replay:
            kept = self._kept.get(channel)
            if kept is None:
                kept = self._kept[channel] = deque(maxlen=self.replay)
            kept.append(message)
        self.hub.deliver(message)
        return message_id

    async def wait_live(self, subscriber: Subscriber) -> None:
        await trio.lowlevel.checkpoint()

    async def history(self, channel: str, since: str) -> tuple[list[Message], Gap | None]:
        await trio.lowlevel.checkpoint()
        after = stream_position(since)
        kept = list(self._kept.get(channel, ()))
        if kept and stream_position(kept[0].id or "0") > after:
            # The message right after ``since`` is the oldest kept one only if nothing
            # between them was forgotten; ids here count up by one per message.
            missed = stream_position(kept[0].id or "0")[0] - after[0] - 1
            gap = Gap(channel, "trimmed", missed) if missed > 0 else None
            return kept, gap
        return [m for m in kept if stream_position(m.id or "0") > after], None
