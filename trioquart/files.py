"""Sending files: :func:`send_file` and :func:`send_from_directory`.

A file is never read into memory as a whole. The response body opens it with trio's file
I/O when sending starts, reads it piece by piece, and closes it when sending ends (or is
cut short). When there is a current request the response is conditional: the request's
``If-Match``, ``If-Unmodified-Since``, ``If-None-Match``, ``If-Modified-Since``, ``Range``
and ``If-Range`` headers are honoured as RFC 9110 describes, which may turn the answer into
a 304, a 206 with a part of the file, a 412 or a 416.

The header parsing is werkzeug's (``parse_range_header``, ``parse_etags``,
``parse_if_range_header``, ``parse_date``); so is :func:`safe_join`, re-exported here.
"""

from __future__ import annotations

import io
import mimetypes
import os
import stat
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime
from inspect import iscoroutinefunction
from time import time
from typing import IO, Any, Protocol, cast
from urllib.parse import quote

import trio
from werkzeug.datastructures import ContentRange, Headers
from werkzeug.exceptions import NotFound, PreconditionFailed, RequestedRangeNotSatisfiable
from werkzeug.http import (
    generate_etag,
    parse_date,
    parse_etags,
    parse_if_range_header,
    parse_range_header,
    remove_entity_headers,
    unquote_etag,
)
from werkzeug.sansio.http import is_resource_modified
from werkzeug.security import safe_join

from .globals import _cv_app, _cv_request
from .wrappers.response import Response

__all__ = ["CHUNK_SIZE", "MimetypeUnknownError", "safe_join", "send_file", "send_from_directory"]

#: How many bytes the response body reads from the file at a time.
CHUNK_SIZE = 64 * 1024

MaxAge = int | Callable[[str | None], int | None] | None


class MimetypeUnknownError(TypeError, ValueError):
    """:func:`send_file` got a file object, but neither ``mimetype`` nor ``download_name``.

    It is both a ``TypeError`` (what Flask raises here) and a ``ValueError`` (what Quart
    raises), so code written for either catches it.
    """


class _AsyncFile(Protocol):
    async def read(self, size: int = -1, /) -> bytes: ...

    async def seek(self, offset: int, whence: int = 0, /) -> int: ...

    async def aclose(self) -> None: ...


class _InMemoryFile:
    """An in-memory file (``BytesIO``) behind the async file interface; reading memory
    never blocks, so no worker thread is involved."""

    def __init__(self, file: IO[bytes]) -> None:
        #: The file itself (trio's wrappers call it ``wrapped`` too).
        self.wrapped = file

    async def read(self, size: int = -1, /) -> bytes:
        await trio.lowlevel.checkpoint()
        return self.wrapped.read(size)

    async def seek(self, offset: int, whence: int = 0, /) -> int:
        return self.wrapped.seek(offset, whence)

    async def aclose(self) -> None:
        self.wrapped.close()


class _FileBody:
    """The response body: ``length`` bytes from ``offset`` of the file that ``open_file``
    opens (all of it up to the end when ``length`` is None), in pieces of ``CHUNK_SIZE``.

    Each ``async for`` opens the file when it asks for the first piece and closes it after
    the last one, or when it is closed early (``aclose``: a client that went away, a
    response timeout).
    """

    def __init__(
        self,
        open_file: Callable[[], Awaitable[_AsyncFile]],
        offset: int,
        length: int | None,
        description: str,
    ) -> None:
        self.open_file = open_file
        self.offset = offset
        self.length = length
        self.description = description

    def __aiter__(self) -> _FileChunks:
        return _FileChunks(self)


class _FileChunks:
    """One pass over a :class:`_FileBody`.

    An iterator object rather than an async generator, so that an iteration that is simply
    dropped still lets go of the file: if neither the end nor ``aclose`` was reached, the
    file is closed when the iterator is garbage collected.
    """

    def __init__(self, body: _FileBody) -> None:
        self._body = body
        self._file: _AsyncFile | None = None
        self._remaining = body.length
        self._finished = False

    def __aiter__(self) -> _FileChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._finished:
            raise StopAsyncIteration
        try:
            chunk = await self._read()
        except BaseException:
            await self.aclose()
            raise
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def _read(self) -> bytes:
        if self._file is None:
            self._file = await self._body.open_file()
            if self._body.offset:
                await self._file.seek(self._body.offset)
        remaining = self._remaining
        if remaining == 0:
            return b""
        chunk = await self._file.read(
            CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
        )
        if remaining is not None:
            if not chunk:
                # The headers promised more: fail rather than end the body early, so the
                # connection is closed and the client sees the response incomplete.
                raise OSError(
                    f"{self._body.description} ended {remaining} bytes early while it was"
                    " being sent."
                )
            self._remaining = remaining - len(chunk)
        return chunk

    async def aclose(self) -> None:
        """Stop here and close the file."""
        self._finished = True
        file, self._file = self._file, None
        if file is not None:
            await file.aclose()

    def __del__(self) -> None:
        file = self._file
        wrapped = getattr(file, "wrapped", None)
        if wrapped is not None:
            # Closing a file descriptor does not block; this runs only for an iteration
            # that was abandoned without aclose().
            wrapped.close()


