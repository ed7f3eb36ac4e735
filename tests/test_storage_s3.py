"""S3-compatible upload storage against a real S3 HTTP endpoint (moto's standalone server).

Nothing here depends on the database kind: the API tests only go through the chat upload routes.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tack.core.config import get_settings
from tack.core.errors import PayloadTooLarge
from tack.core.storage import S3Storage, StorageUnavailable, get_storage, set_storage
from tests.factories import add_member, check, group_chat, owner_with_org, unique

MiB = 1024 * 1024
KEYS = {"access_key_id": "testing", "secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    name = "tack-uploads"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    """A plain boto3 client, to look at the bucket behind the storage's back."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def storage(s3_endpoint: str, bucket: str) -> S3Storage:
    # The smallest part size S3 allows, so multipart uploads start at 5 MiB.
    return S3Storage(bucket, s3_endpoint, "us-east-1", part_size=5 * MiB, **KEYS)


@pytest.fixture
def operations(monkeypatch, storage: S3Storage) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of the S3 operations `storage` calls, in order."""
    called: list[str] = []
    original = storage._call

    async def record(operation, key, **params):  # type: ignore[no-untyped-def]
        called.append(operation)
        return await original(operation, key, **params)

    monkeypatch.setattr(storage, "_call", record)
    return called


@pytest.fixture
def s3_configured(monkeypatch, s3_endpoint: str, bucket: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app's storage built from the TACK_S3_* settings, as a server configured for S3 would."""
    settings = get_settings()
    for name, value in {"s3_bucket": bucket, "s3_endpoint": s3_endpoint, "s3_region": "us-east-1",
                        "s3_access_key_id": "testing", "s3_secret_access_key": "testing"}.items():
        monkeypatch.setattr(settings, name, value)
    set_storage(None)
    yield bucket
    set_storage(None)  # the next get_storage() builds the local disk storage again


async def chunked(data: bytes, size: int = MiB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def read_all(storage: S3Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key)])


