"""trioquart's server: Hypercorn's protocol layer, run so that no client can stop it.

``trioquart run`` serves apps with :func:`serve` (one worker) or :func:`supervise` (several
worker processes). Why a server loop of trioquart's own, and what it guarantees, is in
``docs/deployment.rst``.
"""

from .config import ServerConfig, apply_app_limits, load_config_file
from .worker import AppStartupError, serve

__all__ = ["AppStartupError", "ServerConfig", "apply_app_limits", "load_config_file", "serve"]