class _Validators:
    """What the conditional headers are compared with: the response's entity tag
    (unquoted, and whether it is weak) and its modification time (whole seconds, UTC)."""

    def __init__(self, response: Response) -> None:
        etag = response.headers.get("ETag")
        self.etag: str | None = None
        self.weak = False
        if etag is not None:
            self.etag, self.weak = unquote_etag(etag)
        self.last_modified: datetime | None = response.last_modified

    def if_match_fails(self, header: str) -> bool:
        """``If-Match``: true when none of the listed tags strongly matches (``*`` matches
        any existing file)."""
        wanted = parse_etags(header)
        if wanted.star_tag:
            return False
        return self.etag is None or self.weak or not wanted.contains(self.etag)

    def if_unmodified_since_fails(self, header: str) -> bool:
        """``If-Unmodified-Since``: true when the file changed after that date (ignored when
        the date does not parse or the modification time is unknown)."""
        since = parse_date(header)
        return since is not None and self.last_modified is not None and self.last_modified > since

    def if_range_holds(self, header: str) -> bool:
        """``If-Range``: the range applies only if the representation is unchanged: a strong
        tag equal to ours, or a date equal to our ``Last-Modified``."""
        if_range = parse_if_range_header(header)
        if if_range.etag is not None:
            # werkzeug drops the weak marker; a weak tag never validates a range.
            if header.lstrip().startswith("W/"):
                return False
            return self.etag is not None and not self.weak and if_range.etag == self.etag
        if if_range.date is not None:
            return self.last_modified is not None and self.last_modified == if_range.date
        return False


def _content_disposition(download_name: str) -> dict[str, str]:
    """The ``filename`` parameter, plus RFC 5987's ``filename*`` for a non-ASCII name (with
    an ASCII approximation in ``filename`` for clients that ignore it)."""
    if download_name.isascii():
        return {"filename": download_name}
    approximation = unicodedata.normalize("NFKD", download_name)
    approximation = approximation.encode("ascii", "ignore").decode("ascii")
    # Everything but RFC 5987's attr-char is percent-encoded.
    encoded = quote(download_name, safe="!#$&+-.^_`|~")
    return {"filename": approximation, "filename*": f"UTF-8''{encoded}"}


def _resolve(path: str | os.PathLike[str]) -> str:
    """An absolute path: a relative one is taken from the current app's ``root_path`` (as
    Flask does), or from the working directory outside an app context."""
    path = os.fspath(path)
    app_ctx = _cv_app.get()
    if app_ctx is not None:
        return os.path.join(app_ctx.app.root_path, path)
    return os.path.abspath(path)


def _pick(new: Any, old: Any, new_name: str, old_name: str, default: Any) -> Any:
    """The value of a parameter that has a Flask name and an older Quart name."""
    if old is not None and new is not default and new != old:
        raise TypeError(f"Give {new_name!r} or {old_name!r}, not both.")
    return old if old is not None else new


