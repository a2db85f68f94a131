"""The file-system artifact store: content-addressed, streamed in, never overwritten."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from store.artifacts import FileArtifactStore, TooLarge


async def put(store: FileArtifactStore, *chunks: bytes, limit: int = 1000) -> str:
    upload = store.receive(max_bytes=limit)
    for chunk in chunks:
        await upload.write(chunk)
    sha = await upload.finish()
    await upload.commit()
    return sha


async def read(store: FileArtifactStore, sha: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha)])


async def test_an_artifact_is_kept_under_its_hash_and_read_back(tmp_path: Path) -> None:
    store = FileArtifactStore(tmp_path)
    sha = await put(store, b"hello ", b"world")
    assert sha == hashlib.sha256(b"hello world").hexdigest()
    assert await store.contains(sha)
    assert await read(store, sha) == b"hello world"
    assert store.stored() == [tmp_path / "sha256" / sha[:2] / sha]


async def test_the_same_bytes_again_leave_the_stored_file_as_it_was(tmp_path: Path) -> None:
    store = FileArtifactStore(tmp_path)
    sha = await put(store, b"capture")
    first = store.path_of(sha).stat()
    assert await put(store, b"capture") == sha
    again = store.path_of(sha).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert len(store.stored()) == 1


async def test_too_large_or_discarded_uploads_leave_nothing(tmp_path: Path) -> None:
    store = FileArtifactStore(tmp_path)
    upload = store.receive(max_bytes=4)
    await upload.write(b"abc")
    with pytest.raises(TooLarge):
        await upload.write(b"de")
    dropped = store.receive(max_bytes=10)
    await dropped.write(b"abc")
    await dropped.finish()
    await dropped.discard()
    assert store.stored() == []


@pytest.mark.parametrize("name", ["../etc/passwd", "ABC", "a" * 63, ""])
async def test_only_a_sha256_names_an_artifact(tmp_path: Path, name: str) -> None:
    store = FileArtifactStore(tmp_path)
    with pytest.raises(KeyError):
        store.path_of(name)
    with pytest.raises(KeyError):
        await read(store, "0" * 64)
