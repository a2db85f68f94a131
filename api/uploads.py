"""Reading one file out of a multipart body as it arrives, never holding the body whole."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from api.problems import ProblemError
from domain.problems import Problem

FILE_FIELD = "file"
# A multipart body holds the file and, at most, a few small headers around it.
MAX_HEADERS = 8


@dataclass
class _Part:
    """What the parser has said about the current part."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    field_name: bytes = b""
    header_value: bytes = b""
    name: str | None = None
    file_name: str | None = None


@dataclass
class TextProbe:
    """Whether streamed bytes are UTF-8 text (and whether any of it is not blank)."""

    text: bool = True
    blank: bool = True
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")()
    )

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        """Judge the next chunk (`final`: the stream ended)."""
        if not self.text:
            return
        try:
            decoded = self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            self.text = False
            return
        if any(ord(c) < 32 and c not in "\t\n\r\f" for c in decoded):
            self.text = False
        if self.blank and decoded.strip():
            self.blank = False


class MultipartFile:
    """The `file` part of a multipart/form-data request: its file name, then its bytes."""

    def __init__(self, request: Request) -> None:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise ProblemError(415, "send the file as multipart/form-data, in a part named `file`")
        self._stream = request.stream()
        self._part = _Part()
        self._ready: list[bytes] = []
        self._found = False
        self._done = False
        self._ended = False
        self.file_name: str | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            max_header_count=MAX_HEADERS,
        )

    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._part.field_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._part.header_value += data[start:end]

    def _header_end(self) -> None:
        part = self._part
        part.headers[part.field_name.lower()] = part.header_value
        part.field_name, part.header_value = b"", b""

    def _headers_finished(self) -> None:
        part = self._part
        _kind, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        part.name = name.decode("utf-8", "replace") if name is not None else None
        file_name = options.get(b"filename")
        part.file_name = file_name.decode("utf-8", "replace") if file_name is not None else None
        if part.name == FILE_FIELD and not self._found:
            self._found = True
            self.file_name = part.file_name if part.file_name is not None else ""

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part.name == FILE_FIELD and not self._done:
            self._ready.append(data[start:end])

    def _part_end(self) -> None:
        if self._part.name == FILE_FIELD:
            self._done = True

    def _end(self) -> None:
        self._ended = True

    async def _feed(self) -> bool:
        """Parse the next chunk of the body; False when the body has ended."""
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            return False
        try:
            self._parser.write(chunk)
        except Exception as exc:  # the parser's own errors name the malformed part
            raise ProblemError(400, f"the multipart body is malformed: {exc}", problems=[]) from exc
        return True

    async def start(self) -> str:
        """Read up to the file part's headers; its file name as given."""
        while not self._found:
            if not await self._feed():
                raise ProblemError(
                    422,
                    "no file in the request",
                    problems=[Problem(pointer="/file", detail="send the file in a part `file`")],
                )
        return self.file_name or ""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive."""
        while True:
            while self._ready:
                yield self._ready.pop(0)
            if self._done or not await self._feed():
                break
        while self._ready:
            yield self._ready.pop(0)
        if not self._done:
            raise ProblemError(400, "the multipart body ended inside the file")
