"""Every organization endpoint refuses members of other organizations and, for changes, non-admins.

The table below must name every route under /orgs/{org_id} (chat's and rooms' routes have their
tables in tests/test_chat_tenancy.py and tests/test_rooms_tenancy.py): a new endpoint without a row fails `test_the_table_covers_every_org_route`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from tack.app import API_PREFIX
from tests.factories import PASSWORD, add_member, check, create_department, invite, owner_with_org, unique
from tests.tenancy import PLACEHOLDER, api_routes, call, case_id

MEMBER, ADMIN = "member", "admin"
# A reference to an object of the organization, other than the organization itself.

# (method, path as declared by the route, body, who may call it)
ENDPOINTS: list[tuple[str, str, dict | None, str]] = [
    ("GET", "/orgs/{org_id}", None, MEMBER),
    ("PATCH", "/orgs/{org_id}", {"name": "Taken Over"}, ADMIN),
    ("GET", "/orgs/{org_id}/departments", None, MEMBER),
    ("POST", "/orgs/{org_id}/departments", {"name": "Intruder", "parent_id": "{department_id}"}, ADMIN),
    ("GET", "/orgs/{org_id}/departments/{department_id}", None, MEMBER),
    ("PATCH", "/orgs/{org_id}/departments/{department_id}", {"name": "Taken Over"}, ADMIN),
    ("DELETE", "/orgs/{org_id}/departments/{department_id}", None, ADMIN),
    ("GET", "/orgs/{org_id}/contacts", None, MEMBER),
    ("GET", "/orgs/{org_id}/members", None, MEMBER),
    ("POST", "/orgs/{org_id}/members",
     {"display_name": "Intruder", "email": "{new_email}", "initial_password": PASSWORD,
      "department_ids": ["{department_id}"]}, ADMIN),
    ("GET", "/orgs/{org_id}/members/{member_id}", None, MEMBER),
    ("PATCH", "/orgs/{org_id}/members/{member_id}", {"title": "Taken Over"}, ADMIN),
    ("DELETE", "/orgs/{org_id}/members/{member_id}", None, ADMIN),
    ("POST", "/orgs/{org_id}/members/{member_id}/guardians", {"parent_member_id": "{parent_member_id}"}, ADMIN),
    ("DELETE", "/orgs/{org_id}/members/{member_id}/guardians/{parent_member_id}", None, ADMIN),
    ("GET", "/orgs/{org_id}/invitations", None, ADMIN),
    ("POST", "/orgs/{org_id}/invitations", {"department_id": "{department_id}"}, ADMIN),
    ("DELETE", "/orgs/{org_id}/invitations/{invitation_id}", None, ADMIN),
]


@dataclass
class World:
    """A school with a member of every kind, and an outsider who owns another school."""

    ids: dict[str, str]
    owner: httpx.AsyncClient
    teacher: httpx.AsyncClient
    parent: httpx.AsyncClient
    student: httpx.AsyncClient
    outsider: httpx.AsyncClient
    outsider_org_id: str

    async def snapshot(self) -> dict:
        """What a refused request could have changed, read as the owner."""
        org_id = self.ids["org_id"]
        members = check(await self.owner.get(f"/orgs/{org_id}/members", params={"include_removed": "true",
                                                                                 "limit": 200}), 200)
        return {
            "org": check(await self.owner.get(f"/orgs/{org_id}"), 200),
            "departments": check(await self.owner.get(f"/orgs/{org_id}/departments"), 200),
            "members": members["items"],
            "student": check(await self.owner.get(f"/orgs/{org_id}/members/{self.ids['member_id']}"), 200),
            "invitations": check(await self.owner.get(f"/orgs/{org_id}/invitations"), 200),
        }


@pytest.fixture
async def world(new_client) -> World:  # type: ignore[no-untyped-def]
    owner, org = await owner_with_org(new_client, kind="school")
    klass = await create_department(owner, org, kind="class")
    teacher, _ = await add_member(new_client, owner, org, roles=["teacher"], department_ids=[klass["id"]])
    student, student_row = await add_member(new_client, owner, org, roles=["student"], department_ids=[klass["id"]])
    parent, parent_row = await add_member(new_client, owner, org, roles=["parent"])
    check(await owner.post(f"/orgs/{org['id']}/members/{student_row['id']}/guardians",
                           json={"parent_member_id": parent_row["id"]}), 201)
    invitation = await invite(owner, org, department_id=klass["id"])
    outsider, outsider_org = await owner_with_org(new_client, kind="school")
    ids = {
        "org_id": org["id"],
        "department_id": klass["id"],
        "member_id": student_row["id"],
        "parent_member_id": parent_row["id"],
        "invitation_id": invitation["id"],
    }
    return World(ids=ids, owner=owner, teacher=teacher, parent=parent, student=student, outsider=outsider,
                 outsider_org_id=outsider_org["id"])


async def _call(client: httpx.AsyncClient, method: str, path: str, body: dict | None,
                ids: dict[str, str]) -> httpx.Response:
    return await call(client, method, path, body, {**ids, "new_email": f"{unique('intruder')}@example.com"})


@pytest.mark.parametrize(("method", "path", "body", "who"), ENDPOINTS, ids=[case_id(r) for r in ENDPOINTS])
async def test_other_organizations_and_non_admins_are_refused(world: World, method, path, body, who):
    before = await world.snapshot()

    # A member (here: owner) of another organization does not learn this one exists.
    response = await _call(world.outsider, method, path, body, world.ids)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "org_not_found"

    # Nor can they reach this organization's objects through their own organization's paths.
    if PLACEHOLDER.search(path) or PLACEHOLDER.search(json.dumps(body)):
        response = await _call(world.outsider, method, path, body, {**world.ids, "org_id": world.outsider_org_id})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] != "org_not_found"

    for non_admin in (world.teacher, world.student, world.parent):
        response = await _call(non_admin, method, path, body, world.ids)
        if who == ADMIN:
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "admin_required"
        else:
            assert response.status_code == 200, response.text

    assert await world.snapshot() == before

    # The owner may do it: the refusals above were about who called, not about the request.
    response = await _call(world.owner, method, path, body, world.ids)
    assert response.status_code < 300 or response.json()["error"]["code"] in {
        "department_not_empty", "already_member",
    }, response.text


async def test_signed_out_callers_are_refused_everywhere(world: World, new_client):
    anonymous = new_client()
    for method, path, body, _ in ENDPOINTS:
        response = await _call(anonymous, method, path, body, world.ids)
        assert response.status_code == 401, f"{method} {path}: {response.text}"


def test_the_table_covers_every_org_route(app):
    declared = {
        (method, path.removeprefix(API_PREFIX))
        for path, route in api_routes(app)
        if path.startswith(f"{API_PREFIX}/orgs/{{org_id}}")
        for method in route.methods
    }
    # Chat and rooms have tables of their own.
    from tests.test_chat_tenancy import TESTED as CHAT_TESTED
    from tests.test_rooms_tenancy import TESTED as ROOMS_TESTED

    tested = {(method, path) for method, path, _, _ in ENDPOINTS} | CHAT_TESTED | ROOMS_TESTED
    assert declared, "no organization routes found"
    assert declared == tested, f"untested: {sorted(declared - tested)}; stale: {sorted(tested - declared)}"
