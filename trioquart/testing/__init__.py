"""Testing trioquart apps: the in-process client, the lifespan runner and a real server."""

from __future__ import annotations

from .app import LifespanError, TestApp
from .client import TestClient, TestResponseIncomplete

__all__ = ["LifespanError", "TestApp", "TestClient", "TestResponseIncomplete"]
