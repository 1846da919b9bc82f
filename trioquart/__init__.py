"""trioquart: a trio-native ASGI web framework with the Flask and Quart API."""

from __future__ import annotations

from .app import TrioQuart
from .blueprints import Blueprint
from .config import Config
from .ctx import (
    AppContext,
    RequestContext,
    WebsocketContext,
    after_this_request,
    copy_current_app_context,
    copy_current_request_context,
    copy_current_websocket_context,
    has_app_context,
    has_request_context,
    has_websocket_context,
)
from .globals import current_app, g, request, session, websocket
from .helpers import abort, jsonify, make_response, redirect, url_for
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    got_background_exception,
    got_request_exception,
    got_serving_exception,
    got_websocket_exception,
    request_finished,
    request_started,
    request_tearing_down,
    signals_available,
    websocket_finished,
    websocket_started,
    websocket_tearing_down,
)
from .wrappers import ClientDisconnectedError, Request, Response
from .wrappers.websocket import Websocket, WebsocketDisconnectedError, WebsocketState

__version__ = "0.1.0.dev0"

__all__ = [
    "AppContext",
    "Blueprint",
    "ClientDisconnectedError",
    "Config",
    "Request",
    "RequestContext",
    "Response",
    "TrioQuart",
    "Websocket",
    "WebsocketContext",
    "WebsocketDisconnectedError",
    "WebsocketState",
    "abort",
    "after_this_request",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "copy_current_app_context",
    "copy_current_request_context",
    "copy_current_websocket_context",
    "current_app",
    "g",
    "got_background_exception",
    "got_request_exception",
    "got_serving_exception",
    "got_websocket_exception",
    "has_app_context",
    "has_request_context",
    "has_websocket_context",
    "jsonify",
    "make_response",
    "redirect",
    "request",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "session",
    "signals_available",
    "url_for",
    "websocket",
    "websocket_finished",
    "websocket_started",
    "websocket_tearing_down",
]