async def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes] | Any,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: MaxAge = None,
    *,
    attachment_filename: str | None = None,
    cache_timeout: int | None = None,
    add_etags: bool | None = None,
) -> Response:
    """A response that sends a file, streamed from disk in pieces.

    :param path_or_file: A path (relative paths are relative to the app's ``root_path``),
        or a file object opened in binary mode: ``io.BytesIO``, a file from ``open(...,
        "rb")`` (read through trio's worker threads) or an async file such as
        ``await trio.open_file(...)``. A file object is sent from its current position and
        closed once sent. Never pass a path that came from the client; that is what
        :func:`send_from_directory` is for.
    :param mimetype: The ``Content-Type``; guessed from ``download_name`` (or the path) by
        default. A file object needs ``mimetype`` or ``download_name``.
    :param as_attachment: ``Content-Disposition: attachment`` (the browser offers to save
        the file) rather than ``inline``.
    :param download_name: The file name the browser sees; the path's own name by default.
        Non-ASCII names are sent with RFC 5987's ``filename*``.
    :param conditional: Answer conditional and range requests (``If-None-Match``,
        ``Range`` and the others) with 304, 206, 412 or 416 as they call for.
    :param etag: Send an ``ETag`` computed from the path, size and modification time
        (paths only), or, given a string, that string as the entity tag.
    :param last_modified: The ``Last-Modified`` time (a datetime or a POSIX timestamp);
        the file's modification time by default.
    :param max_age: Seconds the client may cache the file (``Cache-Control: public,
        max-age=N`` and ``Expires``), or a callable given the path that returns them. With
        None the app's ``get_send_file_max_age`` decides (``SEND_FILE_MAX_AGE_DEFAULT``,
        None by default), and None means ``Cache-Control: no-cache``: clients revalidate
        with a conditional request each time.
    :param attachment_filename: Quart's older name for ``download_name``.
    :param cache_timeout: Quart's older name for ``max_age``.
    :param add_etags: Quart's older name for ``etag``.
    """
    download_name = _pick(
        download_name, attachment_filename, "download_name", "attachment_filename", None
    )
    max_age = _pick(max_age, cache_timeout, "max_age", "cache_timeout", None)
    if add_etags is not None:
        etag = _pick(etag, add_etags, "etag", "add_etags", True)

    path: str | None = None
    size: int | None = None
    offset = 0
    mtime: float | None = None
    file: _AsyncFile | None = None

    if isinstance(path_or_file, str | os.PathLike):
        path = _resolve(path_or_file)
        info = await trio.Path(path).stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{path} is a directory, not a file to send.")
        size, mtime = info.st_size, info.st_mtime
        if download_name is None:
            download_name = os.path.basename(path)
    elif isinstance(path_or_file, io.TextIOBase):
        raise ValueError("Files must be opened in binary mode (or be io.BytesIO).")
    elif iscoroutinefunction(getattr(path_or_file, "read", None)):
        # An async file (trio.open_file and the like).
        file = cast("_AsyncFile", path_or_file)
        size, offset = await _async_remaining(path_or_file)
    else:
        if isinstance(path_or_file, io.BytesIO):
            file = _InMemoryFile(path_or_file)
        else:
            file = trio.wrap_file(path_or_file)
        size, offset = _remaining(path_or_file)

    headers = Headers()
    if mimetype is None:
        if download_name is None:
            raise MimetypeUnknownError(
                "Cannot tell the MIME type of a file object: give 'mimetype' or 'download_name'."
            )
        mimetype, encoding = mimetypes.guess_type(download_name)
        if mimetype is None:
            mimetype = "application/octet-stream"
        # A browser saving an attachment would decompress it (a .tar.gz), so only inline.
        if encoding is not None and not as_attachment:
            headers["Content-Encoding"] = encoding

    if download_name is not None:
        headers.set(
            "Content-Disposition",
            "attachment" if as_attachment else "inline",
            **_content_disposition(download_name),
        )
    elif as_attachment:
        raise TypeError("An attachment needs a name: give 'download_name' or pass a path.")

    if file is not None:
        given = file

        async def open_file() -> _AsyncFile:
            return given

        body = _FileBody(open_file, offset, size, "The file object")
    else:
        assert path is not None
        opened_path = path

        async def open_file() -> _AsyncFile:
            return await trio.open_file(opened_path, "rb")

        body = _FileBody(open_file, 0, size, opened_path)

    app_ctx = _cv_app.get()
    response_class = app_ctx.app.response_class if app_ctx is not None else Response
    response = response_class(body, headers=headers, mimetype=mimetype)
    if last_modified is not None:
        response.last_modified = last_modified  # type: ignore[assignment]
    elif mtime is not None:
        response.last_modified = mtime  # type: ignore[assignment]

    if max_age is None and app_ctx is not None:
        max_age = app_ctx.app.get_send_file_max_age
    if callable(max_age):
        max_age = max_age(path)
    response.cache_control.no_cache = True
    if max_age is not None:
        if max_age > 0:
            response.cache_control.no_cache = None
            response.cache_control.public = True
        response.cache_control.max_age = max_age
        response.expires = int(time() + max_age)  # type: ignore[assignment]

    if isinstance(etag, str):
        response.set_etag(etag)
    elif etag and path is not None:
        response.set_etag(generate_etag(f"{path}\0{size}\0{mtime}".encode()))

    if size is not None:
        response.headers["Content-Length"] = str(size)
        if conditional:
            response.headers["Accept-Ranges"] = "bytes"

    req_ctx = _cv_request.get()
    if req_ctx is None:
        return response
    method = req_ctx.request.method
    if conditional and method in {"GET", "HEAD"}:
        try:
            status, start, length = _evaluate_conditions(
                req_ctx.request.headers, method, response, size
            )
        except (PreconditionFailed, RequestedRangeNotSatisfiable):
            if file is not None:
                await file.aclose()
            raise
        if status == 304:
            if file is not None:
                await file.aclose()
            response.set_data(b"")
            response.status_code = 304
            # Only the validators and caching headers: nothing describes a body.
            remove_entity_headers(response.headers)
            response.headers.pop("Accept-Ranges", None)
            return response
        if status == 206:
            assert size is not None and length is not None
            response.status_code = 206
            body.offset += start
            body.length = length
            response.headers["Content-Length"] = str(length)
            response.headers["Content-Range"] = ContentRange(
                "bytes", start, start + length, size
            ).to_header()

    if method == "HEAD":
        # No body goes out, so none is needed: nothing is opened (and a given file object
        # is closed now), but the headers still say what a GET would send.
        if file is not None:
            await file.aclose()
        content_length = response.headers.get("Content-Length")
        response.set_data(b"")
        if content_length is None:
            del response.headers["Content-Length"]
        else:
            response.headers["Content-Length"] = content_length
    return response


