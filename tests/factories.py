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


# ---- organizations ------------------------------------------------------------------------------


async def signed_in(new_client, **sign_up_fields: object) -> tuple[httpx.AsyncClient, dict]:  # type: ignore[no-untyped-def]
    """A new client signed in as a new account; returns (client, account)."""
    client = new_client()
    info = await sign_up(client, **sign_up_fields)
    return client, info["account"]


async def create_org(client: httpx.AsyncClient, *, name: str | None = None, kind: str = "company") -> dict:
    """Create an organization as the client's account (its owner); returns MyOrg."""
    return check(await client.post("/orgs", json={"name": name or unique("Org "), "kind": kind}), 201)


async def owner_with_org(new_client, *, kind: str = "company", name: str | None = None,  # type: ignore[no-untyped-def]
                         owner_name: str | None = None) -> tuple[httpx.AsyncClient, dict]:
    """A signed-in owner and their new organization."""
    client, _ = await signed_in(new_client, name=owner_name or unique("Owner "))
    return client, await create_org(client, name=name, kind=kind)


async def create_department(client: httpx.AsyncClient, org: dict, *, name: str | None = None,
                            parent_id: str | None = None, **fields: object) -> dict:
    """A department under `parent_id` (the top department by default); returns DepartmentOut."""
    body = {"name": name or unique("Dept "), "parent_id": parent_id or org["root_department_id"], **fields}
    return check(await client.post(f"/orgs/{org['id']}/departments", json=body), 201)


async def add_member(new_client, admin: httpx.AsyncClient, org: dict, *,  # type: ignore[no-untyped-def]
                     name: str | None = None, roles: tuple[str, ...] | list[str] = ("member",),
                     email: str | None = None, mobile: str | None = None,
                     **fields: object) -> tuple[httpx.AsyncClient, dict]:
    """Add a new person through the admin API and sign them in; returns (their client, MemberDetail)."""
    if mobile is None and email is None:
        email = f"{unique('m')}@example.com"
    body: dict = {"display_name": name or unique("Member "), "initial_password": PASSWORD, "roles": list(roles), **fields}
    if email is not None:
        body["email"] = email
    if mobile is not None:
        body["mobile"] = mobile
    member = check(await admin.post(f"/orgs/{org['id']}/members", json=body), 201)
    client = new_client()
    await sign_in(client, email or mobile or "")
    return client, member


async def invite(client: httpx.AsyncClient, org: dict, **fields: object) -> dict:
    """Create an invitation; returns InvitationOut."""
    return check(await client.post(f"/orgs/{org['id']}/invitations", json=fields), 201)


def unique_mobile() -> str:
    """A mobile number no other test uses."""
    return f"139{next(_counter) % 10**4:04d}{uuid.uuid4().int % 10**4:04d}"


# ---- chat ---------------------------------------------------------------------------------------


async def direct_chat(client: httpx.AsyncClient, org: dict, member_id: str) -> dict:
    """The one-to-one conversation with `member_id` (made or found); returns ConversationDetail."""
    response = await client.post(f"/orgs/{org['id']}/conversations", json={"kind": "direct", "member_id": member_id})
    assert response.status_code in (200, 201), response.text
    return response.json()


async def group_chat(client: httpx.AsyncClient, org: dict, member_ids: list[str], *, name: str | None = None) -> dict:
    """A group owned by the client's member; returns ConversationDetail."""
    body = {"kind": "group", "name": name or unique("Group "), "member_ids": member_ids}
    return check(await client.post(f"/orgs/{org['id']}/conversations", json=body), 201)


async def send_text(client: httpx.AsyncClient, org: dict, conversation: dict, text: str, *,
                    status: int = 201, **fields: object) -> dict:
    """Send a text message; returns MessageOut."""
    body = {"client_msg_id": unique("c"), "body": text, **fields}
    return check(await client.post(f"/orgs/{org['id']}/conversations/{conversation['id']}/messages", json=body), status)
