"""Type aliases shared across trioquart: ASGI messages, view return values, and the
callables and protocols that the decorators and the test client accept.

The names match ``quart.typing`` name for name, with the same meanings, because Quart's
extensions annotate with them (and import them at runtime): an extension written for
Quart type-checks and imports against trioquart (the docs' extensions page). The aliases
are real objects at runtime, not strings, so an extension can combine them with ``|``.
"""

from __future__ import annotations

import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias, Union

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPScope,
    LifespanScope,
    WebsocketScope,
)
from werkzeug.datastructures import Headers

from .datastructures import FileStorage

if TYPE_CHECKING:
    from werkzeug.sansio.response import Response as SansIOResponse

    from .app import TrioQuart
    from .testing.client import CookieJar
    from .wrappers.response import Response

__all__ = [
    "ASGIApp",
    "ASGIReceive",
    "ASGIReceiveCallable",
    "ASGISend",
    "ASGISendCallable",
    "AfterRequestCallable",
    "AfterServingCallable",
    "AfterWebsocketCallable",
    "AppOrBlueprintKey",
    "BeforeRequestCallable",
    "BeforeServingCallable",
    "BeforeWebsocketCallable",
    "ErrorHandlerCallable",
    "Event",
    "FilePath",
    "FileStorage",
    "HTTPScope",
    "HeaderName",
    "HeaderValue",
    "HeadersValue",
    "LifespanScope",
    "Message",
    "ResponseReturnValue",
    "ResponseTypes",
    "ResponseValue",
    "RouteCallable",
    "Scope",
    "ShellContextProcessorCallable",
    "StatusCode",
    "TeardownCallable",
    "TemplateContextProcessorCallable",
    "TemplateFilterCallable",
    "TemplateGlobalCallable",
    "TemplateTestCallable",
    "TestAppProtocol",
    "TestClientProtocol",
    "TestHTTPConnectionProtocol",
    "TestWebsocketConnectionProtocol",
    "URLDefaultCallable",
    "URLValuePreprocessorCallable",
    "WebsocketCallable",
    "WebsocketScope",
    "WhileServingCallable",
]

# ---- ASGI -----------------------------------------------------------------------------

Scope: TypeAlias = dict[str, Any]
Message: TypeAlias = dict[str, Any]
ASGIReceive: TypeAlias = Callable[[], Awaitable[Message]]
ASGISend: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, ASGIReceive, ASGISend], Awaitable[None]]
# Hypercorn's precise ASGI types (``HTTPScope`` and the rest) are re-exported under the
# names Quart's extensions import them by.

# ---- what a view may return -----------------------------------------------------------

FilePath: TypeAlias = Union[bytes, str, "os.PathLike[Any]"]
StatusCode: TypeAlias = int
#: The value of one header: a string, or several for a header that repeats.
HeaderName: TypeAlias = str
HeaderValue: TypeAlias = str | list[str] | tuple[str, ...]
#: Headers, in any of the shapes a view may give them.
HeadersValue: TypeAlias = (
    Headers | Mapping[HeaderName, HeaderValue] | Sequence[tuple[HeaderName, HeaderValue]]
)
#: A response body, or a response object (ours or any werkzeug one).
ResponseValue: TypeAlias = Union[
    "Response",
    "SansIOResponse",
    str,
    bytes,
    bytearray,
    Mapping[str, Any],
    list[Any],
    AsyncIterable[Any],
    Iterable[Any],
]
ResponseReturnValue: TypeAlias = (
    ResponseValue
    | tuple[ResponseValue, HeadersValue]
    | tuple[ResponseValue, StatusCode]
    | tuple[ResponseValue, StatusCode, HeadersValue]
)
ResponseTypes: TypeAlias = Union["Response", "SansIOResponse"]

# ---- what the decorators take ---------------------------------------------------------

