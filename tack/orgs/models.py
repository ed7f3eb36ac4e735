"""Organizations, their department tree, memberships, roles, guardian links and invitations.

Every organization-scoped table carries `org_id` first in its primary key and in every index the
queries use, so the data can later be distributed by organization.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tack.core.db import Base, UTCDateTime, utcnow
from tack.core.ids import new_id


class OrgKind(StrEnum):
    company = "company"
    school = "school"


class DepartmentKind(StrEnum):
    department = "department"
    grade = "grade"
    klass = "class"  # "class" is a Python keyword; the stored value is "class"


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    member = "member"
    teacher = "teacher"
    student = "student"
    parent = "parent"


ADMIN_ROLES = frozenset({Role.owner, Role.admin})
SCHOOL_ROLES = frozenset({Role.teacher, Role.student, Role.parent})


class MemberStatus(StrEnum):
    active = "active"
    removed = "removed"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default=OrgKind.company)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The department every other one hangs under; named after the organization.
    root_department_id: Mapped[str | None] = mapped_column(String(26))


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "parent_id"], ["departments.org_id", "departments.id"], ondelete="RESTRICT"
        ),
        Index("ix_departments_parent", "org_id", "parent_id"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    parent_id: Mapped[str | None] = mapped_column(String(26))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default=DepartmentKind.department)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    """One person in one organization, with what they are called and do there."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "account_id"),
        UniqueConstraint("org_id", "staff_id"),
        ForeignKeyConstraint(["org_id", "manager_id"], ["memberships.org_id", "memberships.id"]),
        Index("ix_memberships_account", "account_id"),
        Index("ix_memberships_org_status_name", "org_id", "status", "sort_name"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    display_name: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    manager_id: Mapped[str | None] = mapped_column(String(26))
    status: Mapped[str] = mapped_column(String(16), default=MemberStatus.active)
    # Lower-case text searched by contacts: name, its pinyin and initials, staff id (not mobile,
    # which only some viewers may search by; see orgs.service).
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Sort key for listings (pinyin of the name), so 张三 sorts under Z.
    sort_name: Mapped[str] = mapped_column(String(200), default="")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberRole(Base):
    __tablename__ = "member_roles"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "member_id"], ["memberships.org_id", "memberships.id"], ondelete="CASCADE"
        ),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class MemberDepartment(Base):
    __tablename__ = "member_departments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "member_id"], ["memberships.org_id", "memberships.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["org_id", "department_id"], ["departments.org_id", "departments.id"], ondelete="CASCADE"
        ),
        Index("ix_member_departments_department", "org_id", "department_id"),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(26), primary_key=True)


class GuardianLink(Base):
    """A parent (or guardian) member linked to a student member of the same school."""

    __tablename__ = "guardian_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "parent_member_id"], ["memberships.org_id", "memberships.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["org_id", "student_member_id"], ["memberships.org_id", "memberships.id"], ondelete="CASCADE"
        ),
        Index("ix_guardian_links_student", "org_id", "student_member_id"),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    parent_member_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    student_member_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    relation: Mapped[str | None] = mapped_column(String(32))


class Invitation(Base):
    """An invitation by link or code. The code is what the link carries and what people type."""

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["org_id", "department_id"], ["departments.org_id", "departments.id"], ondelete="SET NULL"
        ),
        ForeignKeyConstraint(["org_id", "created_by"], ["memberships.org_id", "memberships.id"]),
        Index("ix_invitations_org_created", "org_id", "created_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.member)
    department_id: Mapped[str | None] = mapped_column(String(26))
    # Optional: who is expected; shown on the acceptance page and used to prefill sign-up.
    invitee_name: Mapped[str | None] = mapped_column(String(100))
    invitee_contact: Mapped[str | None] = mapped_column(String(254))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
