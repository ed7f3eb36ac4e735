"""Small factories that build test data through the real API, as a client would."""

from __future__ import annotations

import itertools
import uuid

import httpx

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"


def check(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


async def sign_up(client: httpx.AsyncClient, *, name: str | None = None, email: str | None = None,
                  password: str = PASSWORD, **extra: object) -> dict:
    """Sign up a new account; the client is then signed in as it."""
    body = {"name": name or unique("Person "), "email": email or f"{unique('p')}@example.com", "password": password}
    body.update(extra)
    return check(await client.post("/auth/sign-up", json=body), 201)


async def sign_in(client: httpx.AsyncClient, login: str, password: str = PASSWORD) -> dict:
    return check(await client.post("/auth/sign-in", json={"login": login, "password": password}), 200)
