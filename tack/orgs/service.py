"""The rules of organizations, departments, members, contacts and invitations.

Writes are actions: they take the request's session, change rows, flush so that a broken rule
surfaces inside the request, and never commit (the request commits once, see `TransactionalRoute`).
Reads that depend on who is looking (contact details are hidden from some viewers) build their
response schemas here, so every route that shows a member applies the same rule.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.config import get_settings
from tack.core.db import utcnow
from tack.core.errors import Conflict, Forbidden, Gone, NotFound, RateLimited, TackError, Unprocessable
from tack.core.events import emit, member_channel
from tack.core.ids import ID_PATTERN
from tack.core.ratelimit import get_counter
from tack.core.schemas import Page
from tack.core.tenancy import scoped, scoped_delete, scoped_update
from tack.identity import service as identity_service
from tack.identity.models import Account
from tack.orgs.access import OrgContext
from tack.orgs.models import (
    ADMIN_ROLES,
    SCHOOL_ROLES,
    Department,
    DepartmentKind,
    GuardianLink,
    Invitation,
    MemberDepartment,
    MemberRole,
    Membership,
    MemberStatus,
    Organization,
    OrgKind,
    Role,
)
from tack.orgs.schemas import (
    DepartmentOut,
    DepartmentUpdate,
    DepartmentView,
    GuardianOut,
    InvitationOut,
    InvitationPreview,
    MemberDetail,
    MemberOut,
    MemberUpdate,
)
from tack.orgs.search import like_pattern, normalise_query, search_keys

_ROLE_ORDER = {role.value: index for index, role in enumerate(Role)}
SCHOOL_DEPARTMENT_KINDS = frozenset({DepartmentKind.grade, DepartmentKind.klass})
# Codes are read aloud and typed from paper: no 0/O or 1/I to mix up.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_PHONE_QUERY = re.compile(r"^\+?[0-9]+$")
_ID = re.compile(ID_PATTERN)


def sorted_roles(roles: Iterable[str]) -> list[Role]:
    return [Role(r) for r in sorted(set(roles), key=lambda r: _ROLE_ORDER.get(r, len(_ROLE_ORDER)))]


# ---- who follows membership changes -------------------------------------------------------------

MembersChangedListener = Callable[[AsyncSession, str, set[str]], Awaitable[None]]
_members_changed_listeners: list[MembersChangedListener] = []


def on_members_changed(listener: MembersChangedListener) -> None:
    """Call `listener(db, org_id, member_ids)` in the same transaction whenever members' departments,
    guardian links or membership change (chat's department and class groups follow them)."""
    _members_changed_listeners.append(listener)


async def _members_changed(db: AsyncSession, org_id: str, member_ids: Iterable[str]) -> None:
    for listener in _members_changed_listeners:
        await listener(db, org_id, set(member_ids))


# ---- organizations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MyMembership:
    org: Organization
    member: Membership
    roles: list[Role]


async def list_my_orgs(db: AsyncSession, account_id: str) -> list[MyMembership]:
    rows = (
        await db.execute(
            select(Organization, Membership)
            .join(Membership, Membership.org_id == Organization.id)
            .where(Membership.account_id == account_id, Membership.status == MemberStatus.active)
            .order_by(Organization.name, Organization.id)
        )
    ).all()
    if not rows:
        return []
    # One query for the roles in all of them. It spans organizations by design: it reads only the
    # caller's own memberships.
    role_rows = await db.execute(
        select(MemberRole.member_id, MemberRole.role)
        .join(Membership, and_(Membership.org_id == MemberRole.org_id, Membership.id == MemberRole.member_id))
        .where(Membership.account_id == account_id, Membership.status == MemberStatus.active)
    )
    roles: dict[str, list[str]] = defaultdict(list)
    for member_id, role in role_rows:
        roles[member_id].append(role)
    return [MyMembership(org=o, member=m, roles=sorted_roles(roles[m.id])) for o, m in rows]


async def create_org(db: AsyncSession, account_id: str, *, name: str, kind: OrgKind) -> OrgContext:
    """Create an organization with its root department; the creator joins it as its owner."""
    account = await identity_service.get_account(db, account_id)
    org = Organization(name=name, kind=kind)
    db.add(org)
    await db.flush()
    root = Department(org_id=org.id, parent_id=None, name=name, kind=DepartmentKind.department)
    db.add(root)
    await db.flush()
    org.root_department_id = root.id
    member = _new_membership(org.id, account, display_name=account.name)
    db.add(member)
    await db.flush()
    await _set_roles(db, org.id, member.id, {Role.owner})
    await _set_departments(db, org.id, member.id, [root.id])
    await db.flush()
    return OrgContext(org=org, member=member, roles=frozenset({Role.owner.value}))


async def update_org(db: AsyncSession, ctx: OrgContext, *, name: str | None) -> Organization:
    org = ctx.org
    if name is not None and name != org.name:
        org.name = name
        # The root department stands for the whole organization and carries its name.
        await db.execute(
            scoped_update(Department, org.id)
            .where(Department.id == org.root_department_id)
            .values(name=name)
        )
    await db.flush()
    return org


async def _lock_org(db: AsyncSession, org_id: str) -> None:
    """Serialize tree-shaped changes (department moves, managers) within one organization.

    Two concurrent moves that are each fine alone can together make a cycle; taking the
    organization's row lock first makes the second one see the first. SQLite writers are already
    serialized (BEGIN IMMEDIATE), where FOR UPDATE is simply left out.
    """
    await db.execute(select(Organization.id).where(Organization.id == org_id).with_for_update())


# ---- departments --------------------------------------------------------------------------------


async def _member_counts(db: AsyncSession, org_id: str, department_ids: Sequence[str] | None = None) -> dict[str, int]:
    stmt = (
        scoped(MemberDepartment, org_id, MemberDepartment.department_id, func.count())
        .join(
            Membership,
            and_(Membership.org_id == MemberDepartment.org_id, Membership.id == MemberDepartment.member_id),
        )
        .where(Membership.status == MemberStatus.active)
        .group_by(MemberDepartment.department_id)
    )
    if department_ids is not None:
        if not department_ids:
            return {}
        stmt = stmt.where(MemberDepartment.department_id.in_(list(department_ids)))
    return {dept_id: count for dept_id, count in (await db.execute(stmt)).all()}


def _department_out(department: Department, counts: dict[str, int]) -> DepartmentOut:
    return DepartmentOut(
        id=department.id,
        parent_id=department.parent_id,
        name=department.name,
        kind=DepartmentKind(department.kind),
        sort_order=department.sort_order,
        member_count=counts.get(department.id, 0),
    )


def _display_order(departments: Iterable[Department]) -> list[Department]:
    return sorted(departments, key=lambda d: (d.sort_order, d.name, d.id))


async def _all_departments(db: AsyncSession, org_id: str) -> list[Department]:
    rows = await db.execute(
        scoped(Department, org_id).order_by(Department.sort_order, Department.name, Department.id)
    )
    return list(rows.scalars())


async def list_departments(db: AsyncSession, org_id: str) -> list[DepartmentOut]:
    departments = await _all_departments(db, org_id)
    counts = await _member_counts(db, org_id)
    return [_department_out(d, counts) for d in departments]


async def get_department(db: AsyncSession, org_id: str, department_id: str) -> Department:
    department = (
        await db.execute(scoped(Department, org_id).where(Department.id == department_id))
    ).scalar_one_or_none()
    if department is None:
        raise NotFound("There is no such department in this organization.", code="department_not_found")
    return department


async def department_out(db: AsyncSession, org_id: str, department: Department) -> DepartmentOut:
    return _department_out(department, await _member_counts(db, org_id, [department.id]))


def _check_department_kind(ctx: OrgContext, kind: str) -> None:
    if kind in SCHOOL_DEPARTMENT_KINDS and ctx.org.kind != OrgKind.school:
        raise Unprocessable(
            "Grades and classes exist only in schools; use kind 'department' here.",
            code="kind_not_allowed",
        )


async def create_department(
    db: AsyncSession,
    ctx: OrgContext,
    *,
    name: str,
    parent_id: str,
    kind: DepartmentKind = DepartmentKind.department,
    sort_order: int = 0,
) -> Department:
    _check_department_kind(ctx, kind)
    await get_department(db, ctx.org_id, parent_id)
    department = Department(org_id=ctx.org_id, parent_id=parent_id, name=name, kind=kind, sort_order=sort_order)
    db.add(department)
    await db.flush()
    return department


async def update_department(
    db: AsyncSession, ctx: OrgContext, department_id: str, changes: DepartmentUpdate
) -> Department:
    department = await get_department(db, ctx.org_id, department_id)
    is_root = department.id == ctx.org.root_department_id
    if is_root:
        if changes.parent_id is not None:
            raise Conflict("The top department cannot be moved.", code="root_department")
        if changes.name is not None and changes.name != department.name:
            raise Conflict(
                "The top department carries the organization's name; rename the organization instead.",
                code="root_department",
            )
        if changes.kind is not None and changes.kind != department.kind:
            raise Conflict("The top department's kind cannot change.", code="root_department")
    if changes.kind is not None:
        _check_department_kind(ctx, changes.kind)
        department.kind = changes.kind
    if changes.name is not None:
        department.name = changes.name
    if changes.sort_order is not None:
        department.sort_order = changes.sort_order
    if changes.parent_id is not None and changes.parent_id != department.parent_id:
        await _lock_org(db, ctx.org_id)
        await get_department(db, ctx.org_id, changes.parent_id)
        parents = dict(
            (await db.execute(scoped(Department, ctx.org_id, Department.id, Department.parent_id))).all()
        )
        current: str | None = changes.parent_id
        seen: set[str] = set()
        while current is not None and current not in seen:
            if current == department.id:
                raise Conflict(
                    "A department cannot be moved under itself or one of its own sub-departments.",
                    code="department_cycle",
                )
            seen.add(current)
            current = parents.get(current)
        department.parent_id = changes.parent_id
        await db.flush()
        # Everyone under the moved department now sits under other departments.
        parents[department.id] = department.parent_id
        await _members_changed(db, ctx.org_id, await _members_under(db, ctx.org_id, department.id, parents))
    await db.flush()
    return department


async def _members_under(db: AsyncSession, org_id: str, department_id: str, parents: dict[str, str | None]) -> list[str]:
    """The members of a department and of every department below it."""
    children: dict[str | None, list[str]] = defaultdict(list)
    for child, parent in parents.items():
        children[parent].append(child)
    subtree, todo = {department_id}, [department_id]
    while todo:
        for child in children[todo.pop()]:
            if child not in subtree:
                subtree.add(child)
                todo.append(child)
    rows = await db.execute(
        scoped(MemberDepartment, org_id, MemberDepartment.member_id)
        .where(MemberDepartment.department_id.in_(sorted(subtree)))
        .distinct()
    )
    return list(rows.scalars())


async def delete_department(db: AsyncSession, ctx: OrgContext, department_id: str) -> None:
    department = await get_department(db, ctx.org_id, department_id)
    if department.id == ctx.org.root_department_id:
        raise Conflict("The top department cannot be deleted.", code="root_department")
    has_children = (
        await db.execute(
            select(scoped(Department, ctx.org_id, Department.id).where(Department.parent_id == department.id).exists())
        )
    ).scalar_one()
    members = (await _member_counts(db, ctx.org_id, [department.id])).get(department.id, 0)
    if has_children or members:
        raise Conflict(
            "Only an empty department can be deleted: move its sub-departments and members elsewhere first.",
            code="department_not_empty",
            details={"sub_departments": bool(has_children), "members": members},
        )
    # Invitations into this department still work: they now lead to the top department. Done here
    # because the foreign key's SET NULL would also null the org_id it shares.
    await db.execute(
        scoped_update(Invitation, ctx.org_id)
        .where(Invitation.department_id == department.id)
        .values(department_id=None)
    )
    await db.execute(scoped_delete(Department, ctx.org_id).where(Department.id == department.id))
    await db.flush()


# ---- members: reading ---------------------------------------------------------------------------


def sees_all_contact_details(ctx: OrgContext) -> bool:
    """In a company everyone sees colleagues' mobile and email; in a school only staff do."""
    return ctx.org.kind == OrgKind.company or ctx.is_admin or ctx.has_role(Role.teacher)


def _contact_details_visible(ctx: OrgContext, member: Membership) -> bool:
    if ctx.is_admin:
        return True
    if member.status != MemberStatus.active:
        # Someone who left is kept for history, not as a contact.
        return False
    return member.id == ctx.member.id or sees_all_contact_details(ctx)


async def _roles_by_member(db: AsyncSession, org_id: str, member_ids: Sequence[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    if not member_ids:
        return result
    rows = await db.execute(
        scoped(MemberRole, org_id, MemberRole.member_id, MemberRole.role).where(
            MemberRole.member_id.in_(list(member_ids))
        )
    )
    for member_id, role in rows:
        result[member_id].append(role)
    return result


async def _departments_by_member(
    db: AsyncSession, org_id: str, member_ids: Sequence[str]
) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    if not member_ids:
        return result
    rows = await db.execute(
        scoped(MemberDepartment, org_id, MemberDepartment.member_id, MemberDepartment.department_id)
        .where(MemberDepartment.member_id.in_(list(member_ids)))
        .order_by(MemberDepartment.department_id)
    )
    for member_id, department_id in rows:
        result[member_id].append(department_id)
    return result


def _member_out(
    ctx: OrgContext, member: Membership, roles: list[str], department_ids: list[str]
) -> MemberOut:
    visible = _contact_details_visible(ctx, member)
    return MemberOut(
        id=member.id,
        account_id=member.account_id,
        display_name=member.display_name,
        staff_id=member.staff_id,
        title=member.title,
        mobile=member.mobile if visible else None,
        email=member.email if visible else None,
        department_ids=department_ids,
        roles=sorted_roles(roles),
        manager_id=member.manager_id,
        status=member.status,
        joined_at=member.joined_at,
    )


async def member_outs(db: AsyncSession, ctx: OrgContext, members: Sequence[Membership]) -> list[MemberOut]:
    """MemberOut for many members with two queries in all (roles, departments)."""
    ids = [m.id for m in members]
    roles = await _roles_by_member(db, ctx.org_id, ids)
    departments = await _departments_by_member(db, ctx.org_id, ids)
    return [_member_out(ctx, m, roles[m.id], departments[m.id]) for m in members]


def _encode_cursor(sort_name: str, member_id: str) -> str:
    raw = json.dumps([sort_name, member_id], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    """The (sort_name, id) a cursor holds; anything else is refused before it reaches the database.

    A cursor is client input: JSON can carry NUL or lone surrogates, which no database accepts.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_name, member_id = json.loads(raw)
        valid = (
            isinstance(sort_name, str)
            and isinstance(member_id, str)
            and len(sort_name) <= 200
            and _ID.match(member_id) is not None
            and "\x00" not in sort_name
        )
        if valid:
            sort_name.encode("utf-8")
    except (binascii.Error, UnicodeError, ValueError, TypeError):
        valid = False
    if not valid:
        raise Unprocessable("This cursor is not valid; start again from the first page.", code="invalid_cursor")
    return sort_name, member_id


async def list_members(
    db: AsyncSession,
    ctx: OrgContext,
    *,
    department_id: str | None = None,
    q: str | None = None,
    role: Role | None = None,
    include_removed: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[MemberOut]:
    """Members in (sort_name, id) order, one page at a time.

    The cursor holds the sort key of the last row returned, so a page never repeats or skips a
    member when others join or leave in between.
    """
    if include_removed and not ctx.is_admin:
        raise Forbidden("Only administrators can list members who were removed.", code="admin_required")
    stmt = scoped(Membership, ctx.org_id)
    if not include_removed:
        stmt = stmt.where(Membership.status == MemberStatus.active)
    if department_id is not None:
        await get_department(db, ctx.org_id, department_id)
        stmt = stmt.where(
            scoped(MemberDepartment, ctx.org_id, MemberDepartment.member_id)
            .where(MemberDepartment.member_id == Membership.id, MemberDepartment.department_id == department_id)
            .exists()
        )
    if role is not None:
        stmt = stmt.where(
            scoped(MemberRole, ctx.org_id, MemberRole.member_id)
            .where(MemberRole.member_id == Membership.id, MemberRole.role == role)
            .exists()
        )
    query = normalise_query(q or "")
    if query:
        pattern = like_pattern(query)
        matches = [Membership.search_text.like(pattern, escape="\\")]
        phone = query.replace("-", "")
        # Searching by mobile would reveal numbers to viewers who may not see them.
        if sees_all_contact_details(ctx) and _PHONE_QUERY.match(phone):
            matches.append(Membership.mobile.like(like_pattern(phone), escape="\\"))
        stmt = stmt.where(or_(*matches))
    if cursor:
        after_name, after_id = _decode_cursor(cursor)
        stmt = stmt.where(tuple_(Membership.sort_name, Membership.id) > tuple_(after_name, after_id))
    stmt = stmt.order_by(Membership.sort_name, Membership.id).limit(limit + 1)
    rows = list((await db.execute(stmt)).scalars())
    page, more = rows[:limit], len(rows) > limit
    next_cursor = _encode_cursor(page[-1].sort_name, page[-1].id) if more else None
    return Page[MemberOut](items=await member_outs(db, ctx, page), next_cursor=next_cursor)


async def get_member(db: AsyncSession, org_id: str, member_id: str) -> Membership:
    """A member of the organization, whether active or removed."""
    member = (
        await db.execute(scoped(Membership, org_id).where(Membership.id == member_id))
    ).scalar_one_or_none()
    if member is None:
        raise NotFound("There is no such member in this organization.", code="member_not_found")
    return member


async def _get_active_member(db: AsyncSession, org_id: str, member_id: str, *, code: str = "member_not_found",
                             what: str = "member") -> Membership:
    member = (
        await db.execute(
            scoped(Membership, org_id).where(Membership.id == member_id, Membership.status == MemberStatus.active)
        )
    ).scalar_one_or_none()
    if member is None:
        raise NotFound(f"There is no such {what} among this organization's current members.", code=code)
    return member


async def member_detail(db: AsyncSession, ctx: OrgContext, member_id: str) -> MemberDetail:
    member = await get_member(db, ctx.org_id, member_id)
    [out] = await member_outs(db, ctx, [member])
    departments: list[DepartmentOut] = []
    if out.department_ids:
        rows = await db.execute(scoped(Department, ctx.org_id).where(Department.id.in_(out.department_ids)))
        found = _display_order(rows.scalars())
        counts = await _member_counts(db, ctx.org_id, [d.id for d in found])
        departments = [_department_out(d, counts) for d in found]
    manager_name = None
    if member.manager_id:
        manager_name = (
            await db.execute(
                scoped(Membership, ctx.org_id, Membership.display_name).where(Membership.id == member.manager_id)
            )
        ).scalar_one_or_none()
    links = (
        await db.execute(
            scoped(GuardianLink, ctx.org_id).where(
                or_(GuardianLink.student_member_id == member.id, GuardianLink.parent_member_id == member.id)
            )
        )
    ).scalars().all()
    other_ids = {
        link.parent_member_id if link.student_member_id == member.id else link.student_member_id for link in links
    }
    names: dict[str, str] = {}
    if other_ids:
        names = dict(
            (
                await db.execute(
                    scoped(Membership, ctx.org_id, Membership.id, Membership.display_name).where(
                        Membership.id.in_(list(other_ids))
                    )
                )
            ).all()
        )
    parents = [
        GuardianOut(member_id=link.parent_member_id, display_name=names.get(link.parent_member_id, ""),
                    relation=link.relation)
        for link in links
        if link.student_member_id == member.id
    ]
    children = [
        GuardianOut(member_id=link.student_member_id, display_name=names.get(link.student_member_id, ""),
                    relation=link.relation)
        for link in links
        if link.parent_member_id == member.id
    ]
    parents.sort(key=lambda g: (g.display_name, g.member_id))
    children.sort(key=lambda g: (g.display_name, g.member_id))
    return MemberDetail(
        **out.model_dump(), manager_name=manager_name, departments=departments, parents=parents, children=children
    )


async def contacts(
    db: AsyncSession, ctx: OrgContext, *, department_id: str | None, cursor: str | None, limit: int
) -> DepartmentView:
    """One step of browsing: a department (the top one by default), its path, sub-departments, people."""
    all_departments = {d.id: d for d in await _all_departments(db, ctx.org_id)}
    wanted = department_id or ctx.org.root_department_id
    department = all_departments.get(wanted or "")
    if department is None:
        raise NotFound("There is no such department in this organization.", code="department_not_found")
    path: list[Department] = []
    current, seen = department.parent_id, {department.id}
    while current is not None and current in all_departments and current not in seen:
        seen.add(current)
        path.append(all_departments[current])
        current = all_departments[current].parent_id
    path.reverse()
    children = _display_order(d for d in all_departments.values() if d.parent_id == department.id)
    counts = await _member_counts(db, ctx.org_id, [department.id, *[d.id for d in path], *[d.id for d in children]])
    members = await list_members(db, ctx, department_id=department.id, cursor=cursor, limit=limit)
    return DepartmentView(
        department=_department_out(department, counts),
        path=[_department_out(d, counts) for d in path],
        departments=[_department_out(d, counts) for d in children],
        members=members,
    )


# ---- members: changing --------------------------------------------------------------------------


def _refresh_search_keys(member: Membership) -> None:
    member.search_text, member.sort_name = search_keys(member.display_name, member.staff_id)


def _new_membership(org_id: str, account: Account, *, display_name: str) -> Membership:
    member = Membership(
        org_id=org_id,
        account_id=account.id,
        display_name=display_name,
        mobile=account.mobile,
        email=account.email,
        status=MemberStatus.active,
        joined_at=utcnow(),
    )
    _refresh_search_keys(member)
    return member


async def _announce_return(db: AsyncSession, org_id: str, member_id: str) -> None:
    # Marks in their event stream where they are back, so a replay skips the time they were away.
    await emit(
        db, org_id=org_id, channel=member_channel(member_id), kind="member.returned",
        data={"member_id": member_id, "join_org": True},
    )


def _reactivate(member: Membership, *, display_name: str) -> None:
    """A removed member comes back on the same row, so what they wrote before stays theirs."""
    member.status = MemberStatus.active
    member.removed_at = None
    member.joined_at = utcnow()
    member.display_name = display_name
    _refresh_search_keys(member)


def _check_roles(ctx: OrgContext, roles: set[str], previous: frozenset[str] = frozenset()) -> None:
    school_only = roles & SCHOOL_ROLES
    if school_only and ctx.org.kind != OrgKind.school:
        raise Unprocessable(
            f"The role(s) {', '.join(sorted(school_only))} exist only in schools.",
            code="role_not_allowed",
            details={"roles": sorted(school_only)},
        )
    if (Role.owner in roles) != (Role.owner in previous) and not ctx.is_owner:
        raise Forbidden("Only an owner can make someone an owner or take that away.", code="owner_required")


async def _owner_ids(db: AsyncSession, org_id: str) -> set[str]:
    # Locked, so two owners demoting each other at the same time cannot leave none: the second
    # waits for the first and then sees one owner fewer.
    rows = await db.execute(
        scoped(MemberRole, org_id, MemberRole.member_id).where(MemberRole.role == Role.owner).with_for_update()
    )
    return set(rows.scalars())


async def _ensure_not_last_owner(db: AsyncSession, org_id: str, member_id: str) -> None:
    if await _owner_ids(db, org_id) <= {member_id}:
        raise Conflict(
            "This is the organization's last owner. Make someone else an owner first.", code="last_owner"
        )


async def _set_roles(db: AsyncSession, org_id: str, member_id: str, roles: Iterable[str]) -> None:
    wanted = {str(r) for r in roles}
    current = set((await _roles_by_member(db, org_id, [member_id]))[member_id])
    if current - wanted:
        await db.execute(
            scoped_delete(MemberRole, org_id).where(
                MemberRole.member_id == member_id, MemberRole.role.in_(sorted(current - wanted))
            )
        )
    for role in sorted(wanted - current):
        db.add(MemberRole(org_id=org_id, member_id=member_id, role=role))
    lost = current - wanted
    # A guardian link only means something between a parent and a student.
    if Role.student in lost:
        await db.execute(scoped_delete(GuardianLink, org_id).where(GuardianLink.student_member_id == member_id))
    if Role.parent in lost:
        await db.execute(scoped_delete(GuardianLink, org_id).where(GuardianLink.parent_member_id == member_id))


async def _set_departments(db: AsyncSession, org_id: str, member_id: str, department_ids: Iterable[str]) -> None:
    wanted = set(department_ids)
    current = set((await _departments_by_member(db, org_id, [member_id]))[member_id])
    if current - wanted:
        await db.execute(
            scoped_delete(MemberDepartment, org_id).where(
                MemberDepartment.member_id == member_id, MemberDepartment.department_id.in_(sorted(current - wanted))
            )
        )
    for department_id in sorted(wanted - current):
        db.add(MemberDepartment(org_id=org_id, member_id=member_id, department_id=department_id))
    if wanted != current:
        await db.flush()
        await _members_changed(db, org_id, [member_id])


async def _require_departments(db: AsyncSession, ctx: OrgContext, department_ids: Sequence[str]) -> list[str]:
    """The given departments (deduplicated), or the top department when none is given."""
    wanted = list(dict.fromkeys(department_ids))
    if not wanted:
        return [ctx.org.root_department_id] if ctx.org.root_department_id else []
    found = set(
        (await db.execute(scoped(Department, ctx.org_id, Department.id).where(Department.id.in_(wanted)))).scalars()
    )
    missing = [d for d in wanted if d not in found]
    if missing:
        raise NotFound(
            "Some of these departments do not exist in this organization.",
            code="department_not_found",
            details={"department_ids": missing},
        )
    return wanted


async def _check_manager(db: AsyncSession, org_id: str, member_id: str | None, manager_id: str) -> None:
    if manager_id == member_id:
        raise Conflict("A person cannot be their own manager.", code="manager_cycle")
    await _get_active_member(db, org_id, manager_id, code="manager_not_found", what="manager")
    if member_id is None:
        return
    current: str | None = manager_id
    seen: set[str] = set()
    while current is not None and current not in seen:
        if current == member_id:
            raise Conflict(
                "This would make a loop of managers: the chosen manager reports (directly or not) to this person.",
                code="manager_cycle",
            )
        seen.add(current)
        current = (
            await db.execute(scoped(Membership, org_id, Membership.manager_id).where(Membership.id == current))
        ).scalar_one_or_none()


async def _check_staff_id(db: AsyncSession, org_id: str, staff_id: str, member_id: str | None) -> None:
    holder = (
        await db.execute(
            scoped(Membership, org_id, Membership.id, Membership.display_name, Membership.status).where(
                Membership.staff_id == staff_id
            )
        )
    ).first()
    if holder is not None and holder.id != member_id:
        removed = " (removed)" if holder.status != MemberStatus.active else ""
        raise Conflict(
            f"Staff id {staff_id} is already used by {holder.display_name}{removed}.", code="staff_id_taken"
        )


async def _find_account(db: AsyncSession, email: str | None, mobile: str | None) -> Account | None:
    by_email = by_mobile = None
    if email:
        by_email = (await db.execute(select(Account).where(Account.email == email))).scalar_one_or_none()
    if mobile:
        by_mobile = (await db.execute(select(Account).where(Account.mobile == mobile))).scalar_one_or_none()
    if by_email is not None and by_mobile is not None and by_email.id != by_mobile.id:
        raise Conflict(
            "The email address and the mobile number belong to two different accounts; give only one.",
            code="contact_mismatch",
        )
    return by_email or by_mobile


async def add_member(
    db: AsyncSession,
    ctx: OrgContext,
    *,
    display_name: str,
    email: str | None = None,
    mobile: str | None = None,
    initial_password: str | None = None,
    staff_id: str | None = None,
    title: str | None = None,
    department_ids: Sequence[str] = (),
    roles: Iterable[str] = (Role.member,),
    manager_id: str | None = None,
) -> Membership:
    """Add a person: link the account with this email or mobile, or create one."""
    wanted_roles = {str(r) for r in roles}
    _check_roles(ctx, wanted_roles)
    if not email and not mobile:
        raise Unprocessable(
            "Give an email address or a mobile number: it is how the person signs in.", code="contact_required"
        )
    email = identity_service.normalise_login(email) if email else None
    mobile = identity_service.normalise_login(mobile) if mobile else None
    departments = await _require_departments(db, ctx, department_ids)
    account = await _find_account(db, email, mobile)
    member = None
    if account is not None:
        member = (
            await db.execute(scoped(Membership, ctx.org_id).where(Membership.account_id == account.id))
        ).scalar_one_or_none()
        if member is not None and member.status == MemberStatus.active:
            raise Conflict(f"{member.display_name} is already a member of this organization.", code="already_member")
    if staff_id is not None:
        await _check_staff_id(db, ctx.org_id, staff_id, member.id if member else None)
    if manager_id is not None:
        await _lock_org(db, ctx.org_id)
        await _check_manager(db, ctx.org_id, member.id if member else None, manager_id)
    if account is None:
        if not initial_password:
            raise Unprocessable(
                "There is no account with this email or mobile yet; give an initial password to create one.",
                code="password_required",
            )
        account = await identity_service.create_account(
            db, name=display_name, password=initial_password, email=email, mobile=mobile
        )
    returning = member is not None
    if member is None:
        member = _new_membership(ctx.org_id, account, display_name=display_name)
        db.add(member)
    else:
        _reactivate(member, display_name=display_name)
    if email:
        member.email = email
    if mobile:
        member.mobile = mobile
    if staff_id is not None:
        member.staff_id = staff_id
    if title is not None:
        member.title = title
    member.manager_id = manager_id
    _refresh_search_keys(member)
    await db.flush()
    await _set_roles(db, ctx.org_id, member.id, wanted_roles)
    await _set_departments(db, ctx.org_id, member.id, departments)
    await db.flush()
    if returning:
        await _announce_return(db, ctx.org_id, member.id)
    return member


async def update_member(db: AsyncSession, ctx: OrgContext, member_id: str, changes: MemberUpdate) -> Membership:
    """Apply the fields that were sent. Sending null clears staff_id, title, mobile, email and
    manager_id; for display_name, roles and department_ids null means "leave as is"."""
    member = await get_member(db, ctx.org_id, member_id)
    if member.status != MemberStatus.active:
        raise Conflict(
            "This person was removed from the organization; add them again to make changes.",
            code="member_removed",
        )
    sent = changes.model_fields_set
    if changes.roles is not None:
        wanted = {str(r) for r in changes.roles}
        previous = frozenset((await _roles_by_member(db, ctx.org_id, [member.id]))[member.id])
        _check_roles(ctx, wanted, previous)
        if Role.owner in previous and Role.owner not in wanted:
            await _ensure_not_last_owner(db, ctx.org_id, member.id)
        await _set_roles(db, ctx.org_id, member.id, wanted)
        if previous & ADMIN_ROLES and not wanted & ADMIN_ROLES:
            await _revoke_invitations_by(db, ctx.org_id, member.id)
    if changes.department_ids is not None:
        await _set_departments(db, ctx.org_id, member.id, await _require_departments(db, ctx, changes.department_ids))
    if "manager_id" in sent:
        if changes.manager_id is not None and changes.manager_id != member.manager_id:
            await _lock_org(db, ctx.org_id)
            await _check_manager(db, ctx.org_id, member.id, changes.manager_id)
        member.manager_id = changes.manager_id
    if "staff_id" in sent:
        if changes.staff_id is not None:
            await _check_staff_id(db, ctx.org_id, changes.staff_id, member.id)
        member.staff_id = changes.staff_id
    if changes.display_name is not None:
        member.display_name = changes.display_name
    if "title" in sent:
        member.title = changes.title
    if "mobile" in sent:
        member.mobile = identity_service.normalise_login(changes.mobile) if changes.mobile else None
    if "email" in sent:
        member.email = identity_service.normalise_login(changes.email) if changes.email else None
    _refresh_search_keys(member)
    await db.flush()
    return member


async def remove_member(db: AsyncSession, ctx: OrgContext, member_id: str) -> None:
    """Take a person out of the organization, keeping their row so their history stays theirs."""
    member = await get_member(db, ctx.org_id, member_id)
    if member.status != MemberStatus.active:
        return
    roles = set((await _roles_by_member(db, ctx.org_id, [member.id]))[member.id])
    if Role.owner in roles:
        if not ctx.is_owner:
            raise Forbidden("Only an owner can remove an owner.", code="owner_required")
        await _ensure_not_last_owner(db, ctx.org_id, member.id)
    await db.execute(scoped_delete(MemberRole, ctx.org_id).where(MemberRole.member_id == member.id))
    await _revoke_invitations_by(db, ctx.org_id, member.id)
    await db.execute(scoped_delete(MemberDepartment, ctx.org_id).where(MemberDepartment.member_id == member.id))
    await db.execute(
        scoped_delete(GuardianLink, ctx.org_id).where(
            or_(GuardianLink.parent_member_id == member.id, GuardianLink.student_member_id == member.id)
        )
    )
    # People who reported to them now report to no one, rather than to someone who has left.
    await db.execute(
        scoped_update(Membership, ctx.org_id).where(Membership.manager_id == member.id).values(manager_id=None)
    )
    member.manager_id = None
    member.status = MemberStatus.removed
    member.removed_at = utcnow()
    await db.flush()
    await _members_changed(db, ctx.org_id, [member.id])
    # Their open stream connections end their subscription to this organization on this event.
    await emit(
        db, org_id=ctx.org_id, channel=member_channel(member.id), kind="member.removed",
        data={"member_id": member.id, "leave_org": True},
    )


async def link_guardian(
    db: AsyncSession, ctx: OrgContext, student_member_id: str, parent_member_id: str, relation: str | None
) -> GuardianLink:
    """Link a parent to a student; linking again updates the relation."""
    if ctx.org.kind != OrgKind.school:
        raise Unprocessable("Parents and students are linked only in schools.", code="not_a_school")
    if student_member_id == parent_member_id:
        raise Unprocessable("A person cannot be their own parent.", code="not_a_parent")
    student = await _get_active_member(db, ctx.org_id, student_member_id)
    parent = await _get_active_member(db, ctx.org_id, parent_member_id, code="parent_not_found", what="parent")
    roles = await _roles_by_member(db, ctx.org_id, [student.id, parent.id])
    if Role.student not in roles[student.id]:
        raise Unprocessable(f"{student.display_name} does not have the student role.", code="not_a_student")
    if Role.parent not in roles[parent.id]:
        raise Unprocessable(f"{parent.display_name} does not have the parent role.", code="not_a_parent")
    link = (
        await db.execute(
            scoped(GuardianLink, ctx.org_id).where(
                GuardianLink.student_member_id == student.id, GuardianLink.parent_member_id == parent.id
            )
        )
    ).scalar_one_or_none()
    if link is None:
        link = GuardianLink(
            org_id=ctx.org_id, student_member_id=student.id, parent_member_id=parent.id, relation=relation
        )
        db.add(link)
    else:
        link.relation = relation
    await db.flush()
    await _members_changed(db, ctx.org_id, [parent.id])
    return link


async def unlink_guardian(db: AsyncSession, ctx: OrgContext, student_member_id: str, parent_member_id: str) -> None:
    result = await db.execute(
        scoped_delete(GuardianLink, ctx.org_id).where(
            GuardianLink.student_member_id == student_member_id,
            GuardianLink.parent_member_id == parent_member_id,
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("This parent is not linked to this student.", code="guardian_link_not_found")
    await db.flush()
    await _members_changed(db, ctx.org_id, [parent_member_id])


# ---- invitations --------------------------------------------------------------------------------


async def _revoke_invitations_by(db: AsyncSession, org_id: str, member_id: str) -> None:
    """An administrator who leaves, or stops being one, takes their open invitations along: a link
    sent by someone no longer trusted to invite should not let people in."""
    now = utcnow()
    await db.execute(
        scoped_update(Invitation, org_id)
        .where(Invitation.created_by == member_id, Invitation.revoked_at.is_(None), Invitation.expires_at > now)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def invitation_status(invitation: Invitation, now: datetime | None = None) -> str:
    now = now or utcnow()
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    if invitation.max_uses is not None and invitation.uses >= invitation.max_uses:
        return "used_up"
    return "active"


def _unusable(status: str) -> TackError:
    if status == "revoked":
        return Gone("This invitation was withdrawn. Ask for a new one.", code="invitation_revoked")
    if status == "expired":
        return Gone("This invitation has expired. Ask for a new one.", code="invitation_expired")
    return Gone("This invitation has been used as many times as allowed. Ask for a new one.",
                code="invitation_used_up")


def invitation_out(invitation: Invitation, now: datetime | None = None) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        code=invitation.code,
        url=f"/join/{invitation.code}",
        role=Role(invitation.role),
        department_id=invitation.department_id,
        invitee_name=invitation.invitee_name,
        invitee_contact=invitation.invitee_contact,
        max_uses=invitation.max_uses,
        uses=invitation.uses,
        expires_at=invitation.expires_at,
        revoked_at=invitation.revoked_at,
        created_at=invitation.created_at,
        status=invitation_status(invitation, now),
    )


async def list_invitations(db: AsyncSession, ctx: OrgContext) -> list[InvitationOut]:
    rows = await db.execute(
        scoped(Invitation, ctx.org_id).order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    now = utcnow()
    return [invitation_out(i, now) for i in rows.scalars()]


async def _new_code(db: AsyncSession) -> str:
    # 32^8 codes: a clash is rare; the unique constraint still catches the race between check and insert.
    for _ in range(10):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        taken = (await db.execute(select(exists().where(Invitation.code == code)))).scalar_one()
        if not taken:
            return code
    raise Conflict("Could not make a new invitation code. Try again.", code="invitation_code_exhausted")


async def create_invitation(
    db: AsyncSession,
    ctx: OrgContext,
    *,
    role: Role = Role.member,
    department_id: str | None = None,
    expires_in_days: int | None = None,
    max_uses: int | None = None,
    invitee_name: str | None = None,
    invitee_contact: str | None = None,
) -> Invitation:
    _check_roles(ctx, {str(role)})
    if department_id is not None:
        await get_department(db, ctx.org_id, department_id)
    now = utcnow()
    invitation = Invitation(
        org_id=ctx.org_id,
        code=await _new_code(db),
        role=role,
        department_id=department_id,
        invitee_name=invitee_name,
        invitee_contact=invitee_contact,
        max_uses=max_uses,
        uses=0,
        expires_at=now + timedelta(days=expires_in_days or get_settings().invitation_default_days),
        created_by=ctx.member.id,
        created_at=now,
    )
    db.add(invitation)
    await db.flush()
    return invitation


async def revoke_invitation(db: AsyncSession, ctx: OrgContext, invitation_id: str) -> None:
    invitation = (
        await db.execute(scoped(Invitation, ctx.org_id).where(Invitation.id == invitation_id))
    ).scalar_one_or_none()
    if invitation is None:
        raise NotFound("There is no such invitation in this organization.", code="invitation_not_found")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
    await db.flush()


async def get_usable_invitation(db: AsyncSession, code: str, *, address: str) -> Invitation:
    """The invitation with this code (any case), if it can still be accepted.

    Anyone may look a code up, signed in or not, so codes that do not exist are counted per
    address: past the limit, guessing stops for a while (429) before it can find a live code.
    """
    settings = get_settings()
    counter = get_counter()
    misses_key, window = f"invitation:miss:{address}", settings.signin_window_seconds
    misses, retry_after = await counter.get(misses_key, window)
    if misses >= settings.invitation_max_misses_per_address:
        raise RateLimited(
            retry_after, "Too many invitation codes that do not exist were tried. Wait a little and try again.",
            code="invitation_lookup_throttled",
        )
    # Looked up by its globally unique code: the holder of a link does not know the organization yet.
    invitation = (
        await db.execute(select(Invitation).where(Invitation.code == code.strip().upper()))
    ).scalar_one_or_none()
    if invitation is None:
        await counter.incr(misses_key, window)
        raise NotFound("There is no invitation with this code. Check it and try again.", code="invitation_not_found")
    status = invitation_status(invitation)
    if status != "active":
        raise _unusable(status)
    return invitation


async def invitation_preview(db: AsyncSession, invitation: Invitation) -> InvitationPreview:
    org = await db.get(Organization, invitation.org_id)
    if org is None:  # the organization's rows cascade away with it; kept for the type checker
        raise NotFound("There is no invitation with this code.", code="invitation_not_found")
    department_name = None
    if invitation.department_id:
        department_name = (
            await db.execute(
                scoped(Department, org.id, Department.name).where(Department.id == invitation.department_id)
            )
        ).scalar_one_or_none()
    inviter_name = (
        await db.execute(
            scoped(Membership, org.id, Membership.display_name).where(Membership.id == invitation.created_by)
        )
    ).scalar_one_or_none()
    return InvitationPreview(
        code=invitation.code,
        org_name=org.name,
        org_kind=OrgKind(org.kind),
        role=Role(invitation.role),
        department_name=department_name,
        invitee_name=invitation.invitee_name,
        inviter_name=inviter_name or "",
        expires_at=invitation.expires_at,
    )


async def accept_invitation(db: AsyncSession, invitation: Invitation, account: Account) -> Membership:
    """Join the invitation's organization (or come back to it) with its role and department."""
    org_id = invitation.org_id
    member = (
        await db.execute(scoped(Membership, org_id).where(Membership.account_id == account.id))
    ).scalar_one_or_none()
    if member is not None and member.status == MemberStatus.active:
        raise Conflict("You are already a member of this organization.", code="already_member")
    now = utcnow()
    # Counting the use and checking the limit in one statement: two people accepting the last
    # use at the same moment cannot both get in.
    consumed = await db.execute(
        scoped_update(Invitation, org_id)
        .where(
            Invitation.id == invitation.id,
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
            or_(Invitation.max_uses.is_(None), Invitation.uses < Invitation.max_uses),
        )
        .values(uses=Invitation.uses + 1)
        .execution_options(synchronize_session=False)
    )
    await db.refresh(invitation)
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        status = invitation_status(invitation, now)
        raise _unusable("used_up" if status == "active" else status)
    department_id = invitation.department_id
    if department_id is not None:
        department_id = (
            await db.execute(scoped(Department, org_id, Department.id).where(Department.id == department_id))
        ).scalar_one_or_none()
    if department_id is None:
        department_id = (
            await db.execute(select(Organization.root_department_id).where(Organization.id == org_id))
        ).scalar_one()
    display_name = invitation.invitee_name or account.name
    returning = member is not None
    if member is None:
        member = _new_membership(org_id, account, display_name=display_name)
        db.add(member)
    else:
        _reactivate(member, display_name=display_name)
    await db.flush()
    await _set_roles(db, org_id, member.id, {invitation.role})
    await _set_departments(db, org_id, member.id, [department_id] if department_id else [])
    await db.flush()
    if returning:
        await _announce_return(db, org_id, member.id)
    return member
