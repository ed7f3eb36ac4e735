from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from sqlalchemy import update

from tack.core.config import get_settings
from tack.core.db import get_database, utcnow
from tack.orgs.models import Invitation
from tests.factories import (
    PASSWORD,
    add_member,
    check,
    create_department,
    invite,
    owner_with_org,
    sign_up,
    signed_in,
    unique,
)

CODE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


async def _expire(invitation_id: str) -> None:
    """Move an invitation's expiry into the past (the API only sets future ones)."""
    async with get_database().session() as session:
        await session.execute(
            update(Invitation).where(Invitation.id == invitation_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_creating_an_invitation(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    before = utcnow()
    created = await invite(owner, org, role="admin", department_id=dept["id"], expires_in_days=3, max_uses=5,
                           invitee_name="Guest", invitee_contact="guest@example.com")
    assert CODE.match(created["code"]), created["code"]
    assert created["url"] == f"/join/{created['code']}"
    assert (created["role"], created["department_id"], created["max_uses"], created["uses"]) == (
        "admin", dept["id"], 5, 0)
    assert (created["invitee_name"], created["invitee_contact"]) == ("Guest", "guest@example.com")
    assert created["status"] == "active" and created["revoked_at"] is None
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(days=3) - timedelta(minutes=1) < expires - before < timedelta(days=3, minutes=1)
    assert check(await owner.get(f"/orgs/{org['id']}/invitations"), 200) == [created]


async def test_expiry_defaults_to_the_configured_days(new_client):
    from tack.core.config import get_settings

    owner, org = await owner_with_org(new_client)
    before = utcnow()
    created = await invite(owner, org)
    days = timedelta(days=get_settings().invitation_default_days)
    expires = datetime.fromisoformat(created["expires_at"])
    assert days - timedelta(minutes=1) < expires - before < days + timedelta(minutes=1)


async def test_codes_are_unambiguous_and_distinct(new_client):
    owner, org = await owner_with_org(new_client)
    codes = [(await invite(owner, org))["code"] for _ in range(25)]
    assert len(set(codes)) == 25
    assert all(CODE.match(c) for c in codes)
    assert not set("".join(codes)) & set("0O1I")


async def test_preview_is_public_and_case_insensitive(new_client):
    owner, org = await owner_with_org(new_client, kind="school", owner_name="Principal Li")
    klass = await create_department(owner, org, name="Class 3", kind="class")
    created = await invite(owner, org, role="teacher", department_id=klass["id"], invitee_name="Ms Chen")
    anonymous = new_client()
    for code in (created["code"], created["code"].lower()):
        preview = check(await anonymous.get(f"/invitations/{code}"), 200)
        assert preview == {
            "code": created["code"], "org_name": org["name"], "org_kind": "school", "role": "teacher",
            "department_name": "Class 3", "invitee_name": "Ms Chen", "inviter_name": "Principal Li",
            "expires_at": created["expires_at"],
        }


async def test_unknown_codes_are_not_found(new_client):
    client, _ = await signed_in(new_client)
    assert _error(await new_client().get("/invitations/ZZZZ2222"), 404) == "invitation_not_found"
    assert _error(await client.post("/invitations/ZZZZ2222/accept"), 404) == "invitation_not_found"
    assert _error(await client.get("/invitations/bad-code!"), 422) == "validation_error"


async def test_guessing_codes_is_throttled_per_address(new_client, monkeypatch):
    monkeypatch.setattr(get_settings(), "invitation_max_misses_per_address", 3)
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org)
    guesser = new_client(address="10.9.8.7")
    for guess in ("ZZZZ2222", "ZZZZ2223", "ZZZZ2224"):
        assert _error(await guesser.get(f"/invitations/{guess}"), 404) == "invitation_not_found"
    # Past the limit even a real code is not looked up from there, and the answer says how long to wait.
    response = await guesser.get(f"/invitations/{created['code']}")
    assert _error(response, 429) == "invitation_lookup_throttled"
    assert int(response.headers["Retry-After"]) >= 1
    # Someone else, elsewhere, opens their link as usual.
    check(await new_client(address="10.9.8.8").get(f"/invitations/{created['code']}"), 200)


async def test_an_admin_who_leaves_or_is_demoted_takes_their_open_invitations_along(new_client):
    owner, org = await owner_with_org(new_client)
    admins = [await add_member(new_client, owner, org, roles=("member", "admin")) for _ in range(2)]
    links = []
    for admin_client, _ in admins:
        links.append(await invite(admin_client, org))
    kept = await invite(owner, org)
    gone, demoted = admins[0][1], admins[1][1]
    check(await owner.delete(f"/orgs/{org['id']}/members/{gone['id']}"), 204)
    check(await owner.patch(f"/orgs/{org['id']}/members/{demoted['id']}", json={"roles": ["member"]}), 200)
    anonymous = new_client()
    for link in links:
        assert _error(await anonymous.get(f"/invitations/{link['code']}"), 410) == "invitation_revoked"
    check(await anonymous.get(f"/invitations/{kept['code']}"), 200)


async def test_accepting_joins_with_the_invitations_role_and_department(new_client):
    owner, org = await owner_with_org(new_client, kind="school")
    grade = await create_department(owner, org, kind="grade")
    created = await invite(owner, org, role="teacher", department_id=grade["id"], invitee_name="Teacher Chen")
    joiner, account = await signed_in(new_client, name="Chen Account Name")
    joined = check(await joiner.post(f"/invitations/{created['code'].lower()}/accept"), 200)
    assert joined["org_id"] == org["id"]
    me = check(await joiner.get(f"/orgs/{org['id']}"), 200)
    assert me["member_id"] == joined["member_id"] and me["roles"] == ["teacher"]
    member = check(await owner.get(f"/orgs/{org['id']}/members/{joined['member_id']}"), 200)
    assert member["account_id"] == account["id"]
    assert member["display_name"] == "Teacher Chen"
    assert member["department_ids"] == [grade["id"]]
    assert member["email"] == account["email"]
    # The invitee's name is searchable like any other.
    found = check(await owner.get(f"/orgs/{org['id']}/members", params={"q": "teacherchen"}), 200)
    assert [m["id"] for m in found["items"]] == [joined["member_id"]]
    assert check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)[0]["uses"] == 1


async def test_without_a_department_or_name_the_root_and_account_name_are_used(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org)
    joiner, _ = await signed_in(new_client, name="Plain Name")
    joined = check(await joiner.post(f"/invitations/{created['code']}/accept"), 200)
    member = check(await owner.get(f"/orgs/{org['id']}/members/{joined['member_id']}"), 200)
    assert member["display_name"] == "Plain Name"
    assert member["department_ids"] == [org["root_department_id"]]
    assert member["roles"] == ["member"]


async def test_accepting_needs_a_sign_in_and_not_being_a_member(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org)
    assert (await new_client().post(f"/invitations/{created['code']}/accept")).status_code == 401
    assert _error(await owner.post(f"/invitations/{created['code']}/accept"), 409) == "already_member"
    # A refused acceptance does not use the invitation up.
    assert check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)[0]["uses"] == 0


