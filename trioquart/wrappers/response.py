"""The HTTP response: werkzeug's sans-IO response plus a body.

The body is either bytes held in memory or a stream: any async iterable (an async generator,
say), or a sync iterable. A sync iterable that is a list or tuple is walked directly; any
other sync iterator (a generator may block) is stepped in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Iterable
from contextlib import aclosing
from types import EllipsisType
from typing import Any

import trio
from werkzeug.datastructures import Headers
from werkzeug.sansio.response import Response as SansIOResponse
from werkzeug.utils import get_content_type

_exhausted = object()


def _to_bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    raise TypeError(f"A response body can hold str or bytes, not {type(item).__name__}.")


class Response(SansIOResponse):
    """An HTTP response.

    ``Response("hello")``, ``Response(b"...", status=201, headers={...})``, or a stream:
    ``Response(async_generator(), mimetype="text/plain")``.
    """

    default_mimetype = "text/html"
    json_module = json
    #: Set ``Content-Length`` when the body is bytes held in memory.
    automatically_set_content_length = True

    def __init__(
        self,
        response: str | bytes | bytearray | Iterable[Any] | AsyncIterable[Any] | None = None,
        status: int | str | None = None,
        headers: Headers | dict[str, Any] | Iterable[tuple[str, Any]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        #: How long sending this response may take: ``...`` means ``RESPONSE_TIMEOUT``,
        #: ``None`` means no limit (for server-sent events and other endless streams).
        self.timeout: float | None | EllipsisType = ...
        self.response: Iterable[Any] | AsyncIterable[Any] | None = None
        self._data: bytes | None = None
        if status is None and headers is None and isinstance(response, (str, bytes)):
            # The common cases (a view returned a string, JSON from ``jsonify``): the head
            # is the class's default one, known valid, so it is set directly rather than
            # derived and checked again one by one.
            head = self._plain_head(mimetype, content_type)
            if head is not None:
                data = response.encode() if isinstance(response, str) else response
                self.headers = plain = Headers.__new__(Headers)
                plain._list = [("Content-Type", head[0]), ("Content-Length", str(len(data)))]
                self._status, self._status_code = head[1], head[2]
                self._data = data
                return
        super().__init__(status, headers, mimetype, content_type)
        if response is None:
            self.set_data(b"")
        elif isinstance(response, (str, bytes, bytearray)):
            self.set_data(response)
        else:
            self.response = response

    @classmethod
    def _plain_head(
        cls, mimetype: str | None, content_type: str | None
    ) -> tuple[str, str, int] | None:
        """The Content-Type, status line and status code of a response with the default
        status and a body in memory, as werkzeug derives them (a charset for text types);
        None where that does not apply (no Content-Length wanted, no Content-Type). Kept
        per class and mimetype, as the mimetypes a program responds with are few; the
        class's defaults are part of the key, so changing them is seen."""
        if not cls.automatically_set_content_length:
            return None
        key = (mimetype, content_type, cls.default_mimetype, cls.default_status)
        heads: dict[Any, tuple[str, str, int] | None] | None = cls.__dict__.get("_plain_heads")
        if heads is None:
            heads = cls._plain_heads = {}
        try:
            return heads[key]
        except KeyError:
            pass
        head: tuple[str, str, int] | None = None
        if content_type is None:
            chosen = cls.default_mimetype if mimetype is None else mimetype
            content_type = get_content_type(chosen, "utf-8") if chosen else None
        if content_type is not None:
            probe = SansIOResponse(cls.default_status)
            head = (content_type, probe.status, probe.status_code)
        if len(heads) >= 64:
            heads.clear()
        heads[key] = head
        return head

    _plain_heads: dict[Any, tuple[str, str, int] | None] | None = None

    @property
    def max_cookie_size(self) -> int:  # type: ignore[override]
        from ..globals import _cv_app

        app_ctx = _cv_app.get()
        if app_ctx is None:
            return 4093
        return int(app_ctx.app.config["MAX_COOKIE_SIZE"])

    @property
    def is_streamed(self) -> bool:
        """Whether the body is a stream rather than bytes in memory."""
        return self._data is None

    def set_data(self, value: str | bytes | bytearray) -> None:
        """Replace the body with ``value`` (str is encoded as UTF-8)."""
        self._data = value.encode() if isinstance(value, str) else bytes(value)
        self.response = None
        if self.automatically_set_content_length:
            self.headers["Content-Length"] = str(len(self._data))

    async def get_data(self, as_text: bool = False) -> Any:
        """The whole body; a streamed body is consumed and kept in memory from then on."""
        if self._data is None:
            async with aclosing(self.iter_body()) as chunks:
                self.set_data(b"".join([chunk async for chunk in chunks]))
        assert self._data is not None
        return self._data.decode() if as_text else self._data

    @property
    def data(self) -> Awaitable[bytes]:
        return self.get_data()

    async def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """The body parsed as JSON; None if it is not JSON (unless ``force``) or, with
        ``silent``, if it does not parse."""
        if not (force or self.is_json):
            return None
        data = await self.get_data()
        try:
            return self.json_module.loads(data)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Awaitable[Any]:
        return self.get_json()

    async def iter_body(self) -> AsyncGenerator[bytes, None]:
        """The body as byte chunks, in the order they are to be sent."""
        if self._data is not None:
            if self._data:
                yield self._data
            return
        source = self.response
        if isinstance(source, AsyncIterable):
            items = aiter(source)
            try:
                async for item in items:
                    yield _to_bytes(item)
            finally:
                # Sending may stop between two items (a disconnect, a timeout): close the
                # source then, so its own cleanup runs now rather than at garbage collection.
                aclose = getattr(items, "aclose", None)
                if aclose is not None:
                    await aclose()
        elif isinstance(source, (list, tuple)):
            for item in source:
                yield _to_bytes(item)
        elif source is not None:
            iterator = iter(source)
            while (item := await trio.to_thread.run_sync(next, iterator, _exhausted)) is not (
                _exhausted
            ):
                yield _to_bytes(item)

    async def freeze(self) -> None:
        """Gather a streamed body into memory (so it can be read more than once)."""
        await self.get_data()
