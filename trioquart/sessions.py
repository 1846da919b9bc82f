"""Session interfaces: async ``open_session``/``save_session``.

The default signs the session into a cookie with itsdangerous, reusing Flask's
``SecureCookieSessionInterface`` logic (``SECRET_KEY``, ``SECRET_KEY_FALLBACKS``, the
``SESSION_COOKIE_*`` settings). A custom interface (a server-side store, say) subclasses
:class:`SessionInterface` and awaits whatever it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask.sessions import SecureCookieSessionInterface as _FlaskSecureCookieInterface
from flask.sessions import SessionInterface as _FlaskSessionInterface
from flask.sessions import SessionMixin

if TYPE_CHECKING:
    from .app import TrioQuart
    from .wrappers.request import Request
    from .wrappers.response import Response


class SessionInterface(_FlaskSessionInterface):
    """The base for session interfaces; Flask's cookie-setting helpers come with it.

    Subclasses implement the two coroutines. ``open_session`` returning None means sessions
    are unavailable (no secret key, say) and a null session is used instead.
    """

    async def open_session(  # type: ignore[override]
        self, app: TrioQuart, request: Request
    ) -> SessionMixin | None:
        raise TypeError(f"{type(self).__name__} must define open_session")

    async def save_session(  # type: ignore[override]
        self, app: TrioQuart, session: SessionMixin, response: Response
    ) -> None:
        raise TypeError(f"{type(self).__name__} must define save_session")


class SecureCookieSessionInterface(SessionInterface, _FlaskSecureCookieInterface):
    """The session signed into a cookie (itsdangerous, keyed by ``SECRET_KEY``)."""

    async def open_session(  # type: ignore[override]
        self, app: TrioQuart, request: Request
    ) -> SessionMixin | None:
        opened: Any = _FlaskSecureCookieInterface.open_session(self, app, request)  # type: ignore[arg-type]
        return opened

    async def save_session(  # type: ignore[override]
        self, app: TrioQuart, session: SessionMixin, response: Response
    ) -> None:
        _FlaskSecureCookieInterface.save_session(self, app, session, response)  # type: ignore[arg-type]
