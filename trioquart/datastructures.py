"""Data structures with async I/O: the uploaded file, :class:`FileStorage`."""

from __future__ import annotations

import io
import os
from collections.abc import Awaitable
from inspect import isawaitable
from tempfile import SpooledTemporaryFile
from typing import IO, Any, Protocol

import trio
from werkzeug.datastructures import FileStorage as _WerkzeugFileStorage

__all__ = ["SPOOL_MAX_SIZE", "FileStorage"]


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Awaitable[Any] | Any: ...


#: Uploaded files are kept in memory up to this size, then spooled to a temporary file.
SPOOL_MAX_SIZE = 500 * 1024


def new_spooled_file() -> IO[bytes]:
    """A temporary file that stays in memory up to :data:`SPOOL_MAX_SIZE` bytes."""
    return SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="rb+")


def in_memory(stream: IO[bytes]) -> bool:
    """Whether I/O on ``stream`` only touches memory (so it never blocks)."""
    if isinstance(stream, io.BytesIO):
        return True
    return isinstance(stream, SpooledTemporaryFile) and not getattr(stream, "_rolled", True)


async def write_stream(stream: IO[bytes], data: bytes) -> None:
    """Write ``data`` to ``stream``: directly while it is in memory, in a worker thread (as
    trio's own file objects do) once it is a file on disk."""
    if in_memory(stream):
        await trio.lowlevel.checkpoint()
        stream.write(data)
    else:
        await trio.to_thread.run_sync(stream.write, data)


async def read_stream(stream: IO[bytes], size: int) -> bytes:
    """Read up to ``size`` bytes from ``stream``, like :func:`write_stream` writes."""
    if in_memory(stream):
        await trio.lowlevel.checkpoint()
        return stream.read(size)
    return await trio.to_thread.run_sync(stream.read, size)


class FileStorage(_WerkzeugFileStorage):
    """An uploaded file, as found in ``await request.files``.

    It is werkzeug's ``FileStorage`` (``filename``, ``name``, ``content_type``,
    ``mimetype``, ``headers``, ``stream``, ``read()`` ...) except that :meth:`save` and
    :meth:`load` are async and use trio's file I/O. The data lives in ``stream``: in memory
    for small uploads, in a temporary file on disk past 500 KB.
    """

    async def save(  # type: ignore[override]
        self, destination: str | os.PathLike[str] | _Writable, buffer_size: int = 16384
    ) -> None:
        """Copy the file's data to ``destination``: a path (the file is created or
        truncated), or an object with a ``write`` method, async (a trio file) or not.

        The copy starts from the stream's current position, which is the start of the data
        for a file that was just uploaded. The destination is not closed if it was given as
        an object.
        """
        if isinstance(destination, str | os.PathLike):
            async with await trio.open_file(destination, "wb") as target:
                await self._copy_to(target, buffer_size)
        else:
            await self._copy_to(destination, buffer_size)

    async def _copy_to(self, target: _Writable, buffer_size: int) -> None:
        while chunk := await read_stream(self.stream, buffer_size):
            result = target.write(chunk)
            if isawaitable(result):
                await result
            else:
                await trio.lowlevel.checkpoint()

    async def load(self, source: str | os.PathLike[str], buffer_size: int = 16384) -> None:
        """Replace the file's data with the contents of the file at ``source`` (read with
        trio's file I/O), kept in a spooled temporary file, and rewind it. Quart has this;
        it is handy for building a ``FileStorage`` in tests."""
        stream = new_spooled_file()
        try:
            async with await trio.open_file(source, "rb") as origin:
                while chunk := await origin.read(buffer_size):
                    await write_stream(stream, chunk)
            stream.seek(0)
        except BaseException:
            stream.close()
            raise
        previous, self.stream = self.stream, stream
        previous.close()
