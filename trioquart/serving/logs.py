"""The server's logs: one level for trioquart, the app and Hypercorn's error log, and an
access log that writes each request once.

``trioquart run --log-level LEVEL`` (or ``loglevel`` in a ``--config`` file) sets:

- the ``trioquart`` loggers (the supervisor's messages, errors the framework logs), which
  get a handler on stderr here, in every process;
- Hypercorn's error log (``hypercorn.error``: refused requests, connection errors);
- the app's own logger (``app.logger``), only when a level was asked for: otherwise it keeps
  what Flask gives it (DEBUG in debug mode, else whatever the root logger lets through).

The access log (``--access-log``, on by default) is not governed by the level: when it is
on, every request has its line, as with gunicorn.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

from hypercorn.logging import Logger as HypercornLogger
from hypercorn.trio.statsd import StatsdLogger

if TYPE_CHECKING:
    from hypercorn.config import Config

__all__ = [
    "LOG_LEVELS",
    "ServerLogger",
    "StatsdServerLogger",
    "apply_app_log_level",
    "configure_logging",
    "use_statsd_logger",
]

#: The levels ``--log-level`` takes.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: Hypercorn's line format, so that all the server's lines look alike.
LINE_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
DATE_FORMAT = "[%Y-%m-%d %H:%M:%S %z]"


class _TrioquartHandler(logging.StreamHandler[TextIO]):
    """The stderr handler this module installs (told apart from the app's own)."""


def configure_logging(level: str = "info") -> None:
    """Send the ``trioquart`` loggers' records to stderr at ``level``.

    They do not also propagate to the root logger: an app that configures the root
    (``logging.basicConfig``) would otherwise print each of them twice.
    """
    logger = logging.getLogger("trioquart")
    if not any(isinstance(handler, _TrioquartHandler) for handler in logger.handlers):
        handler = _TrioquartHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LINE_FORMAT, DATE_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def apply_app_log_level(app: Any, config: Config) -> None:
    """Set the app's logger to the level asked for, if one was (on the command line or in
    a config file; Hypercorn's class default of INFO is not a request)."""
    level = vars(config).get("loglevel")
    app_logger = getattr(app, "logger", None)
    if level is not None and isinstance(app_logger, logging.Logger):
        app_logger.setLevel(str(level).upper())


class ServerLogger(HypercornLogger):
    """Hypercorn's logger, with two changes for the loggers it makes itself (from ``"-"`` or
    a path; a ``logging.Logger`` given in the config is used as it is):

    - the access logger stays at INFO, the level its lines are written at, whatever the
      log level: ``--log-level warning`` quiets the server, not the access log it was asked
      to write;
    - the error logger has its own handler, so it does not also propagate to the root
      logger, where an app's ``logging.basicConfig`` would print each line a second time.
    """

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if self.access_logger is not None and not isinstance(config.accesslog, logging.Logger):
            self.access_logger.setLevel(logging.INFO)
        if self.error_logger is not None and not isinstance(config.errorlog, logging.Logger):
            self.error_logger.propagate = False


class StatsdServerLogger(ServerLogger, StatsdLogger):
    """:class:`ServerLogger` that also sends Hypercorn's statsd metrics."""


def use_statsd_logger(config: Config) -> None:
    """Send statsd metrics if the config names a statsd host, as Hypercorn's worker does.
    (Hypercorn's ``set_statsd_logger_class`` does so only for its own logger class.)"""
    if config.statsd_host is not None and config.logger_class is ServerLogger:
        config.logger_class = StatsdServerLogger
    else:
        config.set_statsd_logger_class(StatsdLogger)