def object_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    listed = s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def open_multipart_uploads(endpoint: str, bucket: str) -> list[dict]:
    return s3_client(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", [])


# ---- the storage itself -------------------------------------------------------------------------


async def test_put_read_delete(storage: S3Storage, operations: list[str], s3_endpoint: str, bucket: str):
    key = f"org/{unique('small')}"
    stored = await storage.put(key, chunked(b"hello, bucket"), max_bytes=100)
    assert stored.size == 13 and stored.sha256 == hashlib.sha256(b"hello, bucket").hexdigest()
    assert operations == ["put_object"]
    assert await read_all(storage, key) == b"hello, bucket"
    assert storage.local_path(key) is None

    await storage.delete(key)
    await storage.delete(key)  # deleting what is gone is fine
    with pytest.raises(FileNotFoundError):
        await read_all(storage, key)
    assert key not in object_keys(s3_endpoint, bucket)


async def test_large_files_go_up_in_parts(storage: S3Storage, operations: list[str], s3_endpoint: str, bucket: str):
    data = bytes(range(256)) * (11 * MiB // 256) + b"tail"
    key = f"org/{unique('large')}"
    stored = await storage.put(key, chunked(data), max_bytes=len(data))
    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert operations == ["create_multipart_upload", "upload_part", "upload_part", "upload_part",
                          "complete_multipart_upload"]
    chunks = [chunk async for chunk in storage.read(key)]
    assert len(chunks) > 1 and b"".join(chunks) == data
    assert open_multipart_uploads(s3_endpoint, bucket) == []
    await storage.delete(key)


async def test_size_limit_keeps_nothing(storage: S3Storage, operations: list[str], s3_endpoint: str, bucket: str):
    key = f"org/{unique('big')}"
    with pytest.raises(PayloadTooLarge) as small:
        await storage.put(key, chunked(b"x" * 11, size=5), max_bytes=10)
    assert small.value.code == "file_too_large" and small.value.details == {"max_bytes": 10}
    assert operations == []  # refused before anything was sent

    # Past the first part: the multipart upload already started is aborted.
    with pytest.raises(PayloadTooLarge):
        await storage.put(key, chunked(b"x" * 7 * MiB), max_bytes=6 * MiB)
    assert operations == ["create_multipart_upload", "upload_part", "abort_multipart_upload"]
    assert key not in object_keys(s3_endpoint, bucket)
    assert open_multipart_uploads(s3_endpoint, bucket) == []


async def test_a_failed_upload_keeps_nothing(storage: S3Storage, operations: list[str], s3_endpoint: str,
                                             bucket: str):
    async def broken() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"y" * MiB
        raise ConnectionResetError("the client went away")

    key = f"org/{unique('broken')}"
    with pytest.raises(ConnectionResetError):
        await storage.put(key, broken(), max_bytes=100 * MiB)
    assert operations[-1] == "abort_multipart_upload"
    assert key not in object_keys(s3_endpoint, bucket)
    assert open_multipart_uploads(s3_endpoint, bucket) == []


async def test_missing_bucket_is_a_clear_error(s3_endpoint: str):
    storage = S3Storage("no-such-bucket", s3_endpoint, "us-east-1", **KEYS)
    for attempt in (
        storage.put("org/file", chunked(b"data"), max_bytes=100),
        read_all(storage, "org/file"),
        storage.delete("org/file"),
    ):
        with pytest.raises(StorageUnavailable) as error:
            await attempt
        assert error.value.status_code == 503 and error.value.code == "storage_unavailable"
        assert error.value.details == {"reason": "no_such_bucket"}


async def test_unreachable_endpoint_is_a_clear_error():
    storage = S3Storage("tack-uploads", f"http://127.0.0.1:{_free_port()}", "us-east-1", max_attempts=1, **KEYS)
    with pytest.raises(StorageUnavailable) as error:
        await storage.put("org/file", chunked(b"data"), max_bytes=100)
    assert error.value.details == {"reason": "unreachable"}


def test_refusals_are_access_denied(storage: S3Storage):
    refused = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")
    translated = storage._translate("put_object", "org/file", refused)
    assert isinstance(translated, StorageUnavailable) and translated.details == {"reason": "access_denied"}


# ---- chat uploads with the bucket configured ----------------------------------------------------


async def test_chat_upload_and_download_through_the_bucket(new_client, s3_configured: str, s3_endpoint: str):
    assert isinstance(get_storage(), S3Storage)
    owner, org = await owner_with_org(new_client)
    alice, alice_row = await add_member(new_client, owner, org)
    group = await group_chat(owner, org, [alice_row["id"]])
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    image = check(await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "photo 照片.png"}, content=png,
                                   headers={"Content-Type": "image/png"}), 201)
    assert image["size"] == len(png) and image["sha256"] == hashlib.sha256(png).hexdigest()
    # Big enough to go up in parts through the API as well.
    archive = b"z" * (9 * MiB)
    file = check(await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "notes.zip"},
                                  content=chunked(archive)), 201)
    assert sorted(object_keys(s3_endpoint, s3_configured, f"{org['id']}/")) == sorted(
        [f"{org['id']}/{image['id']}", f"{org['id']}/{file['id']}"])

    conversation = f"/orgs/{org['id']}/conversations/{group['id']}/messages"
    check(await owner.post(conversation, json={"client_msg_id": unique("c"), "kind": "image",
                                               "upload_id": image["id"]}), 201)
    check(await owner.post(conversation, json={"client_msg_id": unique("c"), "kind": "file",
                                               "upload_id": file["id"]}), 201)

    fetched = await alice.get(image["url"].removeprefix("/api/v1"))
    assert fetched.status_code == 200 and fetched.content == png
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["content-length"] == str(len(png))
    assert fetched.headers["content-disposition"].startswith("inline")
    assert fetched.headers["x-content-type-options"] == "nosniff"
    downloaded = await alice.get(file["url"].removeprefix("/api/v1"))
    assert downloaded.status_code == 200 and downloaded.content == archive
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert downloaded.headers["content-disposition"].startswith('attachment; filename="notes.zip"')

    # Someone in the organization but not in the group still gets nothing.
    bob, _ = await add_member(new_client, owner, org)
    assert (await bob.get(image["url"].removeprefix("/api/v1"))).status_code == 404

    # Bytes gone from the bucket: a clear 410, not a broken 200.
    s3_client(s3_endpoint).delete_object(Bucket=s3_configured, Key=f"{org['id']}/{image['id']}")
    gone = await alice.get(image["url"].removeprefix("/api/v1"))
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "upload_missing"


async def test_chat_upload_size_limit_leaves_nothing_in_the_bucket(new_client, monkeypatch, s3_configured: str,
                                                                   s3_endpoint: str):
    owner, org = await owner_with_org(new_client)
    monkeypatch.setattr(get_settings(), "upload_max_bytes", 6 * MiB)
    response = await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "big.bin"},
                                content=chunked(b"x" * 7 * MiB))
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
    assert object_keys(s3_endpoint, s3_configured, f"{org['id']}/") == []
    assert open_multipart_uploads(s3_endpoint, s3_configured) == []


async def test_chat_upload_to_a_missing_bucket_is_a_clear_error(new_client, monkeypatch, s3_configured: str):
    owner, org = await owner_with_org(new_client)
    monkeypatch.setattr(get_settings(), "s3_bucket", "no-such-bucket")
    set_storage(None)
    response = await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "notes.txt"}, content=b"hello")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert response.json()["error"]["details"] == {"reason": "no_such_bucket"}
