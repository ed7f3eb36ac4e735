"""HTTP endpoints of organizations, departments, members, contacts and invitations.

Thin by design: parse, authorize (`OrgMember` / `OrgAdmin` resolve and check the organization of the
path), call `tack.orgs.service`, shape the response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request, status

from tack.core.auth import DB, CurrentPrincipal
from tack.core.errors import error_responses
from tack.core.ids import ID_PATTERN
from tack.core.routing import client_address, domain_router
from tack.core.schemas import CursorQuery, IdPath, LimitQuery, Page, SearchQuery
from tack.identity import service as identity_service
from tack.orgs import service
from tack.orgs.access import OrgAdmin, OrgContext, OrgMember
from tack.orgs.models import Role
from tack.orgs.schemas import (
    DepartmentIn,
    DepartmentOut,
    DepartmentUpdate,
    DepartmentView,
    GuardianIn,
    InvitationIn,
    InvitationOut,
    InvitationPreview,
    MemberDetail,
    MemberIn,
    MemberOut,
    MembershipOut,
    MemberUpdate,
    MyOrg,
    OrgIn,
    OrgUpdate,
)

router = domain_router(tags=["organizations"])

IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, description="An identifier (26 characters).")]
InvitationCodePath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9]{4,32}$", description="The invitation code, in any case.")
]
DEFAULT_PAGE = 50


def _my_org(ctx: OrgContext) -> MyOrg:
    org = ctx.org
    return MyOrg(
        id=org.id,
        name=org.name,
        kind=org.kind,
        root_department_id=org.root_department_id,
        created_at=org.created_at,
        member_id=ctx.member.id,
        roles=service.sorted_roles(ctx.roles),
        is_admin=ctx.is_admin,
    )


# ---- organizations ------------------------------------------------------------------------------


@router.get("/orgs", response_model=list[MyOrg], status_code=status.HTTP_200_OK)
async def list_my_orgs(principal: CurrentPrincipal, db: DB) -> list[MyOrg]:
    """The organizations the caller is an active member of."""
    mine = await service.list_my_orgs(db, principal.account_id)
    return [_my_org(OrgContext(org=m.org, member=m.member, roles=frozenset(m.roles))) for m in mine]


@router.post("/orgs", response_model=MyOrg, status_code=status.HTTP_201_CREATED)
async def create_org(body: OrgIn, principal: CurrentPrincipal, db: DB) -> MyOrg:
    """Create an organization; the caller becomes its owner."""
    ctx = await service.create_org(db, principal.account_id, name=body.name, kind=body.kind)
    return _my_org(ctx)


@router.get("/orgs/{org_id}", response_model=MyOrg, status_code=status.HTTP_200_OK)
async def get_org(ctx: OrgMember) -> MyOrg:
    return _my_org(ctx)


@router.patch("/orgs/{org_id}", response_model=MyOrg, status_code=status.HTTP_200_OK)
async def update_org(body: OrgUpdate, ctx: OrgAdmin, db: DB) -> MyOrg:
    await service.update_org(db, ctx, name=body.name)
    return _my_org(ctx)


# ---- departments --------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/departments", response_model=list[DepartmentOut], status_code=status.HTTP_200_OK)
async def list_departments(ctx: OrgMember, db: DB) -> list[DepartmentOut]:
    """The whole department tree, flat, in display order; rebuild the tree from parent_id."""
    return await service.list_departments(db, ctx.org_id)


@router.post("/orgs/{org_id}/departments", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED)
async def create_department(body: DepartmentIn, ctx: OrgAdmin, db: DB) -> DepartmentOut:
    department = await service.create_department(
        db, ctx, name=body.name, parent_id=body.parent_id, kind=body.kind, sort_order=body.sort_order
    )
    return await service.department_out(db, ctx.org_id, department)


@router.get(
    "/orgs/{org_id}/departments/{department_id}", response_model=DepartmentOut, status_code=status.HTTP_200_OK
)
async def get_department(department_id: IdPath, ctx: OrgMember, db: DB) -> DepartmentOut:
    department = await service.get_department(db, ctx.org_id, department_id)
    return await service.department_out(db, ctx.org_id, department)


@router.patch(
    "/orgs/{org_id}/departments/{department_id}", response_model=DepartmentOut, status_code=status.HTTP_200_OK
)
async def update_department(
    department_id: IdPath, body: DepartmentUpdate, ctx: OrgAdmin, db: DB
) -> DepartmentOut:
    """Rename, re-kind, reorder or move a department."""
    department = await service.update_department(db, ctx, department_id, body)
    return await service.department_out(db, ctx.org_id, department)


@router.delete(
    "/orgs/{org_id}/departments/{department_id}", response_model=None, status_code=status.HTTP_204_NO_CONTENT
)
async def delete_department(department_id: IdPath, ctx: OrgAdmin, db: DB) -> None:
    """Delete an empty department (no sub-departments, no members)."""
    await service.delete_department(db, ctx, department_id)


# ---- contacts and members -----------------------------------------------------------------------


@router.get("/orgs/{org_id}/contacts", response_model=DepartmentView, status_code=status.HTTP_200_OK)
async def browse_contacts(
    ctx: OrgMember,
    db: DB,
    department_id: IdQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_PAGE,
) -> DepartmentView:
    """A department (the top one by default): its path, sub-departments and first page of people."""
    return await service.contacts(db, ctx, department_id=department_id, cursor=cursor, limit=limit)


@router.get("/orgs/{org_id}/members", response_model=Page[MemberOut], status_code=status.HTTP_200_OK)
async def list_members(
    ctx: OrgMember,
    db: DB,
    department_id: IdQuery = None,
    q: SearchQuery = None,
    role: Role | None = None,
    include_removed: Annotated[bool, Query(description="Administrators only.")] = False,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_PAGE,
) -> Page[MemberOut]:
    """Members by name. `q` matches the name, its pinyin and initials, the staff id, and the mobile
    for viewers who may see contact details."""
    return await service.list_members(
        db, ctx, department_id=department_id, q=q, role=role, include_removed=include_removed,
        cursor=cursor, limit=limit,
    )


@router.post("/orgs/{org_id}/members", response_model=MemberDetail, status_code=status.HTTP_201_CREATED)
async def add_member(body: MemberIn, ctx: OrgAdmin, db: DB) -> MemberDetail:
    member = await service.add_member(
        db, ctx, display_name=body.display_name, email=body.email, mobile=body.mobile,
        initial_password=body.initial_password, staff_id=body.staff_id, title=body.title,
        department_ids=body.department_ids, roles=body.roles, manager_id=body.manager_id,
    )
    return await service.member_detail(db, ctx, member.id)


@router.get("/orgs/{org_id}/members/{member_id}", response_model=MemberDetail, status_code=status.HTTP_200_OK)
async def get_member(member_id: IdPath, ctx: OrgMember, db: DB) -> MemberDetail:
    return await service.member_detail(db, ctx, member_id)


@router.patch("/orgs/{org_id}/members/{member_id}", response_model=MemberDetail, status_code=status.HTTP_200_OK)
async def update_member(member_id: IdPath, body: MemberUpdate, ctx: OrgAdmin, db: DB) -> MemberDetail:
    await service.update_member(db, ctx, member_id, body)
    return await service.member_detail(db, ctx, member_id)


@router.delete(
    "/orgs/{org_id}/members/{member_id}", response_model=None, status_code=status.HTTP_204_NO_CONTENT
)
async def remove_member(member_id: IdPath, ctx: OrgAdmin, db: DB) -> None:
    """Remove a person; their membership stays (status removed) so their history keeps their name."""
    await service.remove_member(db, ctx, member_id)


@router.post(
    "/orgs/{org_id}/members/{member_id}/guardians",
    response_model=MemberDetail,
    status_code=status.HTTP_201_CREATED,
)
async def link_guardian(member_id: IdPath, body: GuardianIn, ctx: OrgAdmin, db: DB) -> MemberDetail:
    """Link a parent to the student `member_id` (schools only); returns the student."""
    await service.link_guardian(db, ctx, member_id, body.parent_member_id, body.relation)
    return await service.member_detail(db, ctx, member_id)


@router.delete(
    "/orgs/{org_id}/members/{member_id}/guardians/{parent_member_id}",
    response_model=None,
    status_code=status.HTTP_204_NO_CONTENT,
)
async def unlink_guardian(member_id: IdPath, parent_member_id: IdPath, ctx: OrgAdmin, db: DB) -> None:
    await service.unlink_guardian(db, ctx, member_id, parent_member_id)


# ---- invitations --------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/invitations", response_model=list[InvitationOut], status_code=status.HTTP_200_OK)
async def list_invitations(ctx: OrgAdmin, db: DB) -> list[InvitationOut]:
    return await service.list_invitations(db, ctx)


@router.post("/orgs/{org_id}/invitations", response_model=InvitationOut, status_code=status.HTTP_201_CREATED)
async def create_invitation(body: InvitationIn, ctx: OrgAdmin, db: DB) -> InvitationOut:
    invitation = await service.create_invitation(
        db, ctx, role=body.role, department_id=body.department_id, expires_in_days=body.expires_in_days,
        max_uses=body.max_uses, invitee_name=body.invitee_name, invitee_contact=body.invitee_contact,
    )
    return service.invitation_out(invitation)


@router.delete(
    "/orgs/{org_id}/invitations/{invitation_id}", response_model=None, status_code=status.HTTP_204_NO_CONTENT
)
async def revoke_invitation(invitation_id: IdPath, ctx: OrgAdmin, db: DB) -> None:
    await service.revoke_invitation(db, ctx, invitation_id)


@router.get(
    "/invitations/{code}",
    response_model=InvitationPreview,
    status_code=status.HTTP_200_OK,
    responses=error_responses(410),
)
async def preview_invitation(code: InvitationCodePath, request: Request, db: DB) -> InvitationPreview:
    """What an invitation leads to; needs no sign-in, so the link can be opened before signing up."""
    invitation = await service.get_usable_invitation(db, code, address=client_address(request))
    return await service.invitation_preview(db, invitation)


@router.post(
    "/invitations/{code}/accept",
    response_model=MembershipOut,
    status_code=status.HTTP_200_OK,
    responses=error_responses(410),
)
async def accept_invitation(code: InvitationCodePath, request: Request, principal: CurrentPrincipal,
                            db: DB) -> MembershipOut:
    """Join the organization as the signed-in account."""
    invitation = await service.get_usable_invitation(db, code, address=client_address(request))
    account = await identity_service.get_account(db, principal.account_id)
    member = await service.accept_invitation(db, invitation, account)
    return MembershipOut(org_id=member.org_id, member_id=member.id)