def _remaining(file: IO[bytes]) -> tuple[int | None, int]:
    """``(bytes from the current position to the end, current position)`` of a sync file;
    the size is None when the file cannot seek."""
    seekable = getattr(file, "seekable", None)
    if seekable is None or not seekable():
        return None, 0
    position = file.tell()
    end = file.seek(0, os.SEEK_END)
    file.seek(position)
    return max(end - position, 0), position


async def _async_remaining(file: Any) -> tuple[int | None, int]:
    """:func:`_remaining` for an async file."""
    seekable = getattr(file, "seekable", None)
    if seekable is None or not seekable():
        return None, 0
    position: int = await file.tell()
    end: int = await file.seek(0, os.SEEK_END)
    await file.seek(position)
    return max(end - position, 0), position


def _evaluate_conditions(
    headers: Headers, method: str, response: Response, size: int | None
) -> tuple[int, int, int | None]:
    """Apply the request's preconditions and range, in RFC 9110's order (section 13.2.2).

    Returns ``(status, start, length)``: 200 for the whole file, 206 for the part from
    ``start``, or 304 (no body). A failed ``If-Match`` or ``If-Unmodified-Since`` raises 412;
    a range that cannot be served raises 416.
    """
    validators = _Validators(response)

    if_match = headers.get("If-Match")
    if_unmodified_since = headers.get("If-Unmodified-Since")
    if if_match is not None:
        if validators.if_match_fails(if_match):
            raise PreconditionFailed()
    elif if_unmodified_since is not None and validators.if_unmodified_since_fails(
        if_unmodified_since
    ):
        raise PreconditionFailed()

    if_none_match = headers.get("If-None-Match")
    if_modified_since = headers.get("If-Modified-Since")
    if if_none_match is not None or if_modified_since is not None:
        # A tag list in If-None-Match makes the server ignore If-Modified-Since.
        if not is_resource_modified(
            http_if_none_match=if_none_match,
            http_if_modified_since=if_modified_since if if_none_match is None else None,
            etag=response.headers.get("ETag"),
            last_modified=validators.last_modified,
        ):
            return 304, 0, None
        if if_none_match is not None and parse_etags(if_none_match).star_tag:
            # "*" matches any current representation, with or without an ETag.
            return 304, 0, None

    whole = (200, 0, size)
    range_header = headers.get("Range")
    if range_header is None or method != "GET" or not size:
        # Ranges apply to GET only, and need a known, non-zero length.
        return whole
    if_range = headers.get("If-Range")
    if if_range is not None and not validators.if_range_holds(if_range):
        return whole

    parsed = parse_range_header(range_header)
    if parsed is None:
        unit = range_header.partition("=")[0].strip().lower()
        if unit == "bytes":
            raise RequestedRangeNotSatisfiable(length=size)  # malformed byte ranges
        return whole  # a range unit we do not know is ignored
    if parsed.units != "bytes":
        return whole
    if len(parsed.ranges) != 1:
        # One part at a time: no multipart/byteranges.
        raise RequestedRangeNotSatisfiable(length=size)
    first, stop = parsed.ranges[0]
    if first < 0:
        # The suffix form bytes=-N: the last N bytes, or the whole file if it is shorter.
        start = max(size + first, 0)
        end = size
    else:
        if first >= size:
            raise RequestedRangeNotSatisfiable(length=size)
        start = first
        end = size if stop is None else min(stop, size)
    return 206, start, end - start


async def send_from_directory(
    directory: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
) -> Response:
    """Send the file at ``path`` inside ``directory`` with :func:`send_file`.

    ``path`` may come from the client (a URL part): werkzeug's :func:`safe_join` refuses
    anything that would leave ``directory`` (``..`` segments, absolute paths), and any such
    path, a missing file or a directory raises :class:`~werkzeug.exceptions.NotFound`.
    ``directory`` itself must be trusted; a relative one is taken from the app's
    ``root_path``. The other keyword arguments go to :func:`send_file`.
    """
    joined = safe_join(os.fspath(directory), os.fspath(path))
    if joined is None:
        raise NotFound()
    full_path = _resolve(joined)
    if not await trio.Path(full_path).is_file():
        raise NotFound()
    return await send_file(full_path, **kwargs)
