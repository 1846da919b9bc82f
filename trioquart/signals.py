"""Blinker signals, named as in Quart and Flask.

Connect a receiver with ``request_started.connect(receiver)`` (or ``connect_via(app)``
to hear one app only). Receivers are called with the sender as the only positional argument
and the signal's data as keyword arguments, so write them as ``def receiver(sender,
**extra)``. A receiver may be ``async def``; a plain function runs in a worker thread (through
``app.ensure_async``), with the sending task's context, so ``request``, ``session`` and
``current_app`` still work in it.

Senders call :func:`send` which returns at once when nobody listens, so an app without
receivers pays almost nothing for them on the per-request path. The per-message websocket
signals are guarded at the call site too (``if websocket_received.receivers:``), so that not
even a coroutine is created for a message when nobody listens.

What each signal is sent with (the sender is the app unless said otherwise):

``appcontext_pushed``, ``appcontext_popped``
    After an application context is pushed / after it is popped.
``appcontext_tearing_down`` (``exc``)
    After the ``teardown_appcontext`` functions ran.
``request_started``
    Before the ``before_request`` functions.
``request_finished`` (``response``)
    After the ``after_request`` functions and the session save: the final response.
``request_tearing_down`` (``exc``)
    After the ``teardown_request`` functions ran.
``got_request_exception`` (``exception``)
    An error no handler took, before it becomes a 500.
``websocket_started``, ``websocket_finished`` (``response``), ``websocket_tearing_down``
(``exc``), ``got_websocket_exception`` (``exception``)
    The same moments for a websocket; ``response`` is None unless the handler returned one.
``websocket_received``, ``websocket_sent``
    For each message, with the message (str or bytes) as the sender, as in Quart. They are
    sent inside the websocket's context: ``websocket`` and ``current_app`` say which one.
``got_background_exception`` (``exception``)
    A background task (``app.add_background_task``) failed.
``got_serving_exception`` (``exception``)
    A ``before_serving``/``after_serving`` function or ``while_serving`` generator failed.
``before_render_template``, ``template_rendered`` (``template``, ``context``)
    Around rendering a template.
``message_flashed`` (``message``, ``category``)
    When ``flash`` is called.
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
websocket_received = _signals.signal("websocket-received")
websocket_sent = _signals.signal("websocket-sent")
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


async def send_message(signal: NamedSignal, app: TrioQuart, data: str | bytes) -> None:
    """Send a per-message websocket signal (``websocket_received``, ``websocket_sent``) with
    the message as the sender, as Quart does.

    Call it only when ``signal.receivers`` is not empty, so that a message costs no more
    than that check when nobody listens.
    """
    await signal.send_async(data, _sync_wrapper=app.ensure_async)  # type: ignore[arg-type]
