from __future__ import annotations

import base64

import pytest

from tests.factories import add_member, check, create_department, owner_with_org, unique_mobile


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


async def _search(client, org: dict, q: str, **params: object) -> list[str]:  # type: ignore[no-untyped-def]
    page = check(await client.get(f"/orgs/{org['id']}/members", params={"q": q, **params}), 200)
    return [m["display_name"] for m in page["items"]]


async def _all_pages(client, url: str, limit: int, **params: object) -> list[dict]:  # type: ignore[no-untyped-def]
    items: list[dict] = []
    cursor = None
    for _ in range(100):
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = check(await client.get(url, params=query), 200)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


@pytest.fixture
async def chinese_names(new_client):  # type: ignore[no-untyped-def]
    owner, org = await owner_with_org(new_client, owner_name="Owner Person")
    for name, staff_id in (("张三", "E1001"), ("张伟", None), ("李四", None), ("王小明", "E2002"), ("Zhang Wei", None)):
        await add_member(new_client, owner, org, name=name, staff_id=staff_id)
    return owner, org


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zhangsan", ["张三"]),
        ("zs", ["张三"]),
        ("zhang san", ["张三"]),
        ("ZhangSan", ["张三"]),
        ("张三", ["张三"]),
        ("张", ["张三", "张伟"]),
        ("zhangwei", ["Zhang Wei", "张伟"]),
        ("xiaoming", ["王小明"]),
        ("wxm", ["王小明"]),
        ("e1001", ["张三"]),
        ("E2002", ["王小明"]),
        ("nobody", []),
        ("%", []),
        ("_", []),
    ],
)
async def test_search_by_name_pinyin_initials_and_staff_id(chinese_names, query, expected):
    owner, org = chinese_names
    assert sorted(await _search(owner, org, query)) == sorted(expected)


async def test_listing_sorts_by_pinyin(chinese_names):
    owner, org = chinese_names
    names = [m["display_name"] for m in check(await owner.get(f"/orgs/{org['id']}/members"), 200)["items"]]
    # 李 li < Owner < 王 wang < 张 zhang: Chinese names sort by their pinyin among Latin ones.
    assert names.index("李四") < names.index("Owner Person") < names.index("王小明") < names.index("张三")


async def test_search_by_mobile_only_for_those_who_may_see_it(new_client):
    company_owner, company = await owner_with_org(new_client)
    mobile = unique_mobile()
    await add_member(new_client, company_owner, company, name="Has Phone", mobile=mobile)
    colleague, _ = await add_member(new_client, company_owner, company)
    assert await _search(colleague, company, mobile[-6:]) == ["Has Phone"]
    assert await _search(colleague, company, f"{mobile[:3]} {mobile[3:7]}-{mobile[7:]}") == ["Has Phone"]

    school_owner, school = await owner_with_org(new_client, kind="school")
    school_mobile = unique_mobile()
    await add_member(new_client, school_owner, school, name="Teacher Phone", roles=["teacher"], mobile=school_mobile)
    student, _ = await add_member(new_client, school_owner, school, roles=["student"])
    parent, _ = await add_member(new_client, school_owner, school, roles=["parent"])
    teacher, _ = await add_member(new_client, school_owner, school, roles=["teacher"])
    assert await _search(student, school, school_mobile) == []
    assert await _search(parent, school, school_mobile) == []
    assert await _search(teacher, school, school_mobile) == ["Teacher Phone"]
    assert await _search(school_owner, school, school_mobile) == ["Teacher Phone"]


async def test_filters_by_department_and_role(new_client):
    owner, school = await owner_with_org(new_client, kind="school")
    klass = await create_department(owner, school, kind="class")
    _, in_class = await add_member(new_client, owner, school, roles=["student"], department_ids=[klass["id"]])
    _, teacher = await add_member(new_client, owner, school, roles=["teacher"], department_ids=[klass["id"]])
    await add_member(new_client, owner, school, roles=["student"])
    url = f"/orgs/{school['id']}/members"
    in_dept = check(await owner.get(url, params={"department_id": klass["id"]}), 200)["items"]
    assert {m["id"] for m in in_dept} == {in_class["id"], teacher["id"]}
    students_here = check(await owner.get(url, params={"department_id": klass["id"], "role": "student"}), 200)
    assert [m["id"] for m in students_here["items"]] == [in_class["id"]]
    assert len(check(await owner.get(url, params={"role": "student"}), 200)["items"]) == 2
    response = await owner.get(url, params={"department_id": school["member_id"]})
    assert _error(response, 404) == "department_not_found"
    assert _error(await owner.get(url, params={"role": "king"}), 422) == "validation_error"


