"""Who may do what inside an organization.

`OrgMember` resolves the `{org_id}` of the path to the caller's active membership there. A caller who
is not an active member gets 404 (the organization's existence is not revealed). Every
organization-scoped route takes `OrgMember` or `OrgAdmin`; nothing else decides tenancy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import and_, bindparam, select

from tack.core.auth import (
    DB,
    SESSION_COLUMNS,
    SESSION_COOKIE,
    SESSION_FROM,
    SESSION_ID,
    Principal,
    check_csrf,
    optional_principal,
    require_principal,
    session_id_of,
    session_principal,
)
from tack.core.errors import Forbidden, NotAuthenticated, NotFound
from tack.core.schemas import IdPath
from tack.orgs.models import ADMIN_ROLES, MemberRole, Membership, MemberStatus, Organization, Role


@dataclass(frozen=True)
class OrgContext:
    org: Organization
    member: Membership
    roles: frozenset[str]

    @property
    def org_id(self) -> str:
        return self.org.id

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & ADMIN_ROLES)

    @property
    def is_owner(self) -> bool:
        return Role.owner in self.roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


async def load_org_context(db: DB, org_id: str, account_id: str) -> OrgContext:
    # One statement for the organization, the membership and its roles (a row per role): every
    # organization-scoped request runs it.
    rows = (
        await db.execute(
            _ORG_CONTEXT, {"org_id": org_id, "account_id": account_id, "status": MemberStatus.active}
        )
    ).all()
    return org_context_of(rows)


def org_context_of(rows: Sequence[Any]) -> OrgContext:
    """The context from rows of (organization, membership, role, ...), either of the first two None
    when absent; 404 when not a member."""
    if not rows or rows[0][0] is None or rows[0][1] is None:
        raise NotFound("There is no such organization, or you are not a member of it.", code="org_not_found")
    org, member = rows[0][0], rows[0][1]
    return OrgContext(org=org, member=member, roles=frozenset(row[2] for row in rows if row[2] is not None))


_ORG_CONTEXT = (
    select(Organization, Membership, MemberRole.role)
    .join(Membership, Membership.org_id == Organization.id)
    .outerjoin(MemberRole, and_(MemberRole.org_id == Membership.org_id, MemberRole.member_id == Membership.id))
    .where(
        Organization.id == bindparam("org_id"),
        Membership.account_id == bindparam("account_id"),
        Membership.status == bindparam("status"),
    )
)

# The same, joined to the session cookie's row: a signed-in person's organization-scoped request
# (nearly all of the web client's) checks session and membership in one statement. Outer joins, so
# a good session without a membership still tells "not a member" (404) from "not signed in" (401).
_SESSION_AND_ORG_CONTEXT = (
    select(Organization, Membership, MemberRole.role, *SESSION_COLUMNS)
    .select_from(SESSION_FROM)
    .outerjoin(
        Membership,
        and_(
            Membership.org_id == bindparam("org_id"),
            Membership.account_id == SESSION_COLUMNS[0],
            Membership.status == bindparam("status"),
        ),
    )
    .outerjoin(Organization, Organization.id == Membership.org_id)
    .outerjoin(MemberRole, and_(MemberRole.org_id == Membership.org_id, MemberRole.member_id == Membership.id))
    .where(SESSION_ID == bindparam("session_id"))
)


async def session_org_context(db: DB, session_id: str, org_id: str) -> tuple[Principal | None, Sequence[Any]]:
    """The principal of a session (None when it is no longer good) and the rows `org_context_of`
    makes the caller's context in `org_id` from, read in one statement."""
    rows = (
        await db.execute(
            _SESSION_AND_ORG_CONTEXT, {"org_id": org_id, "session_id": session_id, "status": MemberStatus.active}
        )
    ).all()
    principal = await session_principal(db, session_id, rows[0][3:]) if rows else None
    return principal, rows


async def org_member(org_id: IdPath, request: Request, db: DB) -> OrgContext:
    principal = getattr(request.state, "principal", ...)
    raw = request.cookies.get(SESSION_COOKIE)
    if principal is ... and raw and not request.headers.get("authorization"):
        principal, rows = await session_org_context(db, session_id_of(raw), org_id)
        request.state.principal = principal
        if principal is None:
            raise NotAuthenticated()
        check_csrf(request, principal)
        return org_context_of(rows)
    principal = await require_principal(await optional_principal(request, db))
    return await load_org_context(db, org_id, principal.account_id)


async def org_admin(ctx: OrgContext = Depends(org_member)) -> OrgContext:
    if not ctx.is_admin:
        raise Forbidden("Only the organization's administrators can do this.", code="admin_required")
    return ctx


OrgMember = Annotated[OrgContext, Depends(org_member)]
OrgAdmin = Annotated[OrgContext, Depends(org_admin)]
