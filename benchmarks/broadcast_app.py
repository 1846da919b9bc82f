"""The app ``benchmarks/broadcast.py`` serves: websocket fan-out through ``trioquart.broadcast``.

::

    WS   /ws       subscribes to the channel "bench", sends "ready", then forwards the data
                   of every Message (and "GAP <reason> <missed>" for every Gap)
    WS   /publish  publishes every message it receives to "bench", in the order received;
                   a publish that fails is answered with "ERROR <exception>"
    GET  /health   broadcast.health(), as JSON

The backend comes from the environment (``TRIOQUART_BROADCAST_URL``: unset for the
in-memory backend, ``redis://host:port/0`` for Redis). The subscriber buffer is large
(``BROADCAST_BUFFER_SIZE`` 4096, against a load generator that keeps at most a few hundred
messages in flight per client), so that only a client that really stops reading is ended;
the benchmark counts any 1013 close as a loss. ``TRIOQUART_BROADCAST_BUFFER_SIZE`` overrides
it. Serve it from the repository root::

    TRIOQUART_BROADCAST_URL=redis://127.0.0.1:6379/0 \\
        python -m trioquart.cli run benchmarks.broadcast_app:app --port 5000 --no-access-log
"""

from __future__ import annotations

from typing import Any

import attrs

from trioquart import TrioQuart, websocket
from trioquart.broadcast import Broadcast, BroadcastUnavailable, Gap

CHANNEL = "bench"

app = TrioQuart(__name__)
app.config["BROADCAST_BUFFER_SIZE"] = 4096
app.config.from_prefixed_env("TRIOQUART")
broadcast = Broadcast(app)


@app.websocket("/ws")
async def subscribe() -> None:
    async with broadcast.subscribe(CHANNEL) as subscription:
        await websocket.send("ready")
        async for event in subscription:
            if isinstance(event, Gap):
                await websocket.send(f"GAP {event.reason} {event.missed}")
            else:
                await websocket.send(event.data)


@app.websocket("/publish")
async def publish() -> None:
    async for data in websocket:
        try:
            await broadcast.publish(CHANNEL, data)
        except (BroadcastUnavailable, ValueError) as error:
            await websocket.send(f"ERROR {type(error).__name__}: {error}")


@app.get("/health")
async def health() -> dict[str, Any]:
    return attrs.asdict(broadcast.health())
