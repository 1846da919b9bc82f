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
        if (
            status is None
            and headers is None
            and isinstance(response, (str, bytes))
            and self.automatically_set_content_length
        ):
            # The common cases (a view returned a string, JSON from ``jsonify``): both
            # headers are known to be valid, so they are set directly rather than derived
            # and checked again one by one.
            if content_type is None:
                content_type = self._content_type_for(mimetype)
            if content_type is not None:
                data = response.encode() if isinstance(response, str) else response
                self.headers = Headers()
                self.headers._list = [
                    ("Content-Type", content_type),
                    ("Content-Length", str(len(data))),
                ]
                self._set_default_status()
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
    def _content_type_for(cls, mimetype: str | None) -> str | None:
        """The Content-Type for ``mimetype`` (None: ``default_mimetype``) as werkzeug
        derives it (a charset for text types), or None for no mimetype; remembered per
        class, as the mimetypes a program responds with are few."""
        known: dict[str | None, str] | None = cls.__dict__.get("_content_types")
        if known is None:
            known = cls._content_types = {}
        content_type = known.get(mimetype)
        if content_type is None:
            chosen = cls.default_mimetype if mimetype is None else mimetype
            if not chosen:
                return None
            content_type = get_content_type(chosen, "utf-8")
            if len(known) >= 64:
                known.clear()
            known[mimetype] = content_type
        return content_type

    _content_types: dict[str | None, str] | None = None

    def _set_default_status(self) -> None:
        """``self.status = self.default_status``, with werkzeug's cleaning of it ("200
        OK", 200) done once per class."""
        cls = type(self)
        known = cls.__dict__.get("_default_status_value")
        if known is not None and known[0] == self.default_status:
            self._status, self._status_code = known[1]
        else:
            self.status = self.default_status
            cls._default_status_value = (self.default_status, (self._status, self._status_code))

    _default_status_value: tuple[int, tuple[str, int]] | None = None

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
