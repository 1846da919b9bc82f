"""What an app's requests may skip, decided once when its first request arrives.

Flask's ``setupmethod`` refuses to register hooks, blueprints or URL value preprocessors
once the app has handled a request, so what is registered when the first request arrives
stays registered. From then on a request need not look for ``before_request`` functions
it cannot have, nor go through ``full_dispatch_request``, ``preprocess_request`` and
``dispatch_request`` one coroutine each to reach its view, nor through ``process_response``
when nothing would process the response: :class:`Plan` says, once, whether the app's
dispatch is its own (neither overridden by a subclass nor replaced on the instance) with no
hooks around the view or the response, and whether ``make_response`` and
``create_url_adapter`` are its own (see :mod:`trioquart.direct` and :mod:`trioquart.ctx`).

Replacing one of these methods on the app (``app.make_response = ...``, as Quart-Schema
does) drops the plan, which is made again at the next request (see
``TrioQuart.__setattr__``). Signal receivers may be connected at any time, so they are
still looked at on every request.

Measured with callgrind (in-process, 300 requests, when plans were introduced): ``GET /``
220.5 k -> 212.8 k instructions per request, ``GET /items/7?q=x`` 279.1 k -> 268.3 k,
websocket echo 163.8 k -> 163.0 k per round trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .overrides import uses_own

if TYPE_CHECKING:
    from .app import TrioQuart

#: The methods a plan may skip or call directly; assigning one on the app drops its plan.
PLANNED = frozenset(
    {
        "full_dispatch_request",
        "preprocess_request",
        "dispatch_request",
        "process_response",
        "full_dispatch_websocket",
        "preprocess_websocket",
        "dispatch_websocket",
        "make_response",
        "create_url_adapter",
    }
)


class Plan:
    """What the first request found about the app (see the module docstring)."""

    __slots__ = (
        "plain_request",
        "plain_response",
        "plain_websocket",
        "own_make_response",
        "own_url_adapter",
    )

    def __init__(self, app: TrioQuart) -> None:
        url_values = any(app.url_value_preprocessors.values())
        #: The view is all that runs before ``finalize_request``: the dispatch methods are
        #: the app's own, and there are no URL value preprocessors or ``before_request``
        #: functions.
        self.plain_request = not (url_values or any(app.before_request_funcs.values())) and all(
            uses_own(app, name)
            for name in ("full_dispatch_request", "preprocess_request", "dispatch_request")
        )
        #: ``process_response`` is the app's own and there are no ``after_request``
        #: functions: with no ``after_this_request`` function and a null session, a
        #: request has nothing to process.
        self.plain_response = not any(app.after_request_funcs.values()) and uses_own(
            app, "process_response"
        )
        #: The same for websockets and ``before_websocket``.
        self.plain_websocket = not (url_values or any(app.before_websocket_funcs.values())) and all(
            uses_own(app, name)
            for name in ("full_dispatch_websocket", "preprocess_websocket", "dispatch_websocket")
        )
        self.own_make_response = uses_own(app, "make_response")
        self.own_url_adapter = uses_own(app, "create_url_adapter")
