"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

# The test suite sets TACK_PASSWORD_HASHING=cheapest: thousands of sign-ups in seconds. Never in use.
_hasher = (
    PasswordHasher.from_parameters(profiles.CHEAPEST)
    if os.environ.get("TACK_PASSWORD_HASHING") == "cheapest"
    else PasswordHasher()
)
# argon2 runs on threads of its own, one per core: a crowd signing in at 8:00 queues here, and does
# not hold up file uploads or anything else that uses the default thread pool.
_threads = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")
# Verifying a password against an unknown account costs the same as a real one.
_DUMMY_HASH = _hasher.hash("tack-dummy-password")


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow; keep it off the event loop.
    return await asyncio.get_running_loop().run_in_executor(_threads, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(_threads, _verify)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
