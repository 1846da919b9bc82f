"""The HTTP request: werkzeug's sans-IO request plus an async body.

The body arrives through a bounded trio channel filled by the connection (see
:mod:`trioquart.asgi.http`), so a handler that reads slowly slows the client down instead of
letting the server buffer without limit. ``MAX_CONTENT_LENGTH`` is counted on the bytes as
they are consumed, which catches chunked and streamed uploads as well as a declared
``Content-Length``.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import trio
from werkzeug.datastructures import CombinedMultiDict, FileStorage, Headers, MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout
from werkzeug.sansio.request import Request as SansIORequest

from ..deadlines import within
from ..direct import load_json
from ..formparser import FormDataParser
from .base import ConnectionMixin

if TYPE_CHECKING:
    from ..typing import Scope


class ClientDisconnectedError(Exception):
    """The client went away before its request body was complete."""


class ChunkSource(Protocol):
    """Where a :class:`Body` gets its chunks (the connection provides one)."""

    #: True once every chunk has been handed out.
    complete: bool

    async def next_chunk(self) -> bytes | None:
        """The next chunk; None at the end. Raises ClientDisconnectedError when the client
        left mid-body."""


class Body:
    """The request body: ``async for chunk in body`` streams it, ``await body`` gathers it.

    The chunks come from the connection as they arrive. A body can be streamed or
    gathered, not both: once chunks have been handed out, they are gone. While streaming,
    each wait for a chunk is bounded by ``BODY_TIMEOUT``; gathering bounds the whole read
    (see :meth:`Request.get_data`).
    """

    def __init__(self, request: Request, source: ChunkSource | None = None) -> None:
        # A weak reference: the request owns its body, and a cycle between them would leave
        # every request for the cyclic garbage collector to find.
        self._request = weakref.ref(request)
        self._source = source
        self._received = 0
        self._streamed = False
        self._data: bytes | None = b"" if source is None else None
        self._error: Exception | None = None

    def set_complete_data(self, data: bytes) -> None:
        """Give the body all at once (a bodiless request, or one made up in tests)."""
        self._source = None
        self._data = data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _BodyChunks(self)

    async def _next_chunk(self, bounded: bool) -> bytes | None:
        if self._error is not None:
            raise self._error
        source = self._source
        if source is None or source.complete:
            return None
        request = self._request()
        if request is None:
            raise RuntimeError("The request this body belongs to is gone.")
        limit = request.max_content_length
        if limit is not None and (request.content_length or 0) > limit:
            self._fail(RequestEntityTooLarge())
        timeout = request.body_timeout if bounded else None
        try:
            if timeout is None:
                chunk = await source.next_chunk()
            else:
                chunk = await within(source.next_chunk(), timeout)
        except trio.TooSlowError:
            self._fail(RequestTimeout())
        except ClientDisconnectedError as error:
            self._fail(error)
        if chunk is None:
            return None
        self._received += len(chunk)
        if limit is not None and self._received > limit:
            self._fail(RequestEntityTooLarge())
        return chunk

    def _fail(self, error: Exception) -> NoReturn:
        self._error = error
        raise error

    async def read(self) -> bytes:
        """The whole body, gathered once and cached (bound it with a timeout around the
        call, as :meth:`Request.get_data` does)."""
        if self._data is None:
            if self._streamed:
                raise RuntimeError("The request body was already streamed and cannot be read.")
            self._streamed = True
            parts = []
            while (chunk := await self._next_chunk(bounded=False)) is not None:
                parts.append(chunk)
            self._data = b"".join(parts)
        return self._data

    def __await__(self) -> Generator[Any, None, bytes]:
        return self.read().__await__()


class _BodyChunks:
    """``async for`` over a :class:`Body` (a plain iterator rather than an async
    generator, so stopping early leaves nothing to finalise)."""

    def __init__(self, body: Body) -> None:
        self._body = body
        self._gave_cached = False

    def __aiter__(self) -> _BodyChunks:
        return self

    async def __anext__(self) -> bytes:
        body = self._body
        if body._data is not None:
            if self._gave_cached or not body._data:
                raise StopAsyncIteration
            self._gave_cached = True
            return body._data
        body._streamed = True
        chunk = await body._next_chunk(bounded=True)
        if chunk is None:
            raise StopAsyncIteration
        return chunk


class Request(ConnectionMixin, SansIORequest):
    """An HTTP request, as ``request`` in a handler.

    werkzeug provides the parsed headers, URL parts, args, cookies and the rest; this class
    adds the awaitable body accessors (``await request.get_data()``, ``await request.form``,
    ``await request.get_json()``) and the request's nursery.
    """

    #: ``MAX_CONTENT_LENGTH``, copied from the config for each request; may be changed by a
    #: handler before it reads the body.
    max_content_length: int | None = None
    max_form_memory_size: int | None = 500_000
    max_form_parts: int | None = 1_000
    #: ``BODY_TIMEOUT``: how long body reads wait before answering 408.
    body_timeout: float | None = None

    def __init__(
        self,
        method: str,
        scheme: str,
        server: tuple[str, int | None] | None,
        root_path: str,
        path: str,
        query_string: bytes,
        headers: Headers,
        remote_addr: str | None,
        *,
        scope: Scope | None = None,
        http_version: str = "1.1",
    ) -> None:
        super().__init__(
            method, scheme, server, root_path, path, query_string, headers, remote_addr
        )
        self.scope: Scope = scope if scope is not None else {}
        self.http_version = http_version

    @cached_property
    def body(self) -> Body:
        """The body; made when first asked for, as most requests (a GET) have none to read.
        The connection sets it, with its source, for a request that has one."""
        return Body(self)

    _form: tuple[MultiDict[str, str], MultiDict[str, FileStorage]] | None = None
    #: ``get_json``'s results, by ``silent``; made by the first call that caches one.
    _json: dict[bool, Any] | None = None

    #: Headers a server push copies from the request that caused it.
    push_promise_headers = (
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "user-agent",
    )

    async def send_push_promise(self, path: str) -> None:
        """Ask an HTTP/2 server to push ``path`` to the client. Nothing happens when the
        server does not offer the ``http.response.push`` extension (HTTP/1.1, say)."""
        push = self._push
        if push is not None:
            headers = [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name in self.push_promise_headers
                if (value := self.headers.get(name)) is not None
            ]
            await push(path, headers)

    _push: Callable[[str, list[tuple[bytes, bytes]]], Awaitable[None]] | None = None

    async def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        """The whole body, waiting at most ``BODY_TIMEOUT`` for it (408 after that).
        ``as_text`` decodes it as UTF-8, replacing invalid bytes (as werkzeug does)."""
        if parse_form_data:
            await self._load_form_data()
        data = await self._read_with_timeout(self.body.read())
        return data.decode(errors="replace") if as_text else data

    @property
    def data(self) -> Awaitable[bytes]:
        return self.get_data()

    async def _read_with_timeout(self, read: Coroutine[Any, Any, Any]) -> Any:
        """``await read``, answering 408 once it has waited ``BODY_TIMEOUT`` (a deadline
        armed only if it has to wait at all, see :mod:`trioquart.deadlines`)."""
        timeout = self.body_timeout
        if timeout is None:
            return await read
        try:
            return await within(read, timeout)
        except trio.TooSlowError:
            raise RequestTimeout() from None

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body parsed as JSON, or None when the mimetype is not JSON (unless ``force``).

        Invalid JSON is a 400 Bad Request, or None with ``silent=True``.
        """
        cached = self._json
        if cache and cached is not None and silent in cached:
            return cached[silent]
        # The usual Content-Type is recognised before werkzeug's is_json parses it
        # (callgrind, in-process POST /json: 334.4 k -> 328.6 k instructions per request).
        if not (force or self.headers.get("Content-Type") == "application/json" or self.is_json):
            return None
        data = await self.get_data()
        try:
            result = self._load_json(data)
        except (ValueError, RecursionError) as error:
            if silent:
                result = None
            else:
                self.on_json_loading_failed(error)
        if cache:
            if cached is None:
                cached = self._json = {}
            cached[silent] = result
        return result

    def _load_json(self, data: bytes) -> Any:
        from ..globals import _cv_app

        app_ctx = _cv_app.get()
        if app_ctx is not None:
            return load_json(app_ctx.app, data)
        return json.loads(data)

    def on_json_loading_failed(self, error: Exception | None) -> NoReturn:
        """Called when the body is not valid JSON; raises 400 Bad Request."""
        raise BadRequest(f"Failed to decode JSON object: {error}")

    @property
    def json(self) -> Awaitable[Any]:
        return self.get_json()

    async def _load_form_data(self) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        if self._form is None:
            parser = FormDataParser(self.max_form_memory_size, self.max_form_parts)
            mimetype, options = self.mimetype, self.mimetype_params
            self._form = await self._read_with_timeout(
                parser.parse(self.body, mimetype, self.content_length, options)
            )
        return self._form

    @property
    def form(self) -> Awaitable[MultiDict[str, str]]:
        """The form fields of a urlencoded or multipart body."""
        return self._form_part(0)

    @property
    def files(self) -> Awaitable[MultiDict[str, FileStorage]]:
        """The uploaded files of a multipart body."""
        return self._form_part(1)

    async def _form_part(self, index: int) -> Any:
        return (await self._load_form_data())[index]

    @property
    def values(self) -> Awaitable[CombinedMultiDict[str, Any]]:
        """``args`` and ``form`` combined (only ``args`` for a GET request)."""
        return self._values()

    async def _values(self) -> CombinedMultiDict[str, Any]:
        sources: list[MultiDict[str, Any]] = [self.args]
        if self.method != "GET":
            sources.append(await self.form)
        return CombinedMultiDict(sources)

    def close(self) -> None:
        """Close the uploaded files; called when the request context is popped."""
        if self._form is not None:
            for _, storage in self._form[1].items(multi=True):
                storage.close()