async def test_paging_has_no_duplicates_or_gaps(new_client):
    owner, org = await owner_with_org(new_client, owner_name="aa owner")
    # Several people share a name, so the id must break ties for the cursor.
    names = [f"person {i % 4}" for i in range(12)]
    expected = {org["member_id"]}
    for name in names:
        _, member = await add_member(new_client, owner, org, name=name)
        expected.add(member["id"])
    url = f"/orgs/{org['id']}/members"
    for limit in (1, 5, 13, 200):
        items = await _all_pages(owner, url, limit)
        ids = [m["id"] for m in items]
        assert len(ids) == len(set(ids)) == len(expected)
        assert set(ids) == expected
        keys = [("".join(m["display_name"].split()).lower(), m["id"]) for m in items]
        assert keys == sorted(keys)


async def test_paging_is_stable_while_people_join(new_client):
    owner, org = await owner_with_org(new_client, owner_name="mm owner")
    original = {org["member_id"]}
    for i in range(8):
        _, member = await add_member(new_client, owner, org, name=f"mm person {i}")
        original.add(member["id"])
    url = f"/orgs/{org['id']}/members"
    first = check(await owner.get(url, params={"limit": 4}), 200)
    # People who sort before the cursor and after it join between two pages.
    _, early = await add_member(new_client, owner, org, name="aa early")
    _, late = await add_member(new_client, owner, org, name="zz late")
    rest = await _all_pages(owner, url, 4, cursor=first["next_cursor"])
    ids = [m["id"] for m in first["items"]] + [m["id"] for m in rest]
    assert len(ids) == len(set(ids))
    assert original | {late["id"]} == set(ids)
    assert early["id"] not in ids


async def test_bad_cursor_and_limits_are_refused(new_client):
    owner, org = await owner_with_org(new_client)
    url = f"/orgs/{org['id']}/members"
    assert _error(await owner.get(url, params={"cursor": "bm90LWpzb24"}), 422) == "invalid_cursor"
    assert _error(await owner.get(url, params={"cursor": "WzFd"}), 422) == "invalid_cursor"
    assert _error(await owner.get(url, params={"cursor": "not base64!"}), 422) == "validation_error"
    # Well-formed base64 of JSON that no database could compare with: refused as a bad cursor.
    some_id = org["member_id"]
    lone_surrogate, nul = "\\ud800", "\\u0000"  # JSON escapes, decoded by the server
    for crafted in (f'["{lone_surrogate}","{some_id}"]', f'["a{nul}","{some_id}"]', f'["a","x{nul}"]',
                    '["a","not-an-id"]', f'["{"a" * 201}","{some_id}"]', '{"a": 1, "b": 2}'):
        cursor = base64.urlsafe_b64encode(crafted.encode()).decode().rstrip("=")
        assert _error(await owner.get(url, params={"cursor": cursor}), 422) == "invalid_cursor", crafted
    for limit in (0, 201):
        assert _error(await owner.get(url, params={"limit": limit}), 422) == "validation_error"
    assert check(await owner.get(url, params={"limit": 200}), 200)["next_cursor"] is None


async def test_a_long_name_still_pages(new_client):
    owner, org = await owner_with_org(new_client, owner_name="a")
    # 100 characters outside any pinyin table make the longest possible sort key.
    await add_member(new_client, owner, org, name="ж" * 100)
    await add_member(new_client, owner, org, name="я" * 100)
    url = f"/orgs/{org['id']}/members"
    first = check(await owner.get(url, params={"limit": 2}), 200)
    assert first["next_cursor"]
    rest = await _all_pages(owner, url, 2, cursor=first["next_cursor"])
    assert [m["display_name"] for m in rest] == ["я" * 100]


# ---- contact-detail visibility -----------------------------------------------------------------


async def test_company_members_see_each_others_contact_details(new_client):
    owner, org = await owner_with_org(new_client)
    mobile = unique_mobile()
    _, target = await add_member(new_client, owner, org, mobile=mobile, email="target@example.com")
    colleague, _ = await add_member(new_client, owner, org)
    seen = check(await colleague.get(f"/orgs/{org['id']}/members/{target['id']}"), 200)
    assert (seen["mobile"], seen["email"]) == (mobile, "target@example.com")


