"""Who may do what inside an organization.

`OrgMember` resolves the `{org_id}` of the path to the caller's active membership there. A caller who
is not an active member gets 404 (the organization's existence is not revealed). Every
organization-scoped route takes `OrgMember` or `OrgAdmin`; nothing else decides tenancy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from tack.core.auth import DB, CurrentPrincipal
from tack.core.errors import Forbidden, NotFound
from tack.core.schemas import IdPath
from tack.core.tenancy import scoped
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
    row = (
        await db.execute(
            select(Organization, Membership)
            .join(Membership, Membership.org_id == Organization.id)
            .where(
                Organization.id == org_id,
                Membership.account_id == account_id,
                Membership.status == MemberStatus.active,
            )
        )
    ).first()
    if row is None:
        raise NotFound("There is no such organization, or you are not a member of it.", code="org_not_found")
    org, member = row
    roles = (await db.execute(scoped(MemberRole, org_id, MemberRole.role).where(MemberRole.member_id == member.id))).scalars()
    return OrgContext(org=org, member=member, roles=frozenset(roles))


async def org_member(org_id: IdPath, principal: CurrentPrincipal, db: DB) -> OrgContext:
    return await load_org_context(db, org_id, principal.account_id)


async def org_admin(ctx: OrgContext = Depends(org_member)) -> OrgContext:
    if not ctx.is_admin:
        raise Forbidden("Only the organization's administrators can do this.", code="admin_required")
    return ctx


OrgMember = Annotated[OrgContext, Depends(org_member)]
OrgAdmin = Annotated[OrgContext, Depends(org_admin)]
