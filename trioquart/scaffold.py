"""Websocket registration shared by the app and blueprints.

flask.sansio's ``Scaffold`` knows HTTP routes and request hooks; this mixin adds their
websocket analogues beside them: ``websocket`` routes and the ``before_websocket``,
``after_websocket`` and ``teardown_websocket`` hooks, kept per blueprint name like Flask's
request hooks (None is the app's own list).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask.sansio.scaffold import setupmethod

if TYPE_CHECKING:
    from flask.sansio.scaffold import Scaffold

    _Base = Scaffold
else:
    _Base = object

F = TypeVar("F", bound=Callable[..., Any])

HookMap = dict[str | None, list[Callable[..., Any]]]


class WebsocketScaffoldMixin(_Base):
    """Websocket routes and hooks for ``TrioQuart`` and ``Blueprint``."""

    before_websocket_funcs: HookMap
    after_websocket_funcs: HookMap
    teardown_websocket_funcs: HookMap

    def _init_websocket_hooks(self) -> None:
        self.before_websocket_funcs = defaultdict(list)
        self.after_websocket_funcs = defaultdict(list)
        self.teardown_websocket_funcs = defaultdict(list)

    @setupmethod
    def websocket(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Route websocket connections to ``rule`` to the decorated handler.

        One path may have both an HTTP route and a websocket route.
        """

        def decorator(func: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_websocket(rule, endpoint, func, **options)
            return func

        return decorator

    @setupmethod
    def add_websocket(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        """Register a websocket route, as ``add_url_rule`` does an HTTP one."""
        self.add_url_rule(
            rule,
            endpoint,
            view_func,
            methods={"GET"},
            websocket=True,
            provide_automatic_options=False,
            **options,
        )

    @setupmethod
    def before_websocket(self, func: F) -> F:
        """Run ``func`` before each websocket handler; a response it returns (or an
        ``abort``) answers the handshake instead of the handler."""
        self.before_websocket_funcs[None].append(func)
        return func

    @setupmethod
    def after_websocket(self, func: F) -> F:
        """Run ``func(response)`` after each websocket handler; ``response`` is the denial
        response, or None when the handler accepted and returned."""
        self.after_websocket_funcs[None].append(func)
        return func

    @setupmethod
    def teardown_websocket(self, func: F) -> F:
        """Run ``func(exc)`` when each websocket ends, even after a client disconnect."""
        self.teardown_websocket_funcs[None].append(func)
        return func