async def test_in_schools_students_and_parents_see_only_their_own_details(new_client):
    owner, school = await owner_with_org(new_client, kind="school")
    teacher_mobile = unique_mobile()
    _, teacher_row = await add_member(new_client, owner, school, roles=["teacher"], mobile=teacher_mobile)
    student, student_row = await add_member(new_client, owner, school, roles=["student"])
    parent, parent_row = await add_member(new_client, owner, school, roles=["parent"])
    teacher, _ = await add_member(new_client, owner, school, roles=["teacher"])
    url = f"/orgs/{school['id']}/members"

    for viewer, own in ((student, student_row), (parent, parent_row)):
        detail = check(await viewer.get(f"{url}/{teacher_row['id']}"), 200)
        assert (detail["mobile"], detail["email"]) == (None, None)
        listed = check(await viewer.get(url, params={"limit": 200}), 200)["items"]
        assert len(listed) == 5
        for member in listed:
            if member["id"] == own["id"]:
                assert member["email"] == own["email"]
            else:
                assert (member["mobile"], member["email"]) == (None, None), member
        view = check(await viewer.get(f"/orgs/{school['id']}/contacts"), 200)
        others = [m for m in view["members"]["items"] if m["id"] != own["id"]]
        assert others and all(m["email"] is None and m["mobile"] is None for m in others)

    for viewer in (teacher, owner):
        detail = check(await viewer.get(f"{url}/{teacher_row['id']}"), 200)
        assert detail["mobile"] == teacher_mobile and detail["email"] is None
        assert check(await viewer.get(f"{url}/{student_row['id']}"), 200)["email"] == student_row["email"]


async def test_removed_members_contact_details_are_for_admins_only(new_client):
    owner, org = await owner_with_org(new_client)
    colleague, _ = await add_member(new_client, owner, org)
    _, leaver = await add_member(new_client, owner, org)
    check(await owner.delete(f"/orgs/{org['id']}/members/{leaver['id']}"), 204)
    seen = check(await colleague.get(f"/orgs/{org['id']}/members/{leaver['id']}"), 200)
    assert seen["display_name"] == leaver["display_name"] and seen["status"] == "removed"
    assert seen["email"] is None
    assert check(await owner.get(f"/orgs/{org['id']}/members/{leaver['id']}"), 200)["email"] == leaver["email"]


# ---- browsing -----------------------------------------------------------------------------------


async def test_browsing_departments(new_client):
    owner, org = await owner_with_org(new_client)
    eng = await create_department(owner, org, name="Engineering", sort_order=1)
    await create_department(owner, org, name="Design", sort_order=2)
    backend = await create_department(owner, org, name="Backend", parent_id=eng["id"])
    frontend = await create_department(owner, org, name="Frontend", parent_id=eng["id"])
    viewer, viewer_row = await add_member(new_client, owner, org)
    for i in range(3):
        await add_member(new_client, owner, org, name=f"Dev {i}", department_ids=[eng["id"]])

    top = check(await viewer.get(f"/orgs/{org['id']}/contacts"), 200)
    assert top["department"]["id"] == org["root_department_id"]
    assert top["department"]["member_count"] == 2
    assert top["path"] == []
    assert [d["name"] for d in top["departments"]] == ["Engineering", "Design"]
    assert top["departments"][0]["member_count"] == 3
    assert {m["id"] for m in top["members"]["items"]} == {org["member_id"], viewer_row["id"]}

    view = check(await viewer.get(f"/orgs/{org['id']}/contacts",
                                  params={"department_id": eng["id"], "limit": 2}), 200)
    assert view["department"]["name"] == "Engineering"
    assert [d["id"] for d in view["path"]] == [org["root_department_id"]]
    assert [d["id"] for d in view["departments"]] == [backend["id"], frontend["id"]]
    assert [m["display_name"] for m in view["members"]["items"]] == ["Dev 0", "Dev 1"]
    cursor = view["members"]["next_cursor"]
    assert cursor
    more = check(await viewer.get(f"/orgs/{org['id']}/contacts",
                                  params={"department_id": eng["id"], "limit": 2, "cursor": cursor}), 200)
    assert [m["display_name"] for m in more["members"]["items"]] == ["Dev 2"]
    assert more["members"]["next_cursor"] is None
    # The same cursor continues the members listing of that department.
    same = check(await viewer.get(f"/orgs/{org['id']}/members",
                                  params={"department_id": eng["id"], "limit": 2, "cursor": cursor}), 200)
    assert [m["display_name"] for m in same["items"]] == ["Dev 2"]

    deep = check(await viewer.get(f"/orgs/{org['id']}/contacts", params={"department_id": backend["id"]}), 200)
    assert [d["id"] for d in deep["path"]] == [org["root_department_id"], eng["id"]]
    assert deep["departments"] == [] and deep["members"]["items"] == []


async def test_browsing_an_unknown_department_is_not_found(new_client):
    owner, org = await owner_with_org(new_client)
    _, other = await owner_with_org(new_client)
    response = await owner.get(f"/orgs/{org['id']}/contacts", params={"department_id": other["root_department_id"]})
    assert _error(response, 404) == "department_not_found"
