"""``Blueprint``: flask.sansio's blueprint, plus websocket routes and hooks and the app's
serving hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask.sansio.app import App
from flask.sansio.blueprints import Blueprint as SansIOBlueprint
from flask.sansio.blueprints import BlueprintSetupState
from flask.sansio.scaffold import setupmethod

from .scaffold import HookMap, WebsocketScaffoldMixin

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(WebsocketScaffoldMixin, SansIOBlueprint):
    """A group of routes, websockets, hooks and error handlers registered on an app (or on
    another blueprint) with ``register_blueprint``, as in Flask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Commands registered here join the app's command group on registration.
        self.cli = click.Group(self.name)
        self._init_websocket_hooks()

    def _merge_blueprint_funcs(self, app: App, name: str) -> None:
        super()._merge_blueprint_funcs(app, name)
        target: Any = app
        # All three, teardown included: Quart forgets to merge teardown_websocket.
        for attribute in (
            "before_websocket_funcs",
            "after_websocket_funcs",
            "teardown_websocket_funcs",
        ):
            ours: HookMap = getattr(self, attribute)
            theirs: HookMap = getattr(target, attribute)
            for key, funcs in ours.items():
                theirs[name if key is None else f"{name}.{key}"].extend(funcs)

    @setupmethod
    def before_app_websocket(self, func: F) -> F:
        """Register ``func`` as a ``before_websocket`` function of the whole app."""
        self.record_once(lambda state: _app(state).before_websocket_funcs[None].append(func))
        return func

    @setupmethod
    def after_app_websocket(self, func: F) -> F:
        """Register ``func`` as an ``after_websocket`` function of the whole app."""
        self.record_once(lambda state: _app(state).after_websocket_funcs[None].append(func))
        return func

    @setupmethod
    def teardown_app_websocket(self, func: F) -> F:
        """Register ``func`` as a ``teardown_websocket`` function of the whole app."""
        self.record_once(lambda state: _app(state).teardown_websocket_funcs[None].append(func))
        return func

    @setupmethod
    def before_app_serving(self, func: F) -> F:
        """Register ``func`` as a ``before_serving`` function of the app."""
        self.record_once(lambda state: _app(state).before_serving(func))
        return func

    @setupmethod
    def after_app_serving(self, func: F) -> F:
        """Register ``func`` as an ``after_serving`` function of the app."""
        self.record_once(lambda state: _app(state).after_serving(func))
        return func

    @setupmethod
    def while_app_serving(self, func: F) -> F:
        """Register ``func`` as a ``while_serving`` generator of the app."""
        self.record_once(lambda state: _app(state).while_serving(func))
        return func


def _app(state: BlueprintSetupState) -> Any:
    return state.app