async def test_a_removed_member_accepting_comes_back_on_the_same_row(new_client):
    owner, org = await owner_with_org(new_client)
    client, member = await add_member(new_client, owner, org, roles=["admin"])
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    created = await invite(owner, org)
    joined = check(await client.post(f"/invitations/{created['code']}/accept"), 200)
    assert joined["member_id"] == member["id"]
    me = check(await client.get(f"/orgs/{org['id']}"), 200)
    assert me["roles"] == ["member"] and me["is_admin"] is False


async def test_revoked_invitations_are_gone(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org)
    check(await owner.delete(f"/orgs/{org['id']}/invitations/{created['id']}"), 204)
    check(await owner.delete(f"/orgs/{org['id']}/invitations/{created['id']}"), 204)
    assert _error(await new_client().get(f"/invitations/{created['code']}"), 410) == "invitation_revoked"
    joiner, _ = await signed_in(new_client)
    assert _error(await joiner.post(f"/invitations/{created['code']}/accept"), 410) == "invitation_revoked"
    [listed] = check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)
    assert listed["status"] == "revoked" and listed["revoked_at"] is not None
    assert check(await joiner.get("/orgs"), 200) == []


async def test_expired_invitations_are_gone(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org)
    await _expire(created["id"])
    assert _error(await new_client().get(f"/invitations/{created['code']}"), 410) == "invitation_expired"
    joiner, _ = await signed_in(new_client)
    assert _error(await joiner.post(f"/invitations/{created['code']}/accept"), 410) == "invitation_expired"
    assert check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)[0]["status"] == "expired"


