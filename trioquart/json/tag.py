"""Tagged JSON for sessions (Flask's), under trioquart's name, as ``quart.json.tag``."""

from __future__ import annotations

from flask.json.tag import JSONTag, TaggedJSONSerializer

__all__ = ["JSONTag", "TaggedJSONSerializer"]
