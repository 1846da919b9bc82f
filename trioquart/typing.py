"""Type aliases shared across trioquart: ASGI messages and view return values."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers
    from werkzeug.sansio.response import Response as SansIOResponse

Scope: TypeAlias = dict[str, Any]
Message: TypeAlias = dict[str, Any]
ASGIReceive: TypeAlias = Callable[[], Awaitable[Message]]
ASGISend: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, ASGIReceive, ASGISend], Awaitable[None]]

StatusCode: TypeAlias = int
HeaderValue: TypeAlias = "Headers | Mapping[str, str] | Iterable[tuple[str, str]]"
ResponseBodyValue: TypeAlias = (
    "str | bytes | bytearray | dict[str, Any] | list[Any] | AsyncIterable[Any] | Iterable[Any]"
)
ResponseValue: TypeAlias = "ResponseBodyValue | SansIOResponse"
ResponseReturnValue: TypeAlias = (
    "ResponseValue | tuple[ResponseValue, HeaderValue] | tuple[ResponseValue, StatusCode]"
    " | tuple[ResponseValue, StatusCode, HeaderValue]"
)
