"""Artifacts: bytes addressed by their SHA-256, behind an interface an object store can implement.

An upload is received into a temporary place while it streams (hashed and counted on the
way), then either committed under its hash or discarded; a committed artifact is never
overwritten (the same bytes have the same name). The client's file name is never a path here.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from anyio import to_thread

from domain.media_types import HEAD_BYTES

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
CHUNK_BYTES = 64 * 1024


class TooLarge(Exception):
    """The upload went past its size limit; what was received is discarded."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class Upload(Protocol):
    """One artifact being received: written chunk by chunk, then committed or discarded."""

    sha256: str
    size: int
    head: bytes

    async def write(self, chunk: bytes) -> None:
        """Add bytes; TooLarge (and nothing kept) past the limit."""

    async def finish(self) -> str:
        """End the stream; returns the SHA-256 (nothing is visible under it yet)."""

    async def commit(self) -> None:
        """Keep the artifact under its SHA-256 (the same bytes already there stay as they are)."""

    async def discard(self) -> None:
        """Drop what was received."""


class ArtifactStore(Protocol):
    """Content-addressed artifacts: received as a stream, read back by SHA-256."""

    def receive(self, *, max_bytes: int) -> Upload:
        """Start receiving one artifact of at most `max_bytes`."""

    def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The artifact's bytes, in chunks; KeyError when there is none."""

    async def contains(self, sha256: str) -> bool:
        """Whether an artifact with this SHA-256 is stored."""


class _FileUpload:
    """An upload into a temporary file of the store's directory (renamed on commit)."""

    def __init__(self, store: FileArtifactStore, max_bytes: int) -> None:
        self._store = store
        self._limit = max_bytes
        self._hash = hashlib.sha256()
        self._path = store.incoming / f"{secrets.token_hex(16)}.part"
        self._file = open(self._path, "xb")  # noqa: SIM115 - closed by finish or discard
        self.size = 0
        self.head = b""
        self.sha256 = ""

    async def write(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self._limit:
            await self.discard()
            raise TooLarge(self._limit)
        self.size += len(chunk)
        self._hash.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        await to_thread.run_sync(self._file.write, chunk)

    async def finish(self) -> str:
        await to_thread.run_sync(self._flush)
        self.sha256 = self._hash.hexdigest()
        return self.sha256

    def _flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    async def commit(self) -> None:
        if not self.sha256:
            raise RuntimeError("finish the upload before committing it")
        await to_thread.run_sync(self._commit)

    def _commit(self) -> None:
        target = self._store.path_of(self.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # A hard link fails on an existing name, so a stored artifact is never replaced.
            os.link(self._path, target)
        except FileExistsError:
            pass
        finally:
            self._path.unlink(missing_ok=True)

    async def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class FileArtifactStore:
    """Artifacts as files under a directory: `<root>/sha256/<2 hex>/<64 hex>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"

    def path_of(self, sha256: str) -> Path:
        """Where the artifact with this SHA-256 lives (the hash is checked first)."""
        if SHA256_PATTERN.match(sha256) is None:
            raise KeyError(sha256)
        return self.root / "sha256" / sha256[:2] / sha256

    def receive(self, *, max_bytes: int) -> Upload:
        """Start receiving one artifact into a temporary file."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        return _FileUpload(self, max_bytes)

    async def contains(self, sha256: str) -> bool:
        """Whether the artifact is stored."""
        return await to_thread.run_sync(self.path_of(sha256).is_file)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The artifact's bytes in chunks; KeyError when it is not stored."""
        path = self.path_of(sha256)
        try:
            handle = await to_thread.run_sync(path.open, "rb")
        except FileNotFoundError as exc:
            raise KeyError(sha256) from exc
        try:
            while chunk := await to_thread.run_sync(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    def stored(self) -> list[Path]:
        """Every file under the store, committed or still incoming (for checks and tests)."""
        return sorted(p for p in self.root.rglob("*") if p.is_file())
