"""Where uploaded files live: local disk by default, an S3-compatible bucket when configured.

Domains store and read bytes through `get_storage()`; only this module knows where they go. Keys are
made by the application (`<org_id>/<upload_id>`), never from a file name a person chose.

The S3 implementation (`TACK_S3_BUCKET` set) is a documented stub: its methods raise until it is
written; the interface is what it must fill in.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tack.core.config import get_settings
from tack.core.errors import PayloadTooLarge


@dataclass(frozen=True)
class Stored:
    size: int
    sha256: str


class Storage(Protocol):
    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Stored:
        """Store the bytes under `key`; raise PayloadTooLarge (keeping nothing) past `max_bytes`."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path to serve the file from, when it is on this machine's disk."""
        ...

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes, in chunks."""
        ...

    async def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under a directory (TACK_VAR_DIR/uploads), written to a temporary name and then renamed,
    so a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Stored:
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(open, partial, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"The file is larger than {max_bytes} bytes.", code="file_too_large",
                        details={"max_bytes": max_bytes},
                    )
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return Stored(size=size, sha256=digest.hexdigest())

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Storage:
    """An S3-compatible bucket (MinIO, Ceph, AWS). Not written yet: configuring it fails loudly at
    the first upload rather than losing files silently."""

    def __init__(self, bucket: str, endpoint: str, region: str) -> None:
        self.bucket, self.endpoint, self.region = bucket, endpoint, region

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Stored:
        raise NotImplementedError("S3-compatible storage is not implemented yet; unset TACK_S3_BUCKET")

    def local_path(self, key: str) -> Path | None:
        return None

    async def read(self, key: str) -> AsyncIterator[bytes]:
        raise NotImplementedError("S3-compatible storage is not implemented yet; unset TACK_S3_BUCKET")
        yield b""  # pragma: no cover - makes this an async generator like the others

    async def delete(self, key: str) -> None:
        raise NotImplementedError("S3-compatible storage is not implemented yet; unset TACK_S3_BUCKET")


_storage: Storage | None = None


def get_storage() -> Storage:
    global _storage
    if _storage is None:
        settings = get_settings()
        if settings.s3_bucket:
            _storage = S3Storage(settings.s3_bucket, settings.s3_endpoint, settings.s3_region)
        else:
            _storage = LocalStorage(settings.var_dir / "uploads")
    return _storage


def set_storage(storage: Storage | None) -> None:
    global _storage
    _storage = storage
