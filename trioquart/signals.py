"""Blinker signals, named as in Quart and Flask.

Senders call :func:`send` which returns at once when nobody listens, so an app without
receivers pays almost nothing for them on the per-request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blinker import NamedSignal, Namespace

if TYPE_CHECKING:
    from .app import TrioQuart

_signals = Namespace()

appcontext_pushed = _signals.signal("appcontext-pushed")
appcontext_popped = _signals.signal("appcontext-popped")
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
request_started = _signals.signal("request-started")
request_finished = _signals.signal("request-finished")
request_tearing_down = _signals.signal("request-tearing-down")
got_request_exception = _signals.signal("got-request-exception")
websocket_started = _signals.signal("websocket-started")
websocket_finished = _signals.signal("websocket-finished")
websocket_tearing_down = _signals.signal("websocket-tearing-down")
got_websocket_exception = _signals.signal("got-websocket-exception")
got_background_exception = _signals.signal("got-background-exception")
got_serving_exception = _signals.signal("got-serving-exception")
template_rendered = _signals.signal("template-rendered")
before_render_template = _signals.signal("before-render-template")
message_flashed = _signals.signal("message-flashed")

signals_available = True


async def send(signal: NamedSignal, app: TrioQuart, **kwargs: Any) -> None:
    """Send ``signal`` from ``app``; sync receivers run through ``app.ensure_async``."""
    if signal.receivers:
        await signal.send_async(app, _sync_wrapper=app.ensure_async, **kwargs)  # type: ignore[arg-type]
