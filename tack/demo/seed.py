"""The demo data `tack demo` (and `make run`) creates: a school and a company to look around in.

启明实验学校 has three grades of four classes, thirty students per class, a parent for each student
and a head teacher per class plus subject teachers. 星河科技 has a small department tree and fifty
staff with titles, staff ids, mobiles and managers. One demo administrator owns both.

Everything is built in memory, deterministically (a fixed random seed, so every install shows the
same people), and written with bulk inserts in one transaction: a few thousand rows in about a second
on SQLite and PostgreSQL. All demo accounts share one password hash: argon2 is deliberately slow,
and hashing ~800 times would turn a second into minutes.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tack.chat.models import Conversation
from tack.core.db import get_database, utcnow
from tack.core.ids import new_id
from tack.core.passwords import hash_password
from tack.identity.models import Account
from tack.orgs.models import (
    Department,
    DepartmentKind,
    GuardianLink,
    MemberDepartment,
    MemberRole,
    Membership,
    MemberStatus,
    Organization,
    OrgKind,
    Role,
)
from tack.orgs.search import search_keys
from tack.rooms.models import Lesson

DEMO_ADMIN_LOGIN = "admin@demo.tack.example"
DEMO_ADMIN_PASSWORD = "tack-demo-2026"
DEMO_ADMIN_NAME = "演示管理员"
DEMO_DOMAIN = "demo.tack.example"
SCHOOL_NAME = "启明实验学校"
COMPANY_NAME = "星河科技"

GRADES = ("一年级", "二年级", "三年级")
CLASSES = ("一班", "二班", "三班", "四班")
STUDENTS_PER_CLASS = 30
COMPANY_STAFF = 50
# Changing the seed changes every demo person; keep it fixed so screenshots and docs stay true.
RANDOM_SEED = 20260901

# Common surnames, most frequent first (the weights below follow that order), and two compound ones.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")
_SURNAME_WEIGHTS = [1 / (rank + 8) for rank in range(len(SURNAMES))]

# Given-name characters by generation: children born around 2018, their parents, adult staff.
BOYS = "浩宇轩然子涵博文俊杰泽睿晨明一诚嘉铭昊天瑞霖思远鑫磊辰宸航奕哲皓逸凯阳乐安朗峻致恒清烨煜梓沐"
GIRLS = "欣怡梓涵雨萱诗琪思佳悦可馨语嘉婷雅静若妍欢琳晴梦洁瑶淑慧蕾依彤晓楠心月艺诺菲芷沫"
MEN = "建国伟强军明华志勇海峰斌涛磊鹏刚宏文东俊平辉林永成杰波亮超健飞龙兵浩"
WOMEN = "丽娟芳敏静霞燕红梅玲丹洁萍秀英慧琴颖雪莉艳婷璐青晶岚蓉倩"

# Well-formed mainland mobile prefixes; the numbers are made up.
MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
).split()

SUBJECT_TEACHERS_PER_GRADE = ("数学", "英语")
SCHOOL_WIDE_TEACHERS = ("体育", "音乐", "美术")

# 星河科技: (department, sub-departments, head's title, staff titles, how many people under the head).
RND_TEAMS = (
    ("前端组", "前端组组长", "前端工程师", 5),
    ("后端组", "后端组组长", "后端工程师", 6),
    ("移动端组", "移动端组组长", "移动端工程师", 3),
    ("测试组", "测试组组长", "测试工程师", 3),
)
PLAIN_DEPARTMENTS = (
    ("市场部", "市场总监", ("市场专员", "品牌经理", "新媒体运营"), 5),
    ("销售部", "销售总监", ("销售经理", "客户经理", "销售代表"), 9),
    ("人事部", "人力资源经理", ("招聘专员", "培训专员", "薪酬专员"), 4),
    ("财务部", "财务经理", ("会计", "出纳", "财务分析师"), 4),
)

Progress = Callable[[str], None]


@dataclass
class _Rows:
    """Everything the demo writes, as row dictionaries in insert order (parents before children)."""

    password_hash: str
    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(RANDOM_SEED))
    accounts: list[dict[str, Any]] = field(default_factory=list)
    orgs: list[dict[str, Any]] = field(default_factory=list)
    departments: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    member_departments: list[dict[str, Any]] = field(default_factory=list)
    guardians: list[dict[str, Any]] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)
    _mobiles: set[str] = field(default_factory=set)

    # ---- people ---------------------------------------------------------------------------------

    def surname(self) -> str:
        if self.rng.random() < 0.01:
            return self.rng.choice(COMPOUND_SURNAMES)
        return self.rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]

    def name(self, given_chars: str, surname: str | None = None) -> str:
        """A name no one else in the demo has, so people can be told apart in lists and searches."""
        for attempt in itertools.count():
            # A family's surname is kept unless it is somehow taken with every given name tried.
            family = surname if surname and attempt < 50 else self.surname()
            first = self.rng.choice(given_chars)
            given = first if self.rng.random() < 0.3 else first + self.rng.choice(given_chars.replace(first, ""))
            name = family + given
            if name not in self._names:
                self._names.add(name)
                return name
        raise AssertionError("unreachable")

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self._mobiles:
                self._mobiles.add(number)
                return number

    def account(self, name: str, email: str) -> str:
        account_id = new_id()
        self.accounts.append(
            {
                "id": account_id,
                "name": name,
                "email": email,
                "mobile": None,
                "password_hash": self.password_hash,
                "locale": "zh-CN",
                "is_active": True,
                "created_at": self.now,
            }
        )
        return account_id

    # ---- organizations --------------------------------------------------------------------------

    def org(self, name: str, kind: OrgKind) -> tuple[str, str]:
        org_id, root_id = new_id(), new_id()
        self.orgs.append(
            {"id": org_id, "name": name, "kind": kind.value, "created_at": self.now, "root_department_id": root_id}
        )
        self.departments.append(
            {
                "org_id": org_id,
                "id": root_id,
                "parent_id": None,
                "name": name,
                "kind": DepartmentKind.department.value,
                "sort_order": 0,
                "created_at": self.now,
            }
        )
        return org_id, root_id

    def department(self, org_id: str, parent_id: str, name: str, kind: DepartmentKind, sort_order: int) -> str:
        department_id = new_id()
        self.departments.append(
            {
                "org_id": org_id,
                "id": department_id,
                "parent_id": parent_id,
                "name": name,
                "kind": kind.value,
                "sort_order": sort_order,
                "created_at": self.now,
            }
        )
        return department_id

    def member(
        self,
        org_id: str,
        account_id: str,
        name: str,
        *,
        roles: tuple[Role, ...],
        departments: list[str],
        email: str,
        staff_id: str | None = None,
        title: str | None = None,
        mobile: str | None = None,
        manager_id: str | None = None,
    ) -> str:
        member_id = new_id()
        search_text, sort_name = search_keys(name, staff_id)
        self.members.append(
            {
                "org_id": org_id,
                "id": member_id,
                "account_id": account_id,
                "display_name": name,
                "staff_id": staff_id,
                "title": title,
                "mobile": mobile,
                "email": email,
                "manager_id": manager_id,
                "status": MemberStatus.active.value,
                "search_text": search_text,
                "sort_name": sort_name,
                "joined_at": self.now,
                "removed_at": None,
            }
        )
        self.roles += [{"org_id": org_id, "member_id": member_id, "role": role.value} for role in roles]
        self.member_departments += [
            {"org_id": org_id, "member_id": member_id, "department_id": d} for d in dict.fromkeys(departments)
        ]
        return member_id

    def person(
        self,
        org_id: str,
        name: str,
        email_local: str,
        *,
        roles: tuple[Role, ...],
        departments: list[str],
        **member: Any,
    ) -> str:
        """A new demo account and its membership in `org_id`."""
        email = f"{email_local}@{DEMO_DOMAIN}"
        account_id = self.account(name, email)
        return self.member(org_id, account_id, name, roles=roles, departments=departments, email=email, **member)


def _build_school(rows: _Rows, admin_account: str) -> dict[str, int]:
    org_id, root_id = rows.org(SCHOOL_NAME, OrgKind.school)
    rows.member(
        org_id, admin_account, DEMO_ADMIN_NAME, roles=(Role.owner,), departments=[root_id],
        email=DEMO_ADMIN_LOGIN, title="学校管理员",
    )
    counts = {"grades": 0, "classes": 0, "students": 0, "parents": 0, "teachers": 0}
    teacher_no = 0

    def teacher(name_chars: str, title: str, departments: list[str]) -> None:
        nonlocal teacher_no
        teacher_no += 1
        rows.person(
            org_id, rows.name(name_chars), f"t.{teacher_no:03d}", roles=(Role.teacher,), departments=departments,
            staff_id=f"T{teacher_no:03d}", title=title, mobile=rows.mobile(),
        )
        counts["teachers"] += 1

    for g, grade_name in enumerate(GRADES, start=1):
        grade_id = rows.department(org_id, root_id, grade_name, DepartmentKind.grade, g)
        counts["grades"] += 1
        class_ids = []
        for c, class_name in enumerate(CLASSES, start=1):
            class_id = rows.department(org_id, grade_id, class_name, DepartmentKind.klass, c)
            class_ids.append(class_id)
            counts["classes"] += 1
            # Head teachers are often women in Chinese primary schools; the mix is what matters here.
            teacher(WOMEN if rows.rng.random() < 0.7 else MEN, "班主任（语文）", [class_id])
            for n in range(1, STUDENTS_PER_CLASS + 1):
                tag = f"{g:02d}{c:02d}.{n:02d}"
                boy = rows.rng.random() < 0.5
                student_name = rows.name(BOYS if boy else GIRLS)
                student_id = rows.person(
                    org_id, student_name, f"s.{tag}", roles=(Role.student,), departments=[class_id],
                    staff_id=f"S{g}{c:02d}{n:02d}",
                )
                counts["students"] += 1
                # A child usually carries the father's surname; the mother has her own.
                family = student_name[:2] if student_name[:2] in COMPOUND_SURNAMES else student_name[0]
                father = rows.rng.random() < 0.45
                relation = "父亲" if father else "母亲"
                parent_name = rows.name(MEN, family) if father else rows.name(WOMEN)
                parent_id = rows.person(
                    org_id, parent_name, f"p.{tag}", roles=(Role.parent,), departments=[class_id],
                    title=f"{student_name}的{relation}", mobile=rows.mobile(),
                )
                rows.guardians.append(
                    {"org_id": org_id, "parent_member_id": parent_id, "student_member_id": student_id,
                     "relation": relation}
                )
                counts["parents"] += 1
        for subject in SUBJECT_TEACHERS_PER_GRADE:
            teacher(rows.rng.choice((MEN, WOMEN)), f"{subject}教师（{grade_name}）", class_ids)
    for subject in SCHOOL_WIDE_TEACHERS:
        teacher(rows.rng.choice((MEN, WOMEN)), f"{subject}教师", [root_id])
    return counts


def _build_company(rows: _Rows, admin_account: str) -> dict[str, int]:
    org_id, root_id = rows.org(COMPANY_NAME, OrgKind.company)
    rows.member(
        org_id, admin_account, DEMO_ADMIN_NAME, roles=(Role.owner,), departments=[root_id],
        email=DEMO_ADMIN_LOGIN, title="系统管理员",
    )
    staff_no = 0
    departments = 0

    def staff(title: str, department_id: str, manager_id: str | None, roles: tuple[Role, ...] = (Role.member,)) -> str:
        nonlocal staff_no
        staff_no += 1
        return rows.person(
            org_id, rows.name(rows.rng.choice((MEN, WOMEN, BOYS, GIRLS))), f"xh{staff_no:04d}",
            roles=roles, departments=[department_id], staff_id=f"XH{staff_no:04d}", title=title,
            mobile=rows.mobile(), manager_id=manager_id,
        )

    ceo = staff("首席执行官", root_id, None)
    rnd_id = rows.department(org_id, root_id, "研发部", DepartmentKind.department, 1)
    departments += 1
    cto = staff("研发总监", rnd_id, ceo)
    staff("架构师", rnd_id, cto)
    for t, (team, lead_title, title, size) in enumerate(RND_TEAMS, start=1):
        team_id = rows.department(org_id, rnd_id, team, DepartmentKind.department, t)
        departments += 1
        lead = staff(lead_title, team_id, cto)
        for _ in range(size):
            staff(title, team_id, lead)
    for d, (name, head_title, titles, size) in enumerate(PLAIN_DEPARTMENTS, start=2):
        department_id = rows.department(org_id, root_id, name, DepartmentKind.department, d)
        departments += 1
        # The head of HR also administers the directory, as in most small companies.
        head = staff(head_title, department_id, ceo, (Role.member, Role.admin) if name == "人事部" else (Role.member,))
        for i in range(size):
            staff(titles[i % len(titles)], department_id, head)
    assert staff_no == COMPANY_STAFF, staff_no
    return {"departments": departments, "staff": staff_no}


def build_demo_rows(password_hash: str) -> tuple[_Rows, dict[str, int], dict[str, int]]:
    """All demo rows, in memory; deterministic apart from ids and timestamps."""
    rows = _Rows(password_hash=password_hash, now=utcnow())
    admin_account = rows.account(DEMO_ADMIN_NAME, DEMO_ADMIN_LOGIN)
    school = _build_school(rows, admin_account)
    company = _build_company(rows, admin_account)
    return rows, school, company


async def _demo_admin_exists(session: AsyncSession) -> bool:
    return await session.scalar(select(Account.id).where(Account.email == DEMO_ADMIN_LOGIN)) is not None


async def seed_demo(progress: Progress) -> bool:
    """Create the demo school and company. Returns False (and writes nothing) when already there."""
    started = time.perf_counter()
    database = get_database()
    async with database.session() as session:
        # Take the write lock first, so two `tack demo` at once cannot both decide to seed (SQLite).
        await session.connection(execution_options={"tack_write": True})
        if await _demo_admin_exists(session):
            return False
        rows, school, company = build_demo_rows(await hash_password(DEMO_ADMIN_PASSWORD))
        progress(
            f"Creating the demo school {SCHOOL_NAME}: {school['grades']} grades, {school['classes']} classes, "
            f"{school['students']} students, {school['parents']} parents, {school['teachers']} teachers..."
        )
        progress(
            f"Creating the demo company {COMPANY_NAME}: {company['departments']} departments, "
            f"{company['staff']} staff..."
        )
        tables = (
            (Account, rows.accounts),
            (Organization, rows.orgs),
            (Department, rows.departments),
            (Membership, rows.members),
            (MemberRole, rows.roles),
            (MemberDepartment, rows.member_departments),
            (GuardianLink, rows.guardians),
        )
        try:
            for model, items in tables:
                await session.execute(insert(model), items)
            await session.commit()
        except IntegrityError:
            # On PostgreSQL another `tack demo` may have seeded between our check and our insert.
            await session.rollback()
            if await _demo_admin_exists(session):
                return False
            raise
    total = sum(len(items) for _, items in tables)
    progress(f"Saved {len(rows.accounts)} demo accounts ({total} rows) in {time.perf_counter() - started:.1f}s.")
    await _seed_conversations(progress)
    return True


# What the demo's chats open with, so the first look at 消息 is not an empty list.
COMPANY_WELCOME = "欢迎来到星河科技的 Tack！这里是全员群：公司通知发在这里，部门的事在各部门群里聊。"
SCHOOL_WELCOME = "各位老师、同学、家长好！这是班级群：课程安排和通知会发在这里，上课时间见课表。"


async def _seed_conversations(progress: Progress) -> None:
    """Through the chat service, as people would make them: 星河科技's all-staff group and a group per
    department, and a group per class of 启明实验学校 (teachers, students, parents), each opened by
    the demo administrator with a first message."""
    from tack.chat import service as chat
    from tack.chat.schemas import DepartmentGroupIn, MessageIn
    from tack.orgs.access import load_org_context

    started = time.perf_counter()
    database = get_database()
    async with database.session() as session:
        await session.connection(execution_options={"tack_write": True})
        admin = await session.scalar(select(Account.id).where(Account.email == DEMO_ADMIN_LOGIN))
        made = 0
        for org_name, kinds, welcome in (
            (COMPANY_NAME, (DepartmentKind.department,), COMPANY_WELCOME),
            (SCHOOL_NAME, (DepartmentKind.klass,), SCHOOL_WELCOME),
        ):
            org = (await session.execute(select(Organization).where(Organization.name == org_name))).scalar_one()
            ctx = await load_org_context(session, org.id, admin)
            departments = (
                await session.execute(
                    select(Department.id, Department.kind)
                    .where(Department.org_id == org.id, Department.kind.in_(kinds))
                    .order_by(Department.sort_order, Department.name)
                )
            ).all()
            for department_id, kind in departments:
                group_kind = "class" if kind == DepartmentKind.klass else "department"
                is_root = department_id == org.root_department_id
                group_name = f"{org_name}全员群" if is_root else None
                seat, _ = await chat.create_department_group(
                    session, ctx, DepartmentGroupIn(kind=group_kind, department_id=department_id, name=group_name)
                )
                if is_root or kind == DepartmentKind.klass:
                    await chat.send_message(
                        session, ctx, seat.conversation.id, MessageIn(client_msg_id=f"demo-welcome-{department_id}",
                                                                      body=welcome),
                    )
                made += 1
        lessons = await _timetable_rows(session)
        if lessons:
            await session.execute(insert(Lesson), lessons)
        await session.commit()
    from tack.core.db import run_after_commit

    await run_after_commit(session)
    progress(f"Opened {made} group chats and wrote {len(lessons)} timetable lessons in "
             f"{time.perf_counter() - started:.1f}s.")


# 启明实验学校's week: six periods a day; the head teacher teaches 语文 and the grade's subject teachers
# the rest, school-wide subjects by the head teacher's class too (a demo keeps it simple).
PERIODS = (("08:00", "08:40"), ("08:50", "09:30"), ("09:50", "10:30"), ("10:40", "11:20"), ("14:00", "14:40"),
           ("14:50", "15:30"))
WEEK = {
    1: ("语文", "数学", "英语", "语文", "数学", "班会"),
    2: ("数学", "语文", "英语", "数学", "语文", "阅读"),
    3: ("语文", "英语", "数学", "语文", "数学", "写字"),
    4: ("英语", "数学", "语文", "数学", "语文", "阅读"),
    5: ("数学", "语文", "英语", "语文", "英语", "班会"),
}


async def _timetable_rows(session: AsyncSession) -> list[dict]:
    """Lessons for every class group of the demo school, taught by the class's own teachers."""
    school = (await session.execute(select(Organization).where(Organization.name == SCHOOL_NAME))).scalar_one()
    groups = (
        await session.execute(
            select(Conversation.id, Conversation.department_id).where(
                Conversation.org_id == school.id, Conversation.kind == "class")
        )
    ).all()
    teachers = (
        await session.execute(
            select(MemberDepartment.department_id, Membership.id, Membership.title)
            .join(Membership, (Membership.org_id == MemberDepartment.org_id)
                  & (Membership.id == MemberDepartment.member_id))
            .join(MemberRole, (MemberRole.org_id == Membership.org_id) & (MemberRole.member_id == Membership.id))
            .where(MemberDepartment.org_id == school.id, MemberRole.role == Role.teacher)
        )
    ).all()
    by_class: dict[str, dict[str, str]] = {}
    for department_id, member_id, title in teachers:
        subjects = by_class.setdefault(department_id, {})
        title = title or ""
        if title.startswith("班主任"):
            subjects["head"] = member_id
        elif "教师" in title:
            subjects[title.split("教师")[0]] = member_id
    rows = []
    now = utcnow()
    for conversation_id, department_id in groups:
        subjects = by_class.get(department_id, {})
        head = subjects.get("head")
        if head is None:
            continue
        for weekday, day in WEEK.items():
            for (starts, ends), subject in zip(PERIODS, day, strict=True):
                rows.append({
                    "org_id": school.id, "id": new_id(), "conversation_id": conversation_id, "subject": subject,
                    "teacher_member_id": subjects.get(subject, head), "weekday": weekday, "starts_at": starts,
                    "ends_at": ends, "created_at": now,
                })
    return rows
