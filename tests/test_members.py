from __future__ import annotations

import asyncio

from tests.factories import (
    PASSWORD,
    add_member,
    check,
    create_department,
    owner_with_org,
    sign_in,
    signed_in,
    unique,
    unique_mobile,
)


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


async def _member(client, org: dict, member_id: str) -> dict:  # type: ignore[no-untyped-def]
    return check(await client.get(f"/orgs/{org['id']}/members/{member_id}"), 200)


# ---- adding -------------------------------------------------------------------------------------


async def test_adding_a_new_person_creates_their_account(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org, name="Support")
    email = f"{unique('new')}@Example.com"
    mobile = unique_mobile()
    body = {
        "display_name": "Zhao Liu", "email": email, "mobile": mobile, "initial_password": PASSWORD,
        "staff_id": "E-100", "title": "Engineer", "department_ids": [dept["id"]], "roles": ["admin"],
        "manager_id": org["member_id"],
    }
    detail = check(await owner.post(f"/orgs/{org['id']}/members", json=body), 201)
    assert detail["display_name"] == "Zhao Liu"
    assert detail["email"] == email.lower() and detail["mobile"] == mobile
    assert (detail["staff_id"], detail["title"]) == ("E-100", "Engineer")
    assert detail["roles"] == ["admin"] and detail["status"] == "active"
    assert detail["department_ids"] == [dept["id"]]
    assert [d["name"] for d in detail["departments"]] == ["Support"]
    assert detail["departments"][0]["member_count"] == 1
    assert detail["manager_id"] == org["member_id"] and detail["manager_name"]
    assert detail["parents"] == [] and detail["children"] == []
    # The new account signs in with the initial password and sees the organization.
    client = new_client()
    info = await sign_in(client, email)
    assert info["account"]["id"] == detail["account_id"]
    assert [o["id"] for o in check(await client.get("/orgs"), 200)] == [org["id"]]


async def test_an_existing_account_is_linked_by_email_or_mobile(new_client):
    owner, org = await owner_with_org(new_client)
    mobile = unique_mobile()
    _, by_email = await signed_in(new_client)
    _, by_mobile = await signed_in(new_client, email=None, mobile=mobile)
    linked = check(await owner.post(f"/orgs/{org['id']}/members",
                                    json={"display_name": "Known", "email": by_email["email"]}), 201)
    assert linked["account_id"] == by_email["id"]
    linked = check(await owner.post(f"/orgs/{org['id']}/members",
                                    json={"display_name": "Known 2", "mobile": mobile}), 201)
    assert linked["account_id"] == by_mobile["id"]
    assert linked["mobile"] == mobile


async def test_an_existing_account_keeps_its_password(new_client):
    owner, org = await owner_with_org(new_client)
    _, account = await signed_in(new_client)
    body = {"display_name": "Known", "email": account["email"], "initial_password": "someone else's"}
    check(await owner.post(f"/orgs/{org['id']}/members", json=body), 201)
    await sign_in(new_client(), account["email"], PASSWORD)
    response = await new_client().post("/auth/sign-in", json={"login": account["email"], "password": "someone else's"})
    assert response.status_code == 401


async def test_adding_needs_a_contact_and_for_new_accounts_a_password(new_client):
    owner, org = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/members"
    assert _error(await owner.post(url, json={"display_name": "Nobody"}), 422) == "contact_required"
    response = await owner.post(url, json={"display_name": "New", "email": f"{unique('np')}@example.com"})
    assert _error(response, 422) == "password_required"


async def test_email_and_mobile_of_two_accounts_is_refused(new_client):
    owner, org = await owner_with_org(new_client)
    _, first = await signed_in(new_client)
    mobile = unique_mobile()
    await signed_in(new_client, email=None, mobile=mobile)
    response = await owner.post(f"/orgs/{org['id']}/members",
                                json={"display_name": "Mixed", "email": first["email"], "mobile": mobile})
    assert _error(response, 409) == "contact_mismatch"


async def test_an_active_member_cannot_be_added_twice(new_client):
    owner, org = await owner_with_org(new_client)
    email = f"{unique('twice')}@example.com"
    await add_member(new_client, owner, org, email=email)
    response = await owner.post(f"/orgs/{org['id']}/members", json={"display_name": "Again", "email": email})
    assert _error(response, 409) == "already_member"


