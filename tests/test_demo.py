"""The demo data: what `make run` shows a first-time visitor must be there, complete and consistent."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from tack.core.db import get_database
from tack.demo.seed import (
    COMPANY_NAME,
    DEMO_ADMIN_LOGIN,
    DEMO_ADMIN_NAME,
    DEMO_ADMIN_PASSWORD,
    SCHOOL_NAME,
    build_demo_rows,
    seed_demo,
)
from tack.identity.models import Account
from tack.orgs.models import (
    Department,
    GuardianLink,
    MemberDepartment,
    MemberRole,
    Membership,
    Organization,
)
from tests.factories import check


async def _org(session, name: str) -> Organization:  # type: ignore[no-untyped-def]
    return (await session.execute(select(Organization).where(Organization.name == name))).scalar_one()


async def _roles(session, org_id: str) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    roles: dict[str, set[str]] = {}
    for member_id, role in await session.execute(
        select(MemberRole.member_id, MemberRole.role).where(MemberRole.org_id == org_id)
    ):
        roles.setdefault(role, set()).add(member_id)
    return roles


async def _departments_of(session, org_id: str) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    placed: dict[str, set[str]] = {}
    for member_id, department_id in await session.execute(
        select(MemberDepartment.member_id, MemberDepartment.department_id).where(MemberDepartment.org_id == org_id)
    ):
        placed.setdefault(member_id, set()).add(department_id)
    return placed


async def _counts(session) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple(
        [await session.scalar(select(func.count()).select_from(model)) for model in
         (Account, Organization, Department, Membership, MemberRole, MemberDepartment, GuardianLink)]
    )


async def test_seed_creates_the_promised_school_and_company_once(app, client):
    lines: list[str] = []
    assert await seed_demo(progress=lines.append) is True
    assert any(SCHOOL_NAME in line for line in lines) and any(COMPANY_NAME in line for line in lines)

    async with get_database().session() as session:
        admin = (await session.execute(select(Account).where(Account.email == DEMO_ADMIN_LOGIN))).scalar_one()
        assert admin.name == DEMO_ADMIN_NAME
        school, company = await _org(session, SCHOOL_NAME), await _org(session, COMPANY_NAME)
        assert (school.kind, company.kind) == ("school", "company")

        for org in (school, company):
            departments = {
                d.id: d for d in (await session.execute(select(Department).where(Department.org_id == org.id))).scalars()
            }
            root = departments[org.root_department_id]
            assert (root.name, root.kind, root.parent_id) == (org.name, "department", None)
            assert [d for d in departments.values() if d.parent_id is None] == [root]
            members = list((await session.execute(select(Membership).where(Membership.org_id == org.id))).scalars())
            placed = await _departments_of(session, org.id)
            assert all(placed.get(m.id) for m in members), "every member is in a department"
            assert all(m.search_text and m.sort_name for m in members)
            roles = await _roles(session, org.id)
            admin_member = next(m for m in members if m.account_id == admin.id)
            assert admin_member.id in roles["owner"]

        # The school: 3 grades x 4 classes x 30 students, a parent each, a head teacher per class.
        school_departments = list(
            (await session.execute(select(Department).where(Department.org_id == school.id))).scalars()
        )
        grades = [d for d in school_departments if d.kind == "grade"]
        classes = [d for d in school_departments if d.kind == "class"]
        assert sorted(g.name for g in grades) == sorted(["一年级", "二年级", "三年级"])
        assert {g.parent_id for g in grades} == {school.root_department_id}
        assert len(classes) == 12 and {c.parent_id for c in classes} == {g.id for g in grades}
        assert Counter(c.name for c in classes) == {"一班": 3, "二班": 3, "三班": 3, "四班": 3}

        roles = await _roles(session, school.id)
        placed = await _departments_of(session, school.id)
        class_ids = {c.id for c in classes}
        assert len(roles["student"]) == 360 and len(roles["parent"]) == 360
        per_class = Counter(d for s in roles["student"] for d in placed[s])
        assert set(per_class) == class_ids and set(per_class.values()) == {30}
        teachers_per_class = Counter(d for t in roles["teacher"] for d in placed[t] if d in class_ids)
        assert set(teachers_per_class) == class_ids

        links = list((await session.execute(select(GuardianLink).where(GuardianLink.org_id == school.id))).scalars())
        assert len(links) == 360
        assert {link.parent_member_id for link in links} == roles["parent"]
        assert {link.student_member_id for link in links} == roles["student"]
        assert {link.relation for link in links} == {"父亲", "母亲"}

        names = list((await session.execute(select(Membership.display_name).where(Membership.org_id == school.id))).scalars())
        assert len(set(names)) == len(names), "people can be told apart by name"
        assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n) for n in names if n != DEMO_ADMIN_NAME)

        # The company: 50 staff with staff ids, titles, mobiles and managers.
        staff = list(
            (
                await session.execute(
                    select(Membership).where(Membership.org_id == company.id, Membership.staff_id.is_not(None))
                )
            ).scalars()
        )
        assert len(staff) == 50
        assert sorted(m.staff_id for m in staff) == [f"XH{n:04d}" for n in range(1, 51)]
        assert all(m.title for m in staff)
        assert all(re.fullmatch(r"1[3-9][0-9]{9}", m.mobile or "") for m in staff)
        staff_ids = {m.id for m in staff}
        without_manager = [m for m in staff if m.manager_id is None]
        assert [m.title for m in without_manager] == ["首席执行官"]
        assert all(m.manager_id in staff_ids for m in staff if m.manager_id)
        company_departments = [
            d.name for d in (await session.execute(select(Department).where(Department.org_id == company.id))).scalars()
        ]
        assert {"研发部", "前端组", "后端组", "市场部", "销售部", "人事部", "财务部"} <= set(company_departments)
        before = await _counts(session)

    # Running it again changes nothing.
    assert await seed_demo(progress=lines.append) is False
    async with get_database().session() as session:
        assert await _counts(session) == before

    # And the demo administrator can sign in through the API.
    info = check(await client.post("/auth/sign-in", json={"login": DEMO_ADMIN_LOGIN, "password": DEMO_ADMIN_PASSWORD}), 200)
    assert info["account"]["name"] == DEMO_ADMIN_NAME
    assert check(await client.get("/me"), 200)["email"] == DEMO_ADMIN_LOGIN

    # The chats are not empty: the all-staff group, a group per department, one per class, each
    # class group with its students' parents, and a first message where people look first.
    async with get_database().session() as session:
        school, company = await _org(session, SCHOOL_NAME), await _org(session, COMPANY_NAME)
    chats = check(await client.get(f"/orgs/{company.id}/conversations", params={"limit": 100}), 200)["items"]
    assert sum(c["kind"] == "department" for c in chats) == 10  # the company itself and 9 departments
    everyone = next(c for c in chats if c["name"] == f"{COMPANY_NAME}全员群")
    assert everyone["member_count"] == 51 and everyone["last_message"] is not None
    classes = check(await client.get(f"/orgs/{school.id}/conversations", params={"limit": 100}), 200)["items"]
    assert len([c for c in classes if c["kind"] == "class"]) == 12
    # 30 students, their 30 parents, the head teacher (and the administrator who opened it).
    assert all(c["member_count"] >= 61 and c["last_message"] is not None for c in classes if c["kind"] == "class")


def test_demo_people_are_the_same_on_every_install():
    first, _, _ = build_demo_rows("hash")
    second, _, _ = build_demo_rows("hash")
    assert [m["display_name"] for m in first.members] == [m["display_name"] for m in second.members]
    assert [m["mobile"] for m in first.members] == [m["mobile"] for m in second.members]
    emails = [a["email"] for a in first.accounts]
    assert len(set(emails)) == len(emails)
    assert "s.0101.03@demo.tack.example" in emails and "p.0304.30@demo.tack.example" in emails
    assert {a["password_hash"] for a in first.accounts} == {"hash"}
