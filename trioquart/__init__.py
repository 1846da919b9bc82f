"""trioquart: a trio-native ASGI web framework with the Flask and Quart API."""

from __future__ import annotations

from markupsafe import Markup, escape

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
from .files import safe_join, send_file, send_from_directory
from .flashing import flash, get_flashed_messages
from .globals import current_app, g, request, session, websocket
from .helpers import abort, jsonify, make_push_promise, make_response, redirect, url_for
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    before_render_template,
    got_background_exception,
    got_request_exception,
    got_serving_exception,
    got_websocket_exception,
    message_flashed,
    request_finished,
    request_started,
    request_tearing_down,
    signals_available,
    template_rendered,
    websocket_finished,
    websocket_received,
    websocket_sent,
    websocket_started,
    websocket_tearing_down,
)
from .templating import (
    get_template_attribute,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
    stream_with_context,
)
from .typing import ResponseReturnValue
from .views import MethodView, View
from .wrappers import ClientDisconnectedError, Request, Response
from .wrappers.websocket import (
    CloseWebsocket,
    Websocket,
    WebsocketDisconnectedError,
    WebsocketState,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AppContext",
    "Blueprint",
    "ClientDisconnectedError",
    "CloseWebsocket",
    "Config",
    "Markup",
    "MethodView",
    "Request",
    "RequestContext",
    "Response",
    "ResponseReturnValue",
    "TrioQuart",
    "View",
    "Websocket",
    "WebsocketContext",
    "WebsocketDisconnectedError",
    "WebsocketState",
    "abort",
    "after_this_request",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "copy_current_app_context",
    "copy_current_request_context",
    "copy_current_websocket_context",
    "current_app",
    "escape",
    "flash",
    "g",
    "get_flashed_messages",
    "get_template_attribute",
    "got_background_exception",
    "got_request_exception",
    "got_serving_exception",
    "got_websocket_exception",
    "has_app_context",
    "has_request_context",
    "has_websocket_context",
    "jsonify",
    "make_push_promise",
    "make_response",
    "message_flashed",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "safe_join",
    "send_file",
    "send_from_directory",
    "session",
    "signals_available",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "template_rendered",
    "url_for",
    "websocket",
    "websocket_finished",
    "websocket_received",
    "websocket_sent",
    "websocket_started",
    "websocket_tearing_down",
]
