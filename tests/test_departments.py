from __future__ import annotations

from tests.factories import (
    add_member,
    check,
    create_department,
    invite,
    owner_with_org,
    signed_in,
)


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


async def test_the_tree_lists_flat_in_display_order_with_member_counts(new_client):
    owner, org = await owner_with_org(new_client)
    root = org["root_department_id"]
    sales = await create_department(owner, org, name="Sales", sort_order=2)
    beta = await create_department(owner, org, name="Beta", sort_order=1)
    alpha = await create_department(owner, org, name="Alpha", sort_order=1)
    east = await create_department(owner, org, name="East", parent_id=sales["id"])
    assert east["parent_id"] == sales["id"] and east["kind"] == "department" and east["member_count"] == 0
    await add_member(new_client, owner, org, department_ids=[sales["id"]])
    await add_member(new_client, owner, org, department_ids=[sales["id"], east["id"]])
    _, leaving = await add_member(new_client, owner, org, department_ids=[sales["id"]])
    check(await owner.delete(f"/orgs/{org['id']}/members/{leaving['id']}"), 204)

    listed = check(await owner.get(f"/orgs/{org['id']}/departments"), 200)
    # By sort_order, then name: East (0) and the root "Org ..." (0) before Alpha and Beta (1), Sales (2).
    assert [d["id"] for d in listed] == [east["id"], root, alpha["id"], beta["id"], sales["id"]]
    counts = {d["id"]: d["member_count"] for d in listed}
    # Direct, active members only: the removed one is not counted, East's member counts in East.
    assert counts == {root: 1, alpha["id"]: 0, beta["id"]: 0, east["id"]: 1, sales["id"]: 2}
    one = check(await owner.get(f"/orgs/{org['id']}/departments/{sales['id']}"), 200)
    assert one["member_count"] == 2 and one["name"] == "Sales" and one["sort_order"] == 2


async def test_members_can_read_departments(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org, name="Ops")
    member, _ = await add_member(new_client, owner, org)
    assert len(check(await member.get(f"/orgs/{org['id']}/departments"), 200)) == 2
    assert check(await member.get(f"/orgs/{org['id']}/departments/{dept['id']}"), 200)["name"] == "Ops"


async def test_parent_must_be_in_the_same_org(new_client):
    owner, org = await owner_with_org(new_client)
    other_owner, other = await owner_with_org(new_client)
    response = await owner.post(
        f"/orgs/{org['id']}/departments", json={"name": "X", "parent_id": other["root_department_id"]}
    )
    assert _error(response, 404) == "department_not_found"
    assert len(check(await owner.get(f"/orgs/{org['id']}/departments"), 200)) == 1
    assert len(check(await other_owner.get(f"/orgs/{other['id']}/departments"), 200)) == 1
    unknown = await owner.get(f"/orgs/{org['id']}/departments/{other['root_department_id']}")
    assert _error(unknown, 404) == "department_not_found"


async def test_grades_and_classes_only_in_schools(new_client):
    company_owner, company = await owner_with_org(new_client)
    response = await company_owner.post(
        f"/orgs/{company['id']}/departments",
        json={"name": "Grade 1", "parent_id": company["root_department_id"], "kind": "grade"},
    )
    assert _error(response, 422) == "kind_not_allowed"
    plain = await create_department(company_owner, company)
    response = await company_owner.patch(f"/orgs/{company['id']}/departments/{plain['id']}", json={"kind": "class"})
    assert _error(response, 422) == "kind_not_allowed"

    school_owner, school = await owner_with_org(new_client, kind="school")
    grade = await create_department(school_owner, school, name="Grade 1", kind="grade")
    klass = await create_department(school_owner, school, name="Class 1", kind="class", parent_id=grade["id"])
    assert (grade["kind"], klass["kind"], klass["parent_id"]) == ("grade", "class", grade["id"])


async def test_rename_reorder_and_move(new_client):
    owner, org = await owner_with_org(new_client)
    a = await create_department(owner, org, name="A")
    b = await create_department(owner, org, name="B")
    moved = check(
        await owner.patch(f"/orgs/{org['id']}/departments/{b['id']}",
                          json={"parent_id": a["id"], "name": "B2", "sort_order": 5}),
        200,
    )
    assert (moved["parent_id"], moved["name"], moved["sort_order"]) == (a["id"], "B2", 5)
    again = check(await owner.get(f"/orgs/{org['id']}/departments/{b['id']}"), 200)
    assert again == moved