async def test_max_uses(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org, max_uses=2)
    for _ in range(2):
        joiner, _ = await signed_in(new_client)
        check(await joiner.post(f"/invitations/{created['code']}/accept"), 200)
    late, _ = await signed_in(new_client)
    assert _error(await late.post(f"/invitations/{created['code']}/accept"), 410) == "invitation_used_up"
    assert _error(await late.get(f"/invitations/{created['code']}"), 410) == "invitation_used_up"
    [listed] = check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)
    assert (listed["uses"], listed["status"]) == (2, "used_up")


async def test_the_last_use_goes_to_one_of_two_simultaneous_acceptances(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org, max_uses=1)
    first, _ = await signed_in(new_client)
    second, _ = await signed_in(new_client)
    responses = await asyncio.gather(
        first.post(f"/invitations/{created['code']}/accept"),
        second.post(f"/invitations/{created['code']}/accept"),
    )
    assert sorted(r.status_code for r in responses) == [200, 410], [r.text for r in responses]
    [listed] = check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)
    assert listed["uses"] == 1
    members = check(await owner.get(f"/orgs/{org['id']}/members"), 200)["items"]
    assert len(members) == 2


async def test_signing_up_with_an_invitation_joins_the_org(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    created = await invite(owner, org, department_id=dept["id"], invitee_name="Invited Person")
    client = new_client()
    info = await sign_up(client, name="Account Name", invitation_code=created["code"].lower())
    assert info["joined_org_id"] == org["id"]
    me = check(await client.get(f"/orgs/{org['id']}"), 200)
    member = check(await client.get(f"/orgs/{org['id']}/members/{me['member_id']}"), 200)
    assert member["display_name"] == "Invited Person"
    assert member["department_ids"] == [dept["id"]]
    assert member["account_id"] == info["account"]["id"]


async def test_signing_up_with_a_dead_invitation_creates_no_account(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org, max_uses=1)
    await sign_up(new_client(), invitation_code=created["code"])
    email = f"{unique('late')}@example.com"
    body = {"name": "Late", "email": email, "password": PASSWORD, "invitation_code": created["code"]}
    assert _error(await new_client().post("/auth/sign-up", json=body), 410) == "invitation_used_up"
    body["invitation_code"] = "ZZZZ2222"
    assert _error(await new_client().post("/auth/sign-up", json=body), 404) == "invitation_not_found"
    # The email is still free: nothing was kept from the refused sign-ups.
    assert (await new_client().post("/auth/sign-in", json={"login": email, "password": PASSWORD})).status_code == 401
    await sign_up(new_client(), email=email)


async def test_invitation_role_rules(new_client):
    owner, org = await owner_with_org(new_client)
    admin, _ = await add_member(new_client, owner, org, roles=["admin"])
    _, other = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/invitations"
    assert _error(await admin.post(url, json={"role": "owner"}), 403) == "owner_required"
    assert (await invite(owner, org, role="owner"))["role"] == "owner"
    assert (await invite(admin, org, role="admin"))["role"] == "admin"
    assert _error(await owner.post(url, json={"role": "student"}), 422) == "role_not_allowed"
    response = await owner.post(url, json={"department_id": other["root_department_id"]})
    assert _error(response, 404) == "department_not_found"
    for body in ({"expires_in_days": 0}, {"expires_in_days": 91}, {"max_uses": 0}, {"role": "king"}):
        assert _error(await owner.post(url, json=body), 422) == "validation_error", body


async def test_revoking_needs_an_invitation_of_this_org(new_client):
    owner, org = await owner_with_org(new_client)
    other_owner, other = await owner_with_org(new_client)
    theirs = await invite(other_owner, other)
    response = await owner.delete(f"/orgs/{org['id']}/invitations/{theirs['id']}")
    assert _error(response, 404) == "invitation_not_found"
    assert check(await new_client().get(f"/invitations/{theirs['code']}"), 200)["org_name"] == other["name"]


async def test_members_cannot_manage_invitations(new_client):
    owner, org = await owner_with_org(new_client)
    created = await invite(owner, org)
    member, _ = await add_member(new_client, owner, org)
    url = f"/orgs/{org['id']}/invitations"
    assert _error(await member.get(url), 403) == "admin_required"
    assert _error(await member.post(url, json={}), 403) == "admin_required"
    assert _error(await member.delete(f"{url}/{created['id']}"), 403) == "admin_required"
    assert check(await owner.get(url), 200)[0]["status"] == "active"
