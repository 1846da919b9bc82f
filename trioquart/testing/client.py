"""The in-process test client: calls the app's ASGI callable directly, no sockets.

The app runs in the test's own task, so an unhandled error in a view reaches the test as
itself (not wrapped in an exception group). Everything the app sends is collected without
a bound, so responses of any length work.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import trio
from werkzeug.datastructures import Headers
from werkzeug.http import parse_date

from ..asgi.websocket import DENIAL_EXTENSION
from ..errors import strip_cancelled
from .utils import (
    decode_headers,
    encode_request,
    http_test_scope,
    make_scope,
    received_response,
    sentinel,
)
from .websocket import TestWebsocketConnection

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import Message, Scope
    from ..wrappers.response import Response

_REDIRECTS = {301, 302, 303, 307, 308}


class IncompleteResponseError(Exception):
    """The app started a response but ended without completing it (a response timeout, or
    an error while streaming): a real client would see the connection close early."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"The response ({response.status}) ended before it was complete.")
        self.response = response


class CookieJar:
    """The cookies the app has set, sent back on later requests (one host, by path).

    A cookie's lifetime is kept: one that arrives already expired (``Max-Age`` of 0 or
    less, or an ``Expires`` in the past) removes the stored one, and one whose lifetime
    runs out during a test stops being sent. ``Domain``, ``Secure``, ``HttpOnly`` and
    ``SameSite`` do not change what is sent; see :meth:`TestClient.set_cookie` for why.
    """

    def __init__(self) -> None:
        #: ``(name, path)`` to ``(value, expiry)``, the expiry a UNIX time or ``None``.
        self._cookies: dict[tuple[str, str], tuple[str, float | None]] = {}

    def update_from(self, headers: Headers) -> None:
        for header in headers.getlist("Set-Cookie"):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                max_age = int(morsel["max-age"]) if morsel["max-age"] != "" else None
                expires = parse_date(morsel["expires"]) if morsel["expires"] else None
                self.set(name, morsel.value, morsel["path"] or "/", _expiry(max_age, expires))

    def header_for(self, path: str) -> str | None:
        now = time.time()
        for key, (_, expiry) in list(self._cookies.items()):
            if expiry is not None and expiry <= now:
                del self._cookies[key]
        pairs = [
            f"{name}={value}"
            for (name, cookie_path), (value, _) in self._cookies.items()
            if path.startswith(cookie_path.rstrip("/")) or cookie_path == "/"
        ]
        return "; ".join(pairs) if pairs else None

    def set(self, key: str, value: str, path: str = "/", expiry: float | None = None) -> None:
        """Store a cookie; an ``expiry`` (UNIX time) already past removes it instead."""
        if expiry is not None and expiry <= time.time():
            self.delete(key, path)
        else:
            self._cookies[(key, path)] = (value, expiry)

    def delete(self, key: str, path: str = "/") -> None:
        self._cookies.pop((key, path), None)


def _expiry(
    max_age: int | timedelta | None, expires: int | float | datetime | None
) -> float | None:
    """When a cookie ends, as a UNIX time (``None``: with the client). ``Max-Age`` wins
    over ``Expires``, as in browsers; a naive ``expires`` datetime is taken as UTC."""
    if max_age is not None:
        seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
        return time.time() + seconds
    if isinstance(expires, datetime):
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires.timestamp()
    return None if expires is None else float(expires)


