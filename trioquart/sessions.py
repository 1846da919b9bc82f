"""Session interfaces: async ``open_session``/``save_session``.

The request (or websocket) context calls ``open_session`` when it is pushed and the app
calls ``save_session`` on the response, after the ``after_request`` functions. Both are
coroutines, so an interface backed by a database or a cache can await its I/O.

The default, :class:`SecureCookieSessionInterface`, keeps the whole session in a cookie
signed with itsdangerous: ``SECRET_KEY`` signs, and the keys in ``SECRET_KEY_FALLBACKS``
are still accepted when verifying, so keys can be rotated without logging everyone out.
It uses Flask's session classes, Flask's serializer, salt and signing settings, and the
same ``SESSION_COOKIE_*`` settings, so cookies are interchangeable with a Flask app that has
the same secret key.

``Vary: Cookie`` is added to every response whose session was read, not only to those that
changed it: a cache must not give one user's page, rendered from their session, to another
(Flask 3.1.3's fix for CVE-2026-27205). Reading goes through the context's ``session``
property (which the ``session`` proxy uses), and that marks the session ``accessed``.

The interfaces are written here rather than subclassed from Flask's, whose methods are
synchronous: a subclass of ours can then declare its coroutines without fighting the type
checker. Their helper methods read the settings exactly as Flask's do.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask.sessions import NullSession, SecureCookieSession, SessionMixin, session_json_serializer
from itsdangerous import BadSignature, URLSafeTimedSerializer

if TYPE_CHECKING:
    from .app import TrioQuart
    from .wrappers.request import Request
    from .wrappers.response import Response
    from .wrappers.websocket import Websocket

__all__ = [
    "NullSession",
    "SecureCookieSession",
    "SecureCookieSessionInterface",
    "SessionInterface",
    "SessionMixin",
    "session_json_serializer",
]

#: How many signing serializers one interface keeps (one per secret key and fallbacks).
_SERIALIZER_CACHE_SIZE = 8


class SessionInterface(ABC):
    """The base for session interfaces: subclass it and write the two coroutines.

    ``open_session`` gets the :class:`~trioquart.Request`, or the
    :class:`~trioquart.Websocket` for a websocket (both have ``cookies`` and ``headers``).
    Returning None means sessions are unavailable (no secret key, say): a null session,
    readable but refusing changes, is used instead, and it is never saved.

    ``save_session`` is not called for websockets: a websocket has no response to set a
    cookie on once it is accepted, so a session is read-only there.

    The other methods are helpers with Flask's names and behaviour; they read the
    ``SESSION_COOKIE_*`` settings and ``PERMANENT_SESSION_LIFETIME``.
    """

    #: The class of the session used when ``open_session`` returns None.
    null_session_class: type[NullSession] = NullSession
    #: Whether sessions are pickled (extensions may look at this, as in Flask).
    pickle_based = False

    @abstractmethod
    async def open_session(
        self, app: TrioQuart, request: Request | Websocket
    ) -> SessionMixin | None:
        """The session for ``request``: called when its context is pushed, before the
        ``before_request`` functions. None means no session (a null session is used)."""

    @abstractmethod
    async def save_session(self, app: TrioQuart, session: SessionMixin, response: Response) -> None:
        """Store ``session`` and set its cookie on ``response``: called after the
        ``after_request`` functions, for HTTP requests whose session is not a null one.
        Add ``Vary: Cookie`` when ``session.accessed`` is true."""

    def make_null_session(self, app: TrioQuart) -> NullSession:
        """The stand-in session when sessions are unavailable: empty, and raising on any
        change with a message about the missing secret key."""
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Whether ``obj`` is a null session (which is never saved)."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: TrioQuart) -> str:
        """``SESSION_COOKIE_NAME``."""
        return str(app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: TrioQuart) -> str | None:
        """``SESSION_COOKIE_DOMAIN``; None (the default) makes a cookie for this host only."""
        domain: str | None = app.config["SESSION_COOKIE_DOMAIN"]
        return domain

    def get_cookie_path(self, app: TrioQuart) -> str:
        """``SESSION_COOKIE_PATH``, else ``APPLICATION_ROOT``."""
        return str(app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"])

    def get_cookie_httponly(self, app: TrioQuart) -> bool:
        """``SESSION_COOKIE_HTTPONLY``: hide the cookie from scripts."""
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: TrioQuart) -> bool:
        """``SESSION_COOKIE_SECURE``: send the cookie over HTTPS only."""
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: TrioQuart) -> str | None:
        """``SESSION_COOKIE_SAMESITE``: ``"Lax"``, ``"Strict"``, ``"None"`` or None."""
        samesite: str | None = app.config["SESSION_COOKIE_SAMESITE"]
        return samesite

    def get_cookie_partitioned(self, app: TrioQuart) -> bool:
        """``SESSION_COOKIE_PARTITIONED``: a cookie partitioned by top-level site."""
        return bool(app.config["SESSION_COOKIE_PARTITIONED"])

    def get_expiration_time(self, app: TrioQuart, session: SessionMixin) -> datetime | None:
        """When the cookie expires: ``PERMANENT_SESSION_LIFETIME`` from now for a permanent
        session, None (when the browser closes) otherwise."""
        if session.permanent:
            return datetime.now(UTC) + app.permanent_session_lifetime
        return None

    def should_set_cookie(self, app: TrioQuart, session: SessionMixin) -> bool:
        """Whether the response carries the cookie: when the session changed, and for a
        permanent session on every response while ``SESSION_REFRESH_EACH_REQUEST`` is on
        (so its expiry moves forward)."""
        if session.modified:
            return True
        return bool(session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"])


def _sha1(data: bytes = b"") -> Any:
    # Looked up when a cookie is signed, not at import: a FIPS build of Python may lack
    # SHA-1, and the app may never use this interface.
    return hashlib.sha1(data)


class SecureCookieSessionInterface(SessionInterface):
    """The session signed into a cookie (itsdangerous, keyed by ``SECRET_KEY``).

    The payload is readable by the client (it is signed, not encrypted): keep secrets out
    of it. A cookie whose signature does not verify, or that is older than
    ``PERMANENT_SESSION_LIFETIME``, is ignored and the session starts empty.

    The signing settings are Flask's, so that both read each other's cookies.
    """

    #: Mixed into the key, so that a session signature is not valid for anything else.
    salt = "cookie-session"
    #: The hash of the HMAC signature.
    digest_method = staticmethod(_sha1)
    #: How itsdangerous derives the signing key from the secret key.
    key_derivation = "hmac"
    #: Turns the session into text: Flask's tagged JSON (tuples, bytes, dates, UUIDs,
    #: Markup survive the round trip).
    serializer = session_json_serializer
    #: The class of the sessions this interface opens.
    session_class = SecureCookieSession

    def get_signing_serializer(self, app: TrioQuart) -> URLSafeTimedSerializer | None:
        """The serializer that signs with ``SECRET_KEY`` and also verifies with each of
        ``SECRET_KEY_FALLBACKS``; None without a secret key.

        Serializers are kept per key set, so changing the keys at run time takes effect
        on the next request without building a serializer for every request.
        """
        secret_key = app.secret_key
        if not secret_key:
            return None
        fallbacks = app.config["SECRET_KEY_FALLBACKS"]
        fallback_keys: tuple[Any, ...] = tuple(fallbacks) if fallbacks else ()
        cache_key: Hashable = (
            secret_key,
            fallback_keys,
            self.salt,
            self.key_derivation,
            self.digest_method,
            # The cached serializer holds this one, so its id cannot be reused meanwhile.
            id(self.serializer),
        )
        cache: dict[Hashable, URLSafeTimedSerializer] | None = self.__dict__.get("_serializers")
        if cache is None:
            cache = self.__dict__["_serializers"] = {}
        serializer = cache.get(cache_key)
        if serializer is None:
            # itsdangerous signs with the last key and tries them all, newest first.
            serializer = URLSafeTimedSerializer(
                [*fallback_keys, secret_key],
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
            if len(cache) >= _SERIALIZER_CACHE_SIZE:
                del cache[next(iter(cache))]
            cache[cache_key] = serializer
        return serializer

    async def open_session(
        self, app: TrioQuart, request: Request | Websocket
    ) -> SecureCookieSession | None:
        if not app.secret_key:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            # The common case for anonymous traffic: nothing to verify.
            return self.session_class()
        serializer = self.get_signing_serializer(app)
        assert serializer is not None
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data = serializer.loads(value, max_age=max_age)
        except BadSignature:
            return self.session_class()
        return self.session_class(data)

    def _cookie_options(self, app: TrioQuart) -> dict[str, Any]:
        return {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }

    async def save_session(self, app: TrioQuart, session: SessionMixin, response: Response) -> None:
        if session.accessed:
            # The response was built from this client's session: caches must key on it.
            response.vary.add("Cookie")
        name = self.get_cookie_name(app)
        if not session:
            if session.modified:
                # Emptied during this request: remove the cookie from the client.
                response.delete_cookie(name, **self._cookie_options(app))
                response.vary.add("Cookie")
            return
        if not self.should_set_cookie(app, session):
            return
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            raise RuntimeError("The session cannot be saved: the app has no SECRET_KEY.")
        response.set_cookie(
            name,
            serializer.dumps(dict(session)),
            expires=self.get_expiration_time(app, session),
            **self._cookie_options(app),
        )
        response.vary.add("Cookie")
