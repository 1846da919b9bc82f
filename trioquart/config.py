"""The app's configuration: Flask's ``Config``, reading ``TRIOQUART_*`` environment variables."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.config import Config as FlaskConfig


class Config(FlaskConfig):
    """A dict of settings with Flask's loaders (``from_object``, ``from_file``, ...)."""

    def from_prefixed_env(
        self, prefix: str = "TRIOQUART", *, loads: Callable[[str], Any] = json.loads
    ) -> bool:
        """Load ``TRIOQUART_*`` environment variables, as Flask does for ``FLASK_*``."""
        return super().from_prefixed_env(prefix, loads=loads)