class TestHTTPConnection:
    """A request whose body is sent and whose response is read piece by piece, for testing
    streaming uploads, streaming responses and client disconnects.

    Made by ``client.request(path, ...)``, used as ``async with``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: TrioQuart, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self._to_app, self._app_inbox = trio.open_memory_channel[Any](math.inf)
        self._app_outbox, self._from_app = trio.open_memory_channel[Any](math.inf)
        self.status_code: int | None = None
        self.headers: Headers | None = None
        self._complete = False
        self._disconnected = False

    async def _receive(self) -> Message:
        if self._disconnected:
            await trio.sleep_forever()
        message = await self._app_inbox.receive()
        if message["type"] == "http.disconnect":
            self._disconnected = True
        return message

    async def _send(self, message: Message) -> None:
        await self._app_outbox.send(message)

    async def send(self, data: bytes) -> None:
        """Send a piece of the request body."""
        await self._to_app.send({"type": "http.request", "body": data, "more_body": True})

    async def send_complete(self) -> None:
        """End the request body."""
        await self._to_app.send({"type": "http.request", "body": b"", "more_body": False})

    async def disconnect(self) -> None:
        """Act as a client that went away."""
        await self._to_app.send({"type": "http.disconnect"})

    async def receive(self) -> bytes:
        """The next piece of the response body; ``b""`` once it is complete."""
        while True:
            if self._complete:
                return b""
            message = await self._from_app.receive()
            if message["type"] == "http.response.start":
                self.status_code = message["status"]
                self.headers = decode_headers(message.get("headers", []))
                continue
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    self._complete = True
                    await self._to_app.send({"type": "http.disconnect"})
                if message.get("body"):
                    return message["body"]

    async def as_response(self) -> Response:
        """Wait for the whole response and return it."""
        parts = []
        while chunk := await self.receive():
            parts.append(chunk)
        assert self.status_code is not None and self.headers is not None
        return received_response(self.app, b"".join(parts), self.status_code, self.headers)

    async def _run(self) -> None:
        await self.app(self.scope, self._receive, self._send)
        await self._app_outbox.aclose()


class TestClient:
    """Call an app in-process: ``response = await client.get("/path")``.

    Requests take Quart's arguments: ``headers``, ``query_string``, ``json``, ``form``,
    ``files``, ``data``, ``auth``, ``follow_redirects``; cookies the app sets are kept
    and sent back (``use_cookies=False`` turns that off).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: TrioQuart, use_cookies: bool = True) -> None:
        self.app = app
        self.cookie_jar: CookieJar | None = CookieJar() if use_cookies else None
        #: ``(path, headers)`` of each server push the app asked for (HTTP/2 requests).
        self.push_promises: list[tuple[str, Headers]] = []

    def set_cookie(
        self,
        server_name: str | None,
        key: str,
        value: str = "",
        max_age: int | timedelta | None = None,
        expires: int | float | datetime | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        charset: str = "utf-8",
    ) -> None:
        """Store a cookie as if the app had set it, with Quart's test-client signature
        (test helpers such as Quart-Auth's ``authenticated_client`` call it so).

        ``path`` limits which requests carry it; ``max_age`` (seconds or a timedelta)
        and ``expires`` (a datetime, or a UNIX time) bound its life, and one already
        past removes the cookie instead. The rest is accepted and has no effect:
        ``server_name`` and ``domain`` because the jar serves the one app under test,
        whatever host a request names; ``secure`` because, as with Quart's client, a
        Secure cookie is sent on plain ``http`` requests too, so tests of apps that set
        Secure cookies (the default of Quart-Auth, for one) need not use ``https``;
        ``httponly`` because no script runs here to be kept from it; ``samesite``
        because every request the client makes is same-site; ``charset`` because the
        value is a ``str`` sent as given (``quart.typing.TestClientProtocol`` still
        declares it).
        """
        if self.cookie_jar is None:
            raise RuntimeError("This client was made with use_cookies=False.")
        self.cookie_jar.set(key, value, path, _expiry(max_age, expires))

    def delete_cookie(
        self, server_name: str | None, key: str, path: str = "/", domain: str | None = None
    ) -> None:
        """Remove a cookie from the jar (``server_name`` and ``domain`` are ignored, as
        for :meth:`set_cookie`)."""
        if self.cookie_jar is not None:
            self.cookie_jar.delete(key, path)

    def _build(
        self, path: str, method: str, kwargs: dict[str, Any], streamed: bool = False
    ) -> Scope:
        http_version = kwargs.get("http_version", "1.1")
        scope, body = http_test_scope(
            self.app, path, method, kwargs, streamed=streamed, cookie_jar=self.cookie_jar
        )
        if http_version in {"2", "3"}:
            scope["extensions"]["http.response.push"] = {}
        scope["trioquart.test_body"] = body
        return scope

    async def open(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Headers | Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        form: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        query_string: Any = None,
        json: Any = sentinel,
        scheme: str = "http",
        follow_redirects: bool = False,
        root_path: str = "",
        http_version: str = "1.1",
        scope_base: Mapping[str, Any] | None = None,
        auth: tuple[str, str] | Any = None,
        subdomain: str | None = None,
    ) -> Response:
        """Make a request and return the complete response."""
        method = method.upper()
        response = await self._make_request(
            path, method, headers, data, form, files, query_string, json, scheme,
            root_path, http_version, scope_base, auth, subdomain,
        )  # fmt: skip
        redirects = 0
        while follow_redirects and response.status_code in _REDIRECTS:
            redirects += 1
            if redirects > 20:
                raise RuntimeError("More than 20 redirects: is there a loop?")
            location = response.headers["Location"]
            target = urlsplit(urljoin(f"http://localhost{path}", location))
            path = target.path + (f"?{target.query}" if target.query else "")
            query_string = None
            if response.status_code in {301, 302, 303} and method != "HEAD":
                method = "GET"
                data = form = files = None
                json = sentinel
            response = await self._make_request(
                path, method, headers, data, form, files, query_string, json, scheme,
                root_path, http_version, scope_base, auth, subdomain,
            )  # fmt: skip
        return response

    async def _make_request(
        self,
        path: str,
        method: str,
        headers: Headers | Mapping[str, str] | None,
        data: str | bytes | None,
        form: Mapping[str, Any] | None,
        files: Mapping[str, Any] | None,
        query_string: Any,
        json: Any,
        scheme: str,
        root_path: str,
        http_version: str,
        scope_base: Mapping[str, Any] | None,
        auth: tuple[str, str] | Any = None,
        subdomain: str | None = None,
    ) -> Response:
        """Send one request (``open`` calls it once per redirect followed) and return the
        complete response.

        An extension point, with Quart's signature and positional order: a subclass may
        override it to change the arguments, as Quart-Schema's client does to turn models
        given as ``json=``/``form=``/``query_string=`` into plain data, then call
        ``super()._make_request(...)`` with them. ``json`` is
        :data:`trioquart.testing.utils.sentinel` when no JSON body was given.
        """
        kwargs: dict[str, Any] = dict(
            headers=headers,
            data=data,
            form=form,
            files=files,
            query_string=query_string,
            json=json,
            scheme=scheme,
            root_path=root_path,
            http_version=http_version,
            scope_base=scope_base,
            auth=auth,
            subdomain=subdomain,
        )
        scope = self._build(path, method, kwargs)
        body = scope.pop("trioquart.test_body")
        inbox = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[Message] = []
        complete = trio.Event()
        disconnect_sent = False

        async def receive() -> Message:
            nonlocal disconnect_sent
            if inbox:
                return inbox.pop()
            if disconnect_sent:
                await trio.sleep_forever()
            await complete.wait()
            disconnect_sent = True
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.push":
                self.push_promises.append((message["path"], decode_headers(message["headers"])))
                return
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete.set()

        await self.app(scope, receive, send)
        return self._response_from(sent, complete.is_set())

    def _response_from(self, sent: list[Message], complete: bool) -> Response:
        if not sent or sent[0]["type"] != "http.response.start":
            raise RuntimeError("The app ended without starting a response.")
        start = sent[0]
        headers = decode_headers(start.get("headers", []))
        body = b"".join(m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body")
        response = received_response(self.app, body, start["status"], headers)
        if self.cookie_jar is not None:
            self.cookie_jar.update_from(headers)
        if not complete:
            raise IncompleteResponseError(response)
        return response

    @asynccontextmanager
    async def request(
        self, path: str, *, method: str = "GET", **kwargs: Any
    ) -> AsyncIterator[TestHTTPConnection]:
        """A streaming request: send the body and read the response piece by piece.

        ``async with client.request("/upload", method="POST") as connection: ...``
        """
        scope = self._build(path, method.upper(), kwargs, streamed=True)
        scope.pop("trioquart.test_body")
        connection = TestHTTPConnection(self.app, scope)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connection._run)
                yield connection
                # Leaving the block is the client going away; a complete response has
                # already sent its disconnect, which the app ignores as a no-op.
                if not connection._complete:
                    await connection.disconnect()
        except BaseExceptionGroup as group:
            error = strip_cancelled(group)
            if error is not None and not isinstance(error, BaseExceptionGroup):
                raise error from None
            raise

    @asynccontextmanager
    async def websocket(
        self,
        path: str,
        *,
        headers: Headers | Mapping[str, str] | None = None,
        query_string: Any = None,
        subprotocols: list[str] | None = None,
        auth: tuple[str, str] | Any = None,
        scheme: str = "ws",
        root_path: str = "",
        http_version: str = "1.1",
        scope_base: Mapping[str, Any] | None = None,
        subdomain: str | None = None,
    ) -> AsyncIterator[TestWebsocketConnection]:
        """An in-process websocket: the handshake happens on entering the block, and a
        denial raises :class:`WebsocketResponseError` there."""
        path, query, request_headers, _ = encode_request(
            self.app,
            path,
            headers=headers,
            query_string=query_string,
            auth=auth,
            subdomain=subdomain,
        )
        if subprotocols:
            request_headers["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
        if self.cookie_jar is not None and "Cookie" not in request_headers:
            cookie = self.cookie_jar.header_for(path)
            if cookie is not None:
                request_headers["Cookie"] = cookie
        base = {"subprotocols": list(subprotocols or []), "extensions": {DENIAL_EXTENSION: {}}}
        base.update(scope_base or {})
        scope = make_scope(
            "websocket",
            "GET",
            scheme,
            path,
            query,
            request_headers,
            root_path=root_path,
            http_version=http_version,
            scope_base=base,
        )
        del scope["method"]
        connection = TestWebsocketConnection(self.app, scope)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connection._run)
                await connection._handshake()
                yield connection
                await connection.close()
        except BaseExceptionGroup as group:
            error = strip_cancelled(group)
            if error is not None and not isinstance(error, BaseExceptionGroup):
                raise error from None
            raise

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="GET", **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="POST", **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="PUT", **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="DELETE", **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="PATCH", **kwargs)

    async def head(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="HEAD", **kwargs)

    async def options(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="OPTIONS", **kwargs)

    async def trace(self, path: str, **kwargs: Any) -> Response:
        return await self.open(path, method="TRACE", **kwargs)
