"""Every chat endpoint refuses members of other organizations, and people outside the conversation.

The table below must name every chat route: a new endpoint without a row here fails
`test_the_table_covers_every_chat_route` (tests/test_tenancy.py covers the other routes under
/orgs/{org_id} and counts these rows as covered).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from tack.app import API_PREFIX
from tests.factories import add_member, check, group_chat, owner_with_org, send_text, unique
from tests.tenancy import PLACEHOLDER, RAW, api_routes, call, case_id

ANY, SEAT, RECIPIENT = "any", "seat", "recipient"

CONVERSATION = "/orgs/{org_id}/conversations/{conversation_id}"
MESSAGE = CONVERSATION + "/messages/{message_id}"

# (method, path as declared by the route [+ query], body, who may call it)
# who: ANY member of the organization; the people in the conversation (SEAT); the DING's RECIPIENT.
ENDPOINTS: list[tuple[str, str, dict | None, str]] = [
    ("GET", "/orgs/{org_id}/conversations", None, ANY),
    ("POST", "/orgs/{org_id}/conversations", {"kind": "direct", "member_id": "{member_id}"}, ANY),
    ("GET", CONVERSATION, None, SEAT),
    ("PATCH", CONVERSATION, {"name": "Taken Over"}, SEAT),
    ("GET", CONVERSATION + "/members", None, SEAT),
    ("POST", CONVERSATION + "/members", {"member_ids": ["{stranger_id}"]}, SEAT),
    ("PATCH", CONVERSATION + "/members/{member_id}", {"role": "admin"}, SEAT),
    ("DELETE", CONVERSATION + "/members/{member_id}", None, SEAT),
    ("POST", CONVERSATION + "/read", {"seq": 1}, SEAT),
    ("POST", CONVERSATION + "/typing", {"typing": True}, SEAT),
    ("GET", CONVERSATION + "/messages", None, SEAT),
    ("POST", CONVERSATION + "/messages", {"client_msg_id": "{new_id}", "body": "intruder"}, SEAT),
    ("GET", MESSAGE, None, SEAT),
    ("PATCH", MESSAGE, {"body": "Taken Over"}, SEAT),
    ("POST", MESSAGE + "/recall", None, SEAT),
    ("POST", MESSAGE + "/reactions", {"emoji": "👀"}, SEAT),
    ("GET", MESSAGE + "/receipts", None, SEAT),
    ("POST", CONVERSATION + "/dings",
     {"client_msg_id": "{new_id}", "body": "urgent", "recipient_ids": ["{member_id}"]}, SEAT),
    ("GET", "/orgs/{org_id}/messages/search?q=hello", None, ANY),
    ("GET", "/orgs/{org_id}/dings", None, ANY),
    ("GET", "/orgs/{org_id}/dings/{ding_id}", None, RECIPIENT),
    ("POST", "/orgs/{org_id}/dings/{ding_id}/ack", None, RECIPIENT),
    ("POST", "/orgs/{org_id}/uploads?name=notes.txt", RAW, ANY),
    ("GET", "/orgs/{org_id}/uploads/{upload_id}", None, SEAT),
]


@dataclass
class World:
    """A company with a group (its owner and a member), someone in the company but not in the group,
    and an outsider who owns another company."""

    ids: dict[str, str]
    owner: httpx.AsyncClient
    member: httpx.AsyncClient
    stranger: httpx.AsyncClient
    outsider: httpx.AsyncClient
    outsider_org_id: str

    async def snapshot(self) -> dict:
        """What a refused request could have changed, read by the people in the conversation."""
        conversation = CONVERSATION.format(**self.ids)
        return {
            "conversation": check(await self.owner.get(conversation), 200),
            "messages": check(await self.owner.get(conversation + "/messages"), 200),
            "members": check(await self.owner.get(conversation + "/members", params={"limit": 200}), 200),
            "member_view": check(await self.member.get(conversation), 200),
            "ding": check(await self.owner.get("/orgs/{org_id}/dings/{ding_id}".format(**self.ids)), 200),
            "conversations": check(await self.member.get("/orgs/{org_id}/conversations".format(**self.ids)), 200),
        }


@pytest.fixture
async def world(new_client) -> World:  # type: ignore[no-untyped-def]
    owner, org = await owner_with_org(new_client)
    member, member_row = await add_member(new_client, owner, org)
    stranger, stranger_row = await add_member(new_client, owner, org)
    group = await group_chat(owner, org, [member_row["id"]])
    message = await send_text(owner, org, group, "hello world")
    upload = check(await owner.post(f"/orgs/{org['id']}/uploads", params={"name": "a.txt"}, content=b"hello"), 201)
    check(await owner.post(f"/orgs/{org['id']}/conversations/{group['id']}/messages",
                           json={"client_msg_id": unique("c"), "kind": "file", "upload_id": upload["id"]}), 201)
    ding = check(await owner.post(f"/orgs/{org['id']}/conversations/{group['id']}/dings",
                                  json={"client_msg_id": unique("d"), "body": "now",
                                        "recipient_ids": [member_row["id"]]}), 201)["ding"]
    outsider, outsider_org = await owner_with_org(new_client)
    ids = {
        "org_id": org["id"],
        "conversation_id": group["id"],
        "message_id": message["id"],
        "member_id": member_row["id"],
        "stranger_id": stranger_row["id"],
        "ding_id": ding["id"],
        "upload_id": upload["id"],
    }
    return World(ids=ids, owner=owner, member=member, stranger=stranger, outsider=outsider,
                 outsider_org_id=outsider_org["id"])


async def _call(client: httpx.AsyncClient, method: str, path: str, body: dict | None,
                ids: dict[str, str]) -> httpx.Response:
    return await call(client, method, path, body, {**ids, "new_id": unique("c")})


@pytest.mark.parametrize(("method", "path", "body", "who"), ENDPOINTS, ids=[case_id(r) for r in ENDPOINTS])
async def test_other_organizations_and_outsiders_are_refused(world: World, method, path, body, who):
    before = await world.snapshot()

    # A member of another organization does not learn this one exists.
    response = await _call(world.outsider, method, path, body, world.ids)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "org_not_found"

    # Nor can they reach this organization's conversations through their own organization's paths.
    if PLACEHOLDER.search(path) or PLACEHOLDER.search(json.dumps(body)):
        response = await _call(world.outsider, method, path, body, {**world.ids, "org_id": world.outsider_org_id})
        assert response.status_code in (404, 422), response.text
        assert response.json()["error"]["code"] != "org_not_found"
        assert response.json()["error"]["code"].endswith(("_not_found", "not_member")), response.text

    # A colleague outside the conversation cannot see or touch it.
    if who != ANY:
        response = await _call(world.stranger, method, path, body, world.ids)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] in {"conversation_not_found", "ding_not_found", "upload_not_found"}

    assert await world.snapshot() == before

    if who == ANY:
        response = await _call(world.stranger, method, path, body, world.ids)
        assert response.status_code < 300, response.text

    # The people it belongs to may do it: the refusals above were about who called.
    actor = world.member if who == RECIPIENT else world.owner
    response = await _call(actor, method, path, body, world.ids)
    assert response.status_code < 300, response.text


async def test_signed_out_callers_are_refused_everywhere(world: World, new_client):
    anonymous = new_client()
    for method, path, body, _ in ENDPOINTS:
        response = await _call(anonymous, method, path, body, world.ids)
        assert response.status_code == 401, f"{method} {path}: {response.text}"


def chat_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from tack.chat.routes import router

    paths = {route.path for route in router.routes}
    return {
        (method, path.removeprefix(API_PREFIX))
        for path, route in api_routes(app)
        if path.removeprefix(API_PREFIX) in paths
        for method in route.methods
    }


TESTED = {(method, path.split("?")[0]) for method, path, _, _ in ENDPOINTS}


def test_the_table_covers_every_chat_route(app):
    declared = chat_routes(app)
    assert declared, "no chat routes found"
    assert declared == TESTED, f"untested: {sorted(declared - TESTED)}; stale: {sorted(TESTED - declared)}"
