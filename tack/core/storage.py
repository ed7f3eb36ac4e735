"""Where uploaded files live: local disk by default, an S3-compatible bucket when configured.

Domains store and read bytes through `get_storage()`; only this module knows where they go. Keys are
made by the application (`<org_id>/<upload_id>`), never from a file name a person chose.

`LocalStorage` keeps files under `TACK_VAR_DIR/uploads`. `S3Storage` (`TACK_S3_BUCKET` set, with
`TACK_S3_ENDPOINT`, `TACK_S3_REGION` and optionally `TACK_S3_ACCESS_KEY_ID` /
`TACK_S3_SECRET_ACCESS_KEY`, else boto3's own AWS_* variables and files) keeps them in a bucket;
its `local_path()` is None, so downloads are streamed through the app. Either way a failed or
oversized `put()` keeps nothing, and a store that cannot be used raises `StorageUnavailable` (503,
`storage_unavailable`) instead of a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from tack.core.config import get_settings
from tack.core.errors import PayloadTooLarge, TackError

log = structlog.get_logger(__name__)


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
        """The stored bytes, in chunks; FileNotFoundError when nothing is stored under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file; removing one that is not there is not an error."""
        ...


class _Measured:
    """Counts and hashes the bytes of an upload as they pass, and stops it past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"The file is larger than {self.max_bytes} bytes.", code="file_too_large",
                details={"max_bytes": self.max_bytes},
            )
        self.digest.update(chunk)

    def stored(self) -> Stored:
        return Stored(size=self.size, sha256=self.digest.hexdigest())


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
        measured = _Measured(max_bytes)
        handle = await asyncio.to_thread(open, partial, "wb")
        try:
            async for chunk in chunks:
                measured.add(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return measured.stored()

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


class StorageUnavailable(TackError):
    """The file store could not be used: unreachable, no such bucket, or access refused.

    `details.reason` says which (`unreachable`, `no_such_bucket`, `access_denied`, `no_credentials`,
    `error`); the log has the store's own message. A put that fails this way leaves no object.
    """

    status_code = 503
    code = "storage_unavailable"
    message = "File storage is not available right now. Try again later."


class S3Storage:
    """An S3-compatible bucket (MinIO, Ceph, AWS), through boto3 run in threads.

    A file is sent with one PUT when it fits in a part, otherwise as a multipart upload that is
    completed only after the last byte (and the size limit) passed, and aborted on any error, so the
    key either holds the whole file or nothing. S3 has no partial objects, so a reader never sees
    half a file either.
    """

    # S3 takes at most 10,000 parts, each at least 5 MiB except the last.
    MIN_PART_SIZE = 5 * 1024 * 1024
    MAX_PARTS = 10_000
    READ_CHUNK = 256 * 1024

    def __init__(
        self,
        bucket: str,
        endpoint: str = "",
        region: str = "us-east-1",
        *,
        access_key_id: str = "",
        secret_access_key: str = "",
        part_size: int = 8 * 1024 * 1024,
        max_attempts: int = 3,
    ) -> None:
        self.bucket, self.endpoint, self.region = bucket, endpoint, region
        self._access_key_id, self._secret_access_key = access_key_id or None, secret_access_key or None
        self.part_size = max(part_size, self.MIN_PART_SIZE)
        self.max_attempts = max_attempts
        self._client: Any = None
        self._client_lock = threading.Lock()

    # ---- the client, used only in worker threads ----

    def _s3(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # Empty keys leave boto3 to its usual sources: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
                # ~/.aws, or the instance's role.
                session = boto3.session.Session(
                    aws_access_key_id=self._access_key_id,
                    aws_secret_access_key=self._secret_access_key,
                    region_name=self.region or None,
                )
                config = Config(
                    # MinIO and Ceph are reached by host name or address, where bucket.host does not
                    # resolve; path-style addressing works on every S3-compatible store.
                    s3={"addressing_style": "path" if self.endpoint else "auto"},
                    signature_version="s3v4",
                    connect_timeout=5,
                    read_timeout=60,
                    retries={"mode": "standard", "max_attempts": self.max_attempts},
                    # Newer botocore adds CRC checksums by default, which several S3-compatible
                    # stores reject; send them only where the API requires one.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
                self._client = session.client("s3", endpoint_url=self.endpoint or None, config=config)
            return self._client

    async def _call(self, operation: str, key: str, **params: Any) -> Any:
        def invoke() -> Any:
            return getattr(self._s3(), operation)(Bucket=self.bucket, Key=key, **params)

        try:
            return await asyncio.to_thread(invoke)
        except Exception as exc:
            translated = self._translate(operation, key, exc)
            if translated is exc:
                raise
            raise translated from exc

    def _translate(self, operation: str, key: str, exc: Exception) -> Exception:
        """The store's error as FileNotFoundError (no such key) or StorageUnavailable; others unchanged."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "NotFound"):
                return FileNotFoundError(f"no stored file under {key!r}")
            if code == "NoSuchBucket":
                reason = "no_such_bucket"
            elif code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"):
                reason = "access_denied"
            else:
                reason = "error"
        elif isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
            reason = "unreachable"
        elif isinstance(exc, NoCredentialsError):
            reason = "no_credentials"
        elif isinstance(exc, BotoCoreError):
            reason = "error"
        else:
            return exc
        log.warning("storage_error", operation=operation, bucket=self.bucket, endpoint=self.endpoint or "aws",
                    key=key, reason=reason, error=str(exc))
        return StorageUnavailable(details={"reason": reason})

    # ---- the Storage interface ----

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Stored:
        # Parts big enough that a file of max_bytes fits in S3's part count.
        part_size = max(self.part_size, -(-max_bytes // self.MAX_PARTS))
        measured = _Measured(max_bytes)
        pending: list[bytes] = []
        pending_size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def send_part() -> None:
            nonlocal upload_id, pending, pending_size
            if upload_id is None:
                upload_id = (await self._call("create_multipart_upload", key))["UploadId"]
            number = len(parts) + 1
            body = b"".join(pending)
            pending, pending_size = [], 0
            response = await self._call("upload_part", key, UploadId=upload_id, PartNumber=number, Body=body)
            parts.append({"PartNumber": number, "ETag": response["ETag"]})

        try:
            async for chunk in chunks:
                measured.add(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= part_size:
                    await send_part()
            if upload_id is None:
                await self._call("put_object", key, Body=b"".join(pending))
            else:
                if pending_size:
                    await send_part()
                await self._call("complete_multipart_upload", key, UploadId=upload_id,
                                 MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                await self._abort(key, upload_id)
            raise
        return measured.stored()

    async def _abort(self, key: str, upload_id: str) -> None:
        # The thread runs to the end even if this task is cancelled again, so the abort is sent.
        try:
            await self._call("abort_multipart_upload", key, UploadId=upload_id)
        except (StorageUnavailable, FileNotFoundError):
            # Logged by _translate; the bucket's lifecycle rule for incomplete multipart uploads
            # (docs/chat.md) removes what is left.
            pass

    def local_path(self, key: str) -> Path | None:
        return None

    async def read(self, key: str) -> AsyncIterator[bytes]:
        response = await self._call("get_object", key)
        body = response["Body"]
        try:
            while True:
                try:
                    chunk = await asyncio.to_thread(body.read, self.READ_CHUNK)
                except Exception as exc:
                    # Headers are already sent by now; the response is cut short, and its
                    # Content-Length tells the client the file is incomplete.
                    translated = self._translate("get_object", key, exc)
                    if translated is exc:
                        raise
                    raise translated from exc
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        # S3 answers a delete of a missing key with success, so deleting twice is fine.
        await self._call("delete_object", key)


_storage: Storage | None = None


def get_storage() -> Storage:
    global _storage
    if _storage is None:
        settings = get_settings()
        if settings.s3_bucket:
            _storage = S3Storage(
                settings.s3_bucket, settings.s3_endpoint, settings.s3_region,
                access_key_id=settings.s3_access_key_id, secret_access_key=settings.s3_secret_access_key,
            )
        else:
            _storage = LocalStorage(settings.var_dir / "uploads")
    return _storage


def set_storage(storage: Storage | None) -> None:
    global _storage
    _storage = storage
