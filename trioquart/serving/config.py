"""The server's settings: Hypercorn's configuration, plus the limits trioquart's server adds.

``trioquart run`` keeps Hypercorn's whole configuration surface (binds, certificates,
keep-alive, HTTP/2 settings, a TOML or Python config file), so :class:`ServerConfig` is
Hypercorn's :class:`~hypercorn.config.Config` with a few more attributes. They can be set
in the same config files as Hypercorn's own.
"""

from __future__ import annotations

from typing import Any

from hypercorn.config import Config as HypercornConfig

from .logs import ServerLogger

__all__ = ["ServerConfig", "apply_app_limits", "load_config_file"]


class ServerConfig(HypercornConfig):
    """Hypercorn's configuration, plus what trioquart's server enforces on top of it."""

    #: The most header fields a request may carry; beyond it the server answers 431
    #: without calling the app. (h11 and h2 limit the bytes of a header block only while
    #: it is incomplete, and not at all in HTTP/1.1 when it arrives in one read.)
    max_header_count: int = 100
    #: The most bytes a request's header names and values may add up to (431 beyond).
    max_header_bytes: int = 16 * 1024
    #: How long a websocket the server closed at shutdown (close code 1001) waits for the
    #: client's closing frame before its connection is dropped, within the graceful timeout.
    websocket_close_timeout: float = 1.0
    #: Hypercorn's logger, writing the access log whatever the log level (see
    #: :mod:`trioquart.serving.logs`).
    logger_class = ServerLogger


def apply_app_limits(config: HypercornConfig, app: Any) -> None:
    """Tighten the server's limits to the app's own where the app has a counterpart.

    A limit checked only in the app comes too late: the server has already buffered what
    the app then refuses. ``WEBSOCKET_MAX_MESSAGE_SIZE`` becomes the size at which the
    server stops reading a message (and closes with 1009), compressed or not.
    """
    app_config = getattr(app, "config", None)
    if not isinstance(app_config, dict):
        return
    size = app_config.get("WEBSOCKET_MAX_MESSAGE_SIZE")
    if isinstance(size, int) and size > 0:
        config.websocket_max_message_size = min(config.websocket_max_message_size, size)


def load_config_file(spec: str) -> ServerConfig:
    """A :class:`ServerConfig` from a file, named as Hypercorn's ``--config`` names it:
    ``path.toml``, ``path.py`` or ``file:path.py``, or ``python:module.attribute``."""
    if spec.startswith("python:"):
        config = ServerConfig.from_object(spec.removeprefix("python:"))
    elif spec.startswith("file:") or spec.endswith(".py"):
        config = ServerConfig.from_pyfile(spec.removeprefix("file:"))
    else:
        config = ServerConfig.from_toml(spec)
    assert isinstance(config, ServerConfig)
    return config
