"""Request and response objects."""

from .request import Body, ClientDisconnectedError, Request
from .response import Response

__all__ = ["Body", "ClientDisconnectedError", "Request", "Response"]
