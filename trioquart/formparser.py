"""Form parsing as the body arrives: urlencoded and multipart (werkzeug's sans-IO decoder).

Multipart is decoded chunk by chunk while the client uploads; file parts go to spooled
temporary files (in memory up to 500 KB, then on disk, written through trio's worker threads)
and come out as :class:`trioquart.datastructures.FileStorage`. Field values count against
``MAX_FORM_MEMORY_SIZE`` and parts against ``MAX_FORM_PARTS``; breaking either is a 413,
malformed multipart a 400.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import IO, Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .datastructures import FileStorage, new_spooled_file, write_stream

_PIECE = 64 * 1024

FormData = tuple[MultiDict[str, str], MultiDict[str, FileStorage]]


class FormDataParser:
    """Parse a request body into ``(form, files)`` from an async stream of chunks."""

    def __init__(self, max_form_memory_size: int | None, max_form_parts: int | None) -> None:
        self.max_form_memory_size = max_form_memory_size
        self.max_form_parts = max_form_parts

    async def parse(
        self,
        chunks: AsyncIterable[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str],
    ) -> FormData:
        if mimetype == "application/x-www-form-urlencoded":
            return await self._parse_urlencoded(chunks, content_length), MultiDict()
        if mimetype == "multipart/form-data":
            boundary = options.get("boundary", "").encode("latin-1")
            if not boundary:
                raise BadRequest("Missing boundary in multipart/form-data content type.")
            return await self._parse_multipart(chunks, boundary, content_length)
        return MultiDict(), MultiDict()

    async def _parse_urlencoded(
        self, chunks: AsyncIterable[bytes], content_length: int | None
    ) -> MultiDict[str, str]:
        limit = self.max_form_memory_size
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if limit is not None and len(buffer) > limit:
                raise RequestEntityTooLarge()
        try:
            items = parse_qsl(
                buffer.decode(),
                keep_blank_values=True,
                errors="werkzeug.url_quote",
                max_num_fields=self.max_form_parts,
            )
        except ValueError as error:
            if "Max number of fields" in str(error):
                raise RequestEntityTooLarge() from error
            raise BadRequest("The form body is not valid UTF-8.") from error
        return MultiDict(items)

    async def _parse_multipart(
        self, chunks: AsyncIterable[bytes], boundary: bytes, content_length: int | None
    ) -> FormData:
        helper = MultiPartParser(max_form_memory_size=self.max_form_memory_size)
        decoder = MultipartDecoder(
            boundary, max_form_memory_size=self.max_form_memory_size, max_parts=self.max_form_parts
        )
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        part: Field | File | None = None
        buffer: list[bytes] = []
        container: IO[bytes] | None = None
        field_size = 0
        ended = False

        def next_event() -> Any:
            try:
                return decoder.next_event()
            except ValueError as error:
                # werkzeug raises ValueError for malformed input; its limits raise 413.
                raise BadRequest("Malformed multipart/form-data body.") from error

        async def feed(data: bytes | None) -> None:
            nonlocal part, container, field_size, ended
            decoder.receive_data(data)
            event = next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, Epilogue):
                    ended = True
                    return
                if isinstance(event, Field):
                    part, buffer[:], field_size = event, [], 0
                elif isinstance(event, File):
                    part, field_size = event, 0
                    # A part must have a name (RFC 7578); one without is read past, not
                    # kept, so the form's keys are always strings.
                    container = new_spooled_file() if event.name is not None else None
                elif isinstance(event, Data):
                    if isinstance(part, Field):
                        field_size += len(event.data)
                        limit = self.max_form_memory_size
                        if limit is not None and field_size > limit:
                            raise RequestEntityTooLarge()
                        buffer.append(event.data)
                        if not event.more_data and part.name is not None:
                            charset = helper.get_part_charset(part.headers)
                            fields.append((part.name, b"".join(buffer).decode(charset, "replace")))
                    elif isinstance(part, File) and container is not None:
                        # Past SPOOL_MAX_SIZE the container is a file on disk, written
                        # through a worker thread.
                        await write_stream(container, event.data)
                        if not event.more_data:
                            container.seek(0)
                            storage = FileStorage(
                                container, part.filename, part.name, headers=part.headers
                            )
                            files.append((part.name, storage))
                            container = None
                event = next_event()

        try:
            async for chunk in chunks:
                # werkzeug's decoder holds back at most one piece while it looks for a
                # boundary, and counts that against max_form_memory_size: feed it pieces
                # of the size its own parser uses.
                for start in range(0, len(chunk), _PIECE):
                    if not ended:
                        await feed(chunk[start : start + _PIECE])
            if not ended:
                await feed(None)
        except BaseException:
            for _, storage in files:
                storage.close()
            if container is not None:
                container.close()
            raise
        if not ended:
            raise BadRequest("The multipart/form-data body ended before its closing boundary.")
        return MultiDict(fields), MultiDict(files)