async def test_a_removed_member_comes_back_on_the_same_row(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    email = f"{unique('back')}@example.com"
    client, member = await add_member(new_client, owner, org, email=email, staff_id="R-1")
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    back = check(await owner.post(f"/orgs/{org['id']}/members",
                                  json={"display_name": "Back Again", "email": email, "department_ids": [dept["id"]],
                                        "roles": ["admin"]}), 201)
    assert back["id"] == member["id"]
    assert back["status"] == "active" and back["display_name"] == "Back Again"
    assert back["roles"] == ["admin"] and back["department_ids"] == [dept["id"]]
    assert back["staff_id"] == "R-1"
    assert check(await client.get(f"/orgs/{org['id']}"), 200)["member_id"] == member["id"]


async def test_references_must_belong_to_the_org(new_client):
    owner, org = await owner_with_org(new_client)
    other_owner, other = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/members"
    base = {"display_name": "X", "email": f"{unique('ref')}@example.com", "initial_password": PASSWORD}
    response = await owner.post(url, json={**base, "department_ids": [other["root_department_id"]]})
    assert _error(response, 404) == "department_not_found"
    assert response.json()["error"]["details"] == {"department_ids": [other["root_department_id"]]}
    response = await owner.post(url, json={**base, "manager_id": other["member_id"]})
    assert _error(response, 404) == "manager_not_found"
    # Nothing was created by the refused requests: the same email can still be added cleanly.
    assert check(await owner.post(url, json=base), 201)["display_name"] == "X"
    listed = check(await other_owner.get(f"/orgs/{other['id']}/members"), 200)["items"]
    assert [m["id"] for m in listed] == [other["member_id"]]


async def test_school_roles_only_in_schools(new_client):
    owner, org = await owner_with_org(new_client)
    for role in ("teacher", "student", "parent"):
        response = await owner.post(f"/orgs/{org['id']}/members", json={
            "display_name": "T", "email": f"{unique('t')}@example.com", "initial_password": PASSWORD, "roles": [role]})
        assert _error(response, 422) == "role_not_allowed"
    school_owner, school = await owner_with_org(new_client, kind="school")
    _, teacher = await add_member(new_client, school_owner, school, roles=["teacher", "admin"])
    assert teacher["roles"] == ["admin", "teacher"]


async def test_only_an_owner_grants_owner(new_client):
    owner, org = await owner_with_org(new_client)
    admin, _ = await add_member(new_client, owner, org, roles=["admin"])
    body = {"display_name": "O", "email": f"{unique('o')}@example.com", "initial_password": PASSWORD, "roles": ["owner"]}
    assert _error(await admin.post(f"/orgs/{org['id']}/members", json=body), 403) == "owner_required"
    _, target = await add_member(new_client, owner, org)
    response = await admin.patch(f"/orgs/{org['id']}/members/{target['id']}", json={"roles": ["owner"]})
    assert _error(response, 403) == "owner_required"
    promoted = check(await owner.patch(f"/orgs/{org['id']}/members/{target['id']}", json={"roles": ["owner"]}), 200)
    assert promoted["roles"] == ["owner"]
    # An admin cannot take owner away either.
    response = await admin.patch(f"/orgs/{org['id']}/members/{target['id']}", json={"roles": ["member"]})
    assert _error(response, 403) == "owner_required"
    # But may change what does not touch ownership.
    renamed = check(await admin.patch(f"/orgs/{org['id']}/members/{target['id']}", json={"title": "Boss"}), 200)
    assert renamed["title"] == "Boss" and renamed["roles"] == ["owner"]


async def test_member_input_is_validated(new_client):
    owner, org = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/members"
    for body in (
        {"display_name": "", "email": "a@example.com"},
        {"display_name": "A", "email": "not-an-email"},
        {"display_name": "A", "mobile": "12-34"},
        {"display_name": "A", "email": "a@example.com", "roles": []},
        {"display_name": "A", "email": "a@example.com", "roles": ["king"]},
        {"display_name": "A", "email": "a@example.com", "staff_id": "has space"},
        {"display_name": "A", "email": "a@example.com", "initial_password": "short"},
        {"display_name": "A", "email": "a@example.com", "department_ids": ["bad"]},
    ):
        assert _error(await owner.post(url, json=body), 422) == "validation_error", body


# ---- updating -----------------------------------------------------------------------------------


async def test_update_fields_and_clear_with_null(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    _, member = await add_member(new_client, owner, org, staff_id="S-1", title="Clerk", manager_id=org["member_id"])
    url = f"/orgs/{org['id']}/members/{member['id']}"
    updated = check(await owner.patch(url, json={
        "display_name": "Renamed", "title": "Lead", "department_ids": [dept["id"], dept["id"]],
        "email": "Work@Example.com", "mobile": "13900000000"}), 200)
    assert updated["display_name"] == "Renamed" and updated["title"] == "Lead"
    assert updated["department_ids"] == [dept["id"]]
    assert (updated["email"], updated["mobile"]) == ("work@example.com", "13900000000")
    assert updated["staff_id"] == "S-1" and updated["manager_id"] == org["member_id"]
    cleared = check(await owner.patch(url, json={"staff_id": None, "title": None, "manager_id": None,
                                                 "display_name": None, "department_ids": []}), 200)
    assert (cleared["staff_id"], cleared["title"], cleared["manager_id"], cleared["manager_name"]) == (
        None, None, None, None)
    assert cleared["display_name"] == "Renamed"
    assert cleared["department_ids"] == [org["root_department_id"]]


async def test_staff_ids_are_unique_per_org(new_client):
    owner, org = await owner_with_org(new_client)
    other_owner, other = await owner_with_org(new_client)
    _, first = await add_member(new_client, owner, org, staff_id="A-1")
    _, second = await add_member(new_client, owner, org)
    response = await owner.patch(f"/orgs/{org['id']}/members/{second['id']}", json={"staff_id": "A-1"})
    assert _error(response, 409) == "staff_id_taken"
    response = await owner.post(f"/orgs/{org['id']}/members", json={
        "display_name": "X", "email": f"{unique('s')}@example.com", "initial_password": PASSWORD, "staff_id": "A-1"})
    assert _error(response, 409) == "staff_id_taken"
    # Setting one's own staff id again is no conflict, and another organization may use it.
    check(await owner.patch(f"/orgs/{org['id']}/members/{first['id']}", json={"staff_id": "A-1"}), 200)
    await add_member(new_client, other_owner, other, staff_id="A-1")


async def test_a_refused_update_changes_nothing(new_client):
    owner, org = await owner_with_org(new_client)
    await add_member(new_client, owner, org, staff_id="T-1")
    _, member = await add_member(new_client, owner, org)
    url = f"/orgs/{org['id']}/members/{member['id']}"
    # Roles are applied before the staff id is checked; the refusal must undo them.
    response = await owner.patch(url, json={"roles": ["admin"], "display_name": "Half", "staff_id": "T-1"})
    assert _error(response, 409) == "staff_id_taken"
    after = await _member(owner, org, member["id"])
    assert after["roles"] == ["member"] and after["display_name"] == member["display_name"]


async def test_managers_cannot_loop(new_client):
    owner, org = await owner_with_org(new_client)
    _, a = await add_member(new_client, owner, org)
    _, b = await add_member(new_client, owner, org, manager_id=a["id"])
    _, c = await add_member(new_client, owner, org, manager_id=b["id"])
    url = f"/orgs/{org['id']}/members"
    assert _error(await owner.patch(f"{url}/{a['id']}", json={"manager_id": a["id"]}), 409) == "manager_cycle"
    assert _error(await owner.patch(f"{url}/{a['id']}", json={"manager_id": c["id"]}), 409) == "manager_cycle"
    assert _error(await owner.patch(f"{url}/{b['id']}", json={"manager_id": c["id"]}), 409) == "manager_cycle"
    fine = check(await owner.patch(f"{url}/{a['id']}", json={"manager_id": org["member_id"]}), 200)
    assert fine["manager_id"] == org["member_id"]
    detail = await _member(owner, org, c["id"])
    assert detail["manager_id"] == b["id"] and detail["manager_name"] == b["display_name"]


async def test_the_last_owner_keeps_ownership(new_client):
    owner, org = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/members/{org['member_id']}"
    assert _error(await owner.patch(url, json={"roles": ["admin"]}), 409) == "last_owner"
    assert _error(await owner.delete(url), 409) == "last_owner"
    _, second = await add_member(new_client, owner, org, roles=["owner"])
    demoted = check(await owner.patch(url, json={"roles": ["admin"]}), 200)
    assert demoted["roles"] == ["admin"]
    assert check(await owner.get(f"/orgs/{org['id']}"), 200)["is_admin"] is True


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(new_client):
    first, org = await owner_with_org(new_client)
    second, second_row = await add_member(new_client, first, org, roles=["owner"])
    responses = await asyncio.gather(
        first.patch(f"/orgs/{org['id']}/members/{second_row['id']}", json={"roles": ["admin"]}),
        second.patch(f"/orgs/{org['id']}/members/{org['member_id']}", json={"roles": ["admin"]}),
    )
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 1 and len(refused) == 1, [r.text for r in responses]
    # Whoever comes second is refused: as no longer an owner (when the first had already
    # finished) or as the last owner (when both were under way at once).
    assert refused[0].json()["error"]["code"] in {"owner_required", "last_owner"}
    owners = check(await first.get(f"/orgs/{org['id']}/members", params={"role": "owner"}), 200)["items"]
    assert len(owners) == 1


async def test_a_removed_member_cannot_be_updated(new_client):
    owner, org = await owner_with_org(new_client)
    _, member = await add_member(new_client, owner, org)
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    response = await owner.patch(f"/orgs/{org['id']}/members/{member['id']}", json={"title": "x"})
    assert _error(response, 409) == "member_removed"


async def test_renaming_updates_search(new_client):
    owner, org = await owner_with_org(new_client)
    _, member = await add_member(new_client, owner, org, name="Old Name")
    check(await owner.patch(f"/orgs/{org['id']}/members/{member['id']}", json={"display_name": "王五", "staff_id": "Q9"}), 200)

    async def found(q: str) -> list[str]:
        page = check(await owner.get(f"/orgs/{org['id']}/members", params={"q": q}), 200)
        return [m["id"] for m in page["items"]]

    assert await found("oldname") == []
    assert await found("wangwu") == [member["id"]]
    assert await found("q9") == [member["id"]]


# ---- removing -----------------------------------------------------------------------------------


async def test_removing_keeps_the_row_for_history(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    client, member = await add_member(new_client, owner, org, name="Leaving Person", department_ids=[dept["id"]],
                                      roles=["admin"], manager_id=org["member_id"])
    _, report = await add_member(new_client, owner, org, manager_id=member["id"])
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)

    gone = await _member(owner, org, member["id"])
    assert gone["status"] == "removed" and gone["display_name"] == "Leaving Person"
    assert gone["roles"] == [] and gone["department_ids"] == [] and gone["manager_id"] is None
    assert (await _member(owner, org, report["id"]))["manager_id"] is None
    response = await client.get(f"/orgs/{org['id']}")
    assert _error(response, 404) == "org_not_found"
    assert _error(await client.get(f"/orgs/{org['id']}/members"), 404) == "org_not_found"
    # Removing again is a no-op.
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    listed = check(await owner.get(f"/orgs/{org['id']}/members"), 200)["items"]
    assert member["id"] not in {m["id"] for m in listed}
    with_removed = check(await owner.get(f"/orgs/{org['id']}/members", params={"include_removed": "true"}), 200)
    assert member["id"] in {m["id"] for m in with_removed["items"]}


async def test_only_owners_remove_owners(new_client):
    owner, org = await owner_with_org(new_client)
    admin, _ = await add_member(new_client, owner, org, roles=["admin"])
    _, co_owner = await add_member(new_client, owner, org, roles=["owner"])
    response = await admin.delete(f"/orgs/{org['id']}/members/{co_owner['id']}")
    assert _error(response, 403) == "owner_required"
    assert (await _member(owner, org, co_owner["id"]))["status"] == "active"
    check(await owner.delete(f"/orgs/{org['id']}/members/{co_owner['id']}"), 204)


async def test_include_removed_is_for_admins(new_client):
    owner, org = await owner_with_org(new_client)
    member, _ = await add_member(new_client, owner, org)
    response = await member.get(f"/orgs/{org['id']}/members", params={"include_removed": "true"})
    assert _error(response, 403) == "admin_required"


async def test_members_cannot_change_members(new_client):
    owner, org = await owner_with_org(new_client, kind="school")
    member, me = await add_member(new_client, owner, org, roles=["teacher"])
    _, other = await add_member(new_client, owner, org)
    url = f"/orgs/{org['id']}/members"
    body = {"display_name": "X", "email": f"{unique('x')}@example.com", "initial_password": PASSWORD}
    assert _error(await member.post(url, json=body), 403) == "admin_required"
    assert _error(await member.patch(f"{url}/{other['id']}", json={"title": "x"}), 403) == "admin_required"
    assert _error(await member.patch(f"{url}/{me['id']}", json={"roles": ["admin"]}), 403) == "admin_required"
    assert _error(await member.delete(f"{url}/{other['id']}"), 403) == "admin_required"
    assert (await _member(owner, org, other["id"]))["status"] == "active"


async def test_unknown_member_is_not_found(new_client):
    owner, org = await owner_with_org(new_client)
    _, other = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/members/{other['member_id']}"
    assert _error(await owner.get(url), 404) == "member_not_found"
    assert _error(await owner.patch(url, json={"title": "x"}), 404) == "member_not_found"
    assert _error(await owner.delete(url), 404) == "member_not_found"


# ---- guardians ----------------------------------------------------------------------------------


async def test_linking_parents_and_students(new_client):
    owner, school = await owner_with_org(new_client, kind="school")
    _, student = await add_member(new_client, owner, school, name="Xiao Ming", roles=["student"])
    _, mother = await add_member(new_client, owner, school, name="Mother", roles=["parent"])
    _, father = await add_member(new_client, owner, school, name="Father", roles=["parent"])
    url = f"/orgs/{school['id']}/members/{student['id']}/guardians"
    linked = check(await owner.post(url, json={"parent_member_id": mother["id"], "relation": "mother"}), 201)
    assert linked["id"] == student["id"]
    assert linked["parents"] == [{"member_id": mother["id"], "display_name": "Mother", "relation": "mother"}]
    check(await owner.post(url, json={"parent_member_id": father["id"]}), 201)
    # Linking again updates the relation instead of failing.
    again = check(await owner.post(url, json={"parent_member_id": father["id"], "relation": "father"}), 201)
    assert [(p["display_name"], p["relation"]) for p in again["parents"]] == [("Father", "father"), ("Mother", "mother")]
    mother_view = await _member(owner, school, mother["id"])
    assert mother_view["children"] == [{"member_id": student["id"], "display_name": "Xiao Ming", "relation": "mother"}]

    check(await owner.delete(f"{url}/{mother['id']}"), 204)
    assert [p["member_id"] for p in (await _member(owner, school, student["id"]))["parents"]] == [father["id"]]
    assert _error(await owner.delete(f"{url}/{mother['id']}"), 404) == "guardian_link_not_found"


async def test_guardian_links_need_the_right_roles(new_client):
    owner, school = await owner_with_org(new_client, kind="school")
    _, student = await add_member(new_client, owner, school, roles=["student"])
    _, parent = await add_member(new_client, owner, school, roles=["parent"])
    _, teacher = await add_member(new_client, owner, school, roles=["teacher"])
    base = f"/orgs/{school['id']}/members"
    response = await owner.post(f"{base}/{teacher['id']}/guardians", json={"parent_member_id": parent["id"]})
    assert _error(response, 422) == "not_a_student"
    response = await owner.post(f"{base}/{student['id']}/guardians", json={"parent_member_id": teacher["id"]})
    assert _error(response, 422) == "not_a_parent"
    response = await owner.post(f"{base}/{student['id']}/guardians", json={"parent_member_id": student["id"]})
    assert _error(response, 422) == "not_a_parent"
    _, foreign = await owner_with_org(new_client, kind="school")
    response = await owner.post(f"{base}/{student['id']}/guardians", json={"parent_member_id": foreign["member_id"]})
    assert _error(response, 404) == "parent_not_found"

    company_owner, company = await owner_with_org(new_client)
    _, a = await add_member(new_client, company_owner, company)
    _, b = await add_member(new_client, company_owner, company)
    response = await company_owner.post(f"/orgs/{company['id']}/members/{a['id']}/guardians",
                                        json={"parent_member_id": b["id"]})
    assert _error(response, 422) == "not_a_school"


async def test_losing_the_role_or_leaving_drops_guardian_links(new_client):
    owner, school = await owner_with_org(new_client, kind="school")
    _, student = await add_member(new_client, owner, school, roles=["student"])
    _, parent = await add_member(new_client, owner, school, roles=["parent"])
    _, other_parent = await add_member(new_client, owner, school, roles=["parent"])
    base = f"/orgs/{school['id']}/members"
    check(await owner.post(f"{base}/{student['id']}/guardians", json={"parent_member_id": parent["id"]}), 201)
    check(await owner.post(f"{base}/{student['id']}/guardians", json={"parent_member_id": other_parent["id"]}), 201)
    check(await owner.patch(f"{base}/{parent['id']}", json={"roles": ["teacher"]}), 200)
    assert [p["member_id"] for p in (await _member(owner, school, student["id"]))["parents"]] == [other_parent["id"]]
    check(await owner.delete(f"{base}/{other_parent['id']}"), 204)
    assert (await _member(owner, school, student["id"]))["parents"] == []
