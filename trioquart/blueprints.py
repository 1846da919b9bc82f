"""``Blueprint``: flask.sansio's blueprint, plus the serving hooks of the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask.sansio.blueprints import Blueprint as SansIOBlueprint
from flask.sansio.blueprints import BlueprintSetupState
from flask.sansio.scaffold import setupmethod

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(SansIOBlueprint):
    """A group of routes, hooks and error handlers registered on an app (or on another
    blueprint) with ``register_blueprint``, as in Flask."""

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
