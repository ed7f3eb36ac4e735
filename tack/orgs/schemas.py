"""Request and response bodies of organizations, departments, members, contacts and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from tack.core.schemas import EMAIL_OR_MOBILE, Id, Input, Name, Page, Schema, ShortText
from tack.orgs.models import DepartmentKind, OrgKind, Role

StaffId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Mobile = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,20}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]


# ---- organizations ------------------------------------------------------------------------------


class OrgIn(Input):
    name: Name
    kind: OrgKind = OrgKind.company


class OrgUpdate(Input):
    name: Name | None = None


class OrgOut(Schema):
    id: str
    name: str
    kind: OrgKind
    root_department_id: str | None
    created_at: datetime


class MyOrg(OrgOut):
    """An organization as seen by one of its members."""

    member_id: str
    roles: list[Role]
    is_admin: bool


# ---- departments --------------------------------------------------------------------------------


class DepartmentIn(Input):
    name: Name
    parent_id: Id = Field(description="The department this one belongs under.")
    kind: DepartmentKind = DepartmentKind.department
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class DepartmentUpdate(Input):
    name: Name | None = None
    parent_id: Id | None = Field(default=None, description="Move under this department.")
    kind: DepartmentKind | None = None
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


class DepartmentOut(Schema):
    id: str
    parent_id: str | None
    name: str
    kind: DepartmentKind
    sort_order: int
    member_count: int = Field(default=0, description="Active members directly in this department.")


# ---- members ------------------------------------------------------------------------------------


class MemberOut(Schema):
    id: str
    account_id: str
    display_name: str
    staff_id: str | None
    title: str | None
    mobile: str | None = Field(description="Hidden (null) from viewers who may not see contact details.")
    email: str | None = Field(description="Hidden (null) from viewers who may not see contact details.")
    department_ids: list[str]
    roles: list[Role]
    manager_id: str | None
    status: str
    joined_at: datetime


class GuardianOut(Schema):
    member_id: str
    display_name: str
    relation: str | None


class MemberDetail(MemberOut):
    manager_name: str | None = None
    departments: list[DepartmentOut] = []
    parents: list[GuardianOut] = Field(default=[], description="For a student: their parents.")
    children: list[GuardianOut] = Field(default=[], description="For a parent: their children.")


class MemberIn(Input):
    """Add a person directly. An existing account with this email or mobile is linked; otherwise
    one is created with `initial_password`. Give an email address, a mobile number, or both."""

    model_config = EMAIL_OR_MOBILE

    display_name: Name
    email: EmailStr | None = None
    mobile: Mobile | None = None
    initial_password: Password | None = None
    staff_id: StaffId | None = None
    title: ShortText | None = None
    department_ids: list[Id] = Field(
        default=[], max_length=20, description="Empty: the top department."
    )
    roles: list[Role] = Field(default=[Role.member], min_length=1, max_length=6)
    manager_id: Id | None = None


class MemberUpdate(Input):
    """Only the fields sent change. Sending null clears staff_id, title, mobile, email and
    manager_id; for display_name, department_ids and roles null means "leave as is"."""

    display_name: Name | None = None
    staff_id: StaffId | None = None
    title: ShortText | None = None
    mobile: Mobile | None = None
    email: EmailStr | None = None
    department_ids: list[Id] | None = Field(
        default=None, max_length=20, description="Replaces the member's departments; empty: the top department."
    )
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=6)
    manager_id: Id | None = None


class GuardianIn(Input):
    parent_member_id: Id
    relation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^[^\x00-\x1f]*$")] | None = None


# ---- contacts -----------------------------------------------------------------------------------


class DepartmentView(Schema):
    """One step of browsing contacts: a department, where it sits, what is under it."""

    department: DepartmentOut
    path: list[DepartmentOut] = Field(description="From the root down to the parent of this department.")
    departments: list[DepartmentOut] = Field(description="Sub-departments, in display order.")
    members: Page[MemberOut]


# ---- invitations --------------------------------------------------------------------------------


class InvitationIn(Input):
    role: Role = Role.member
    department_id: Id | None = None
    expires_in_days: int | None = Field(
        default=None, ge=1, le=90, description="Default: the server's TACK_INVITATION_DEFAULT_DAYS (7)."
    )
    max_uses: int | None = Field(default=None, ge=1, le=100_000)
    invitee_name: Name | None = None
    invitee_contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^\x00-\x1f]*$")] | None = None


class InvitationOut(Schema):
    id: str
    code: str
    url: str = Field(description="The path of the invitation link, e.g. /join/ABCD2345.")
    role: Role
    department_id: str | None
    invitee_name: str | None
    invitee_contact: str | None
    max_uses: int | None
    uses: int
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime
    status: str = Field(description="active, expired, revoked or used_up.")


class InvitationPreview(Schema):
    """What someone holding the link sees before accepting."""

    code: str
    org_name: str
    org_kind: OrgKind
    role: Role
    department_name: str | None
    invitee_name: str | None
    inviter_name: str
    expires_at: datetime


class MembershipOut(Schema):
    org_id: str
    member_id: str
