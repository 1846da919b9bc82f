"""Testing trioquart apps: the in-process client, the lifespan runner and a real server."""

from __future__ import annotations

from .app import LifespanError, TestApp
from .cli import TrioQuartCliRunner
from .client import IncompleteResponseError, TestClient, TestHTTPConnection
from .server import LiveServer, serve_app
from .websocket import TestWebsocketConnection, WebsocketDisconnectError, WebsocketResponseError

__all__ = [
    "IncompleteResponseError",
    "LifespanError",
    "LiveServer",
    "TestApp",
    "TestClient",
    "TestHTTPConnection",
    "TestWebsocketConnection",
    "TrioQuartCliRunner",
    "WebsocketDisconnectError",
    "WebsocketResponseError",
    "serve_app",
]
