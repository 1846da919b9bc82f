"""Request and response objects."""

from .request import Body, ClientDisconnected, Request
from .response import Response

__all__ = ["Body", "ClientDisconnected", "Request", "Response"]