#: None for the app, a blueprint's name for its functions.
AppOrBlueprintKey: TypeAlias = str | None
RouteCallable: TypeAlias = (
    Callable[..., ResponseReturnValue] | Callable[..., Awaitable[ResponseReturnValue]]
)
WebsocketCallable: TypeAlias = (
    Callable[..., ResponseReturnValue | None] | Callable[..., Awaitable[ResponseReturnValue | None]]
)
BeforeRequestCallable: TypeAlias = (
    Callable[[], ResponseReturnValue | None] | Callable[[], Awaitable[ResponseReturnValue | None]]
)
BeforeWebsocketCallable: TypeAlias = BeforeRequestCallable
AfterRequestCallable: TypeAlias = (
    Callable[[ResponseTypes], ResponseTypes] | Callable[[ResponseTypes], Awaitable[ResponseTypes]]
)
AfterWebsocketCallable: TypeAlias = (
    Callable[[ResponseTypes | None], ResponseTypes | None]
    | Callable[[ResponseTypes | None], Awaitable[ResponseTypes | None]]
)
BeforeServingCallable: TypeAlias = Callable[[], None] | Callable[[], Awaitable[None]]
AfterServingCallable: TypeAlias = BeforeServingCallable
WhileServingCallable: TypeAlias = Callable[[], AsyncGenerator[None, None]]
ErrorHandlerCallable: TypeAlias = (
    Callable[[Any], ResponseReturnValue] | Callable[[Any], Awaitable[ResponseReturnValue]]
)
TeardownCallable: TypeAlias = (
    Callable[[BaseException | None], None] | Callable[[BaseException | None], Awaitable[None]]
)
ShellContextProcessorCallable: TypeAlias = Callable[[], dict[str, Any]]
TemplateContextProcessorCallable: TypeAlias = (
    Callable[[], dict[str, Any]] | Callable[[], Awaitable[dict[str, Any]]]
)
TemplateFilterCallable: TypeAlias = Callable[[Any], Any]
TemplateGlobalCallable: TypeAlias = Callable[[Any], Any]
TemplateTestCallable: TypeAlias = Callable[[Any], bool]
URLDefaultCallable: TypeAlias = Callable[[str, dict[str, Any]], None]
URLValuePreprocessorCallable: TypeAlias = Callable[[str | None, dict[str, Any] | None], None]

# ---- the test client, as extensions see it --------------------------------------------


class TestHTTPConnectionProtocol(Protocol):
    """What ``client.request(...)`` yields: a request whose body and response stream."""

    push_promises: list[tuple[str, Headers]]

    async def send(self, data: bytes) -> None: ...

    async def send_complete(self) -> None: ...

    async def receive(self) -> bytes: ...

    async def disconnect(self) -> None: ...

    async def as_response(self) -> Response: ...


class TestWebsocketConnectionProtocol(Protocol):
    """What ``client.websocket(...)`` yields."""

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str | bytes) -> None: ...

    async def receive_json(self) -> Any: ...

    async def send_json(self, data: Any) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class TestClientProtocol(Protocol):
    """The in-process test client (:class:`trioquart.testing.TestClient`)."""

    __test__: ClassVar[bool] = False  # not a pytest test class, where a test imports it

    app: TrioQuart
    #: ``None`` for a client made with ``use_cookies=False`` (helpers such as Quart-Auth's
    #: ``authenticated_client`` check it before storing a cookie).
    cookie_jar: CookieJar | None
    push_promises: list[tuple[str, Headers]]

    async def open(self, path: str, **kwargs: Any) -> Response: ...

    def request(
        self, path: str, **kwargs: Any
    ) -> AbstractAsyncContextManager[TestHTTPConnectionProtocol]: ...

    def websocket(
        self, path: str, **kwargs: Any
    ) -> AbstractAsyncContextManager[TestWebsocketConnectionProtocol]: ...

    async def get(self, path: str, **kwargs: Any) -> Response: ...

    async def post(self, path: str, **kwargs: Any) -> Response: ...

    async def put(self, path: str, **kwargs: Any) -> Response: ...

    async def delete(self, path: str, **kwargs: Any) -> Response: ...

    async def patch(self, path: str, **kwargs: Any) -> Response: ...

    async def head(self, path: str, **kwargs: Any) -> Response: ...

    async def options(self, path: str, **kwargs: Any) -> Response: ...

    async def trace(self, path: str, **kwargs: Any) -> Response: ...

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
    ) -> None: ...

    def delete_cookie(
        self, server_name: str | None, key: str, path: str = "/", domain: str | None = None
    ) -> None: ...


class TestAppProtocol(Protocol):
    """What ``app.test_app()`` returns: the app with its lifespan running."""

    __test__: ClassVar[bool] = False  # not a pytest test class, where a test imports it

    def test_client(self) -> TestClientProtocol: ...

    async def __aenter__(self) -> TestAppProtocol: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Event(Protocol):
    """An event that can be set and tested (``trio.Event``, as ``app.shutdown_event`` is)."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...
