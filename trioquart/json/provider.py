"""JSON providers (Flask's), under trioquart's name: ``from trioquart.json.provider import
DefaultJSONProvider`` ports ``quart.json.provider`` by changing the import."""

from __future__ import annotations

from flask.json.provider import DefaultJSONProvider, JSONProvider

__all__ = ["DefaultJSONProvider", "JSONProvider"]
