from __future__ import annotations

from tests.factories import add_member, check, create_org, owner_with_org, signed_in


async def test_creating_an_org_makes_the_creator_its_owner_in_a_root_department(new_client):
    client, account = await signed_in(new_client, name="Wang Fang")
    org = await create_org(client, name="Acme Ltd")
    assert org["name"] == "Acme Ltd"
    assert org["kind"] == "company"
    assert org["roles"] == ["owner"]
    assert org["is_admin"] is True
    assert org["root_department_id"]

    departments = check(await client.get(f"/orgs/{org['id']}/departments"), 200)
    assert [(d["id"], d["name"], d["parent_id"], d["member_count"]) for d in departments] == [
        (org["root_department_id"], "Acme Ltd", None, 1)
    ]
    me = check(await client.get(f"/orgs/{org['id']}/members/{org['member_id']}"), 200)
    assert me["account_id"] == account["id"]
    assert me["display_name"] == "Wang Fang"
    assert me["department_ids"] == [org["root_department_id"]]
    assert me["roles"] == ["owner"]
    assert me["email"] == account["email"]


async def test_a_school_can_be_created(new_client):
    client, _ = await signed_in(new_client)
    org = await create_org(client, kind="school")
    assert org["kind"] == "school"
    assert check(await client.get(f"/orgs/{org['id']}"), 200)["kind"] == "school"


async def test_list_shows_only_my_active_orgs(new_client):
    owner, org = await owner_with_org(new_client)
    second = await create_org(owner)
    _, foreign = await owner_with_org(new_client)
    mine = check(await owner.get("/orgs"), 200)
    ids = {o["id"] for o in mine}
    assert {org["id"], second["id"]} <= ids
    assert foreign["id"] not in ids

    member_client, member = await add_member(new_client, owner, org)
    listed = check(await member_client.get("/orgs"), 200)
    assert [(o["id"], o["member_id"], o["roles"], o["is_admin"]) for o in listed] == [
        (org["id"], member["id"], ["member"], False)
    ]
    check(await owner.delete(f"/orgs/{org['id']}/members/{member['id']}"), 204)
    assert check(await member_client.get("/orgs"), 200) == []


async def test_get_org_as_member_and_as_stranger(new_client):
    owner, org = await owner_with_org(new_client)
    member_client, member = await add_member(new_client, owner, org, roles=["admin"])
    seen = check(await member_client.get(f"/orgs/{org['id']}"), 200)
    assert seen["member_id"] == member["id"]
    assert seen["roles"] == ["admin"] and seen["is_admin"] is True

    stranger, _ = await signed_in(new_client)
    response = await stranger.get(f"/orgs/{org['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "org_not_found"


async def test_signed_out_callers_are_refused(new_client):
    owner, org = await owner_with_org(new_client)
    anonymous = new_client()
    assert (await anonymous.get("/orgs")).status_code == 401
    assert (await anonymous.post("/orgs", json={"name": "X"})).status_code == 401
    assert (await anonymous.get(f"/orgs/{org['id']}")).status_code == 401


async def test_renaming_the_org_renames_its_root_department(new_client):
    owner, org = await owner_with_org(new_client)
    renamed = check(await owner.patch(f"/orgs/{org['id']}", json={"name": "New Name"}), 200)
    assert renamed["name"] == "New Name"
    assert renamed["roles"] == ["owner"]
    root = check(await owner.get(f"/orgs/{org['id']}/departments/{org['root_department_id']}"), 200)
    assert root["name"] == "New Name"
    assert check(await owner.get(f"/orgs/{org['id']}"), 200)["name"] == "New Name"


async def test_an_admin_may_rename_but_a_member_may_not(new_client):
    owner, org = await owner_with_org(new_client)
    admin, _ = await add_member(new_client, owner, org, roles=["admin"])
    member, _ = await add_member(new_client, owner, org)
    check(await admin.patch(f"/orgs/{org['id']}", json={"name": "By Admin"}), 200)
    response = await member.patch(f"/orgs/{org['id']}", json={"name": "By Member"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"
    assert check(await owner.get(f"/orgs/{org['id']}"), 200)["name"] == "By Admin"


async def test_org_input_is_validated(new_client):
    client, _ = await signed_in(new_client)
    for body in ({"name": ""}, {"name": "  "}, {"name": "x" * 101}, {"name": "A", "kind": "club"},
                 {"name": "A", "extra": 1}):
        response = await client.post("/orgs", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    response = await client.get("/orgs/not-an-id")
    assert response.status_code == 422