async def test_moving_under_itself_or_a_descendant_is_a_cycle(new_client):
    owner, org = await owner_with_org(new_client)
    a = await create_department(owner, org, name="A")
    b = await create_department(owner, org, name="B", parent_id=a["id"])
    c = await create_department(owner, org, name="C", parent_id=b["id"])
    for target in (a["id"], b["id"], c["id"]):
        response = await owner.patch(f"/orgs/{org['id']}/departments/{a['id']}", json={"parent_id": target})
        assert _error(response, 409) == "department_cycle"
    assert check(await owner.get(f"/orgs/{org['id']}/departments/{a['id']}"), 200)["parent_id"] == org[
        "root_department_id"
    ]
    # Moving a leaf up to the top is fine.
    up = check(await owner.patch(f"/orgs/{org['id']}/departments/{c['id']}",
                                 json={"parent_id": org["root_department_id"]}), 200)
    assert up["parent_id"] == org["root_department_id"]


async def test_the_root_cannot_be_moved_renamed_or_deleted(new_client):
    owner, org = await owner_with_org(new_client)
    root = org["root_department_id"]
    child = await create_department(owner, org)
    path = f"/orgs/{org['id']}/departments/{root}"
    assert _error(await owner.patch(path, json={"parent_id": child["id"]}), 409) == "root_department"
    assert _error(await owner.patch(path, json={"name": "Other"}), 409) == "root_department"
    assert _error(await owner.delete(path), 409) == "root_department"
    # Sending its current name, or only an order, changes nothing that matters and is accepted.
    same = check(await owner.patch(path, json={"name": org["name"], "sort_order": 3}), 200)
    assert same["name"] == org["name"] and same["parent_id"] is None


async def test_moving_under_a_department_of_another_org_is_not_found(new_client):
    owner, org = await owner_with_org(new_client)
    _, other = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    response = await owner.patch(f"/orgs/{org['id']}/departments/{dept['id']}",
                                 json={"parent_id": other["root_department_id"]})
    assert _error(response, 404) == "department_not_found"


async def test_only_empty_departments_can_be_deleted(new_client):
    owner, org = await owner_with_org(new_client)
    parent = await create_department(owner, org)
    child = await create_department(owner, org, parent_id=parent["id"])
    staffed = await create_department(owner, org)
    _, member = await add_member(new_client, owner, org, department_ids=[staffed["id"]])

    response = await owner.delete(f"/orgs/{org['id']}/departments/{parent['id']}")
    assert _error(response, 409) == "department_not_empty"
    assert response.json()["error"]["details"]["sub_departments"] is True
    response = await owner.delete(f"/orgs/{org['id']}/departments/{staffed['id']}")
    assert _error(response, 409) == "department_not_empty"
    assert response.json()["error"]["details"]["members"] == 1

    check(await owner.delete(f"/orgs/{org['id']}/departments/{child['id']}"), 204)
    check(await owner.delete(f"/orgs/{org['id']}/departments/{parent['id']}"), 204)
    assert _error(await owner.get(f"/orgs/{org['id']}/departments/{parent['id']}"), 404) == "department_not_found"
    # A department emptied by removing its member can go too.
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    check(await owner.delete(f"/orgs/{org['id']}/departments/{staffed['id']}"), 204)
    remaining = [d["id"] for d in check(await owner.get(f"/orgs/{org['id']}/departments"), 200)]
    assert remaining == [org["root_department_id"]]


async def test_deleting_a_department_keeps_its_invitations_usable(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org)
    invitation = await invite(owner, org, department_id=dept["id"])
    check(await owner.delete(f"/orgs/{org['id']}/departments/{dept['id']}"), 204)
    listed = check(await owner.get(f"/orgs/{org['id']}/invitations"), 200)
    assert [(i["id"], i["department_id"]) for i in listed] == [(invitation["id"], None)]
    joiner, _ = await signed_in(new_client)
    joined = check(await joiner.post(f"/invitations/{invitation['code']}/accept"), 200)
    member = check(await joiner.get(f"/orgs/{org['id']}/members/{joined['member_id']}"), 200)
    assert member["department_ids"] == [org["root_department_id"]]


async def test_department_input_is_validated(new_client):
    owner, org = await owner_with_org(new_client)
    root = org["root_department_id"]
    for body in ({"name": "", "parent_id": root}, {"name": "X"}, {"name": "X", "parent_id": "nope"},
                 {"name": "X", "parent_id": root, "kind": "team"},
                 {"name": "X", "parent_id": root, "sort_order": 10**7}):
        response = await owner.post(f"/orgs/{org['id']}/departments", json=body)
        assert _error(response, 422) == "validation_error", body


async def test_members_cannot_change_departments(new_client):
    owner, org = await owner_with_org(new_client)
    dept = await create_department(owner, org, name="Fixed")
    member, _ = await add_member(new_client, owner, org)
    base = f"/orgs/{org['id']}/departments"
    assert _error(await member.post(base, json={"name": "X", "parent_id": org["root_department_id"]}),
                  403) == "admin_required"
    assert _error(await member.patch(f"{base}/{dept['id']}", json={"name": "Y"}), 403) == "admin_required"
    assert _error(await member.delete(f"{base}/{dept['id']}"), 403) == "admin_required"
    assert check(await owner.get(f"{base}/{dept['id']}"), 200)["name"] == "Fixed"
