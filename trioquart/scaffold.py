"""Websocket registration shared by the app and blueprints.

flask.sansio's ``Scaffold`` knows HTTP routes and request hooks; this mixin adds their
websocket analogues beside them: ``websocket`` routes and the ``before_websocket``,
``after_websocket`` and ``teardown_websocket`` hooks, kept per blueprint name like Flask's
request hooks (None is the app's own list).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import trio
from flask.sansio.scaffold import setupmethod

if TYPE_CHECKING:
    from flask.sansio.scaffold import Scaffold

    from .wrappers.response import Response

    _Base = Scaffold
else:
    _Base = object

F = TypeVar("F", bound=Callable[..., Any])

HookMap = dict[str | None, list[Callable[..., Any]]]


class WebsocketScaffoldMixin(_Base):
    """Websocket routes and hooks, static files and resources for ``TrioQuart`` and
    ``Blueprint``."""

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

    # ---- static files and resources (shared by the app and blueprints) -------------------

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """The ``max_age`` for static files: ``SEND_FILE_MAX_AGE_DEFAULT`` (None by default,
        so browsers revalidate with a conditional request)."""
        from .globals import current_app

        value = current_app.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return value

    async def send_static_file(self, filename: str) -> Response:
        """The view behind the ``static`` route: ``filename`` from ``static_folder``."""
        if not self.has_static_folder:
            raise RuntimeError("This object has no static_folder to send files from.")
        from .files import send_from_directory

        assert self.static_folder is not None
        max_age = self.get_send_file_max_age(filename)
        return await send_from_directory(self.static_folder, filename, max_age=max_age)

    async def open_resource(self, resource: str, mode: str = "rb") -> Any:
        """Open ``resource`` (relative to ``root_path``) for reading, with trio's file I/O."""
        if mode not in {"r", "rt", "rb"}:
            raise ValueError("Resources can only be opened for reading.")
        return await trio.open_file(os.path.join(self.root_path, resource), mode)
