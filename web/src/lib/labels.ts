import type { DepartmentKind, InvitationStatus, OrgKind, Role } from "../api/types";
import { useI18n, type MessageKey } from "../i18n";

const ROLE_KEYS: Record<Role, MessageKey> = {
  owner: "role.owner",
  admin: "role.admin",
  member: "role.member",
  teacher: "role.teacher",
  student: "role.student",
  parent: "role.parent",
};

const KIND_KEYS: Record<DepartmentKind, MessageKey> = {
  department: "deptKind.department",
  grade: "deptKind.grade",
  class: "deptKind.class",
};

const STATUS_KEYS: Record<InvitationStatus, MessageKey> = {
  active: "invite.status.active",
  expired: "invite.status.expired",
  revoked: "invite.status.revoked",
  used_up: "invite.status.used_up",
};

export function useRoleLabel() {
  const { t } = useI18n();
  return (role: string) => (role in ROLE_KEYS ? t(ROLE_KEYS[role as Role]) : role);
}

export function useKindLabel() {
  const { t } = useI18n();
  return (kind: string) => (kind in KIND_KEYS ? t(KIND_KEYS[kind as DepartmentKind]) : kind);
}

export function useStatusLabel() {
  const { t } = useI18n();
  return (status: string) => (status in STATUS_KEYS ? t(STATUS_KEYS[status as InvitationStatus]) : status);
}

/** Roles an administrator can give, by kind of organization (the owner role is not handed out here). */
export function assignableRoles(kind: OrgKind): Role[] {
  return kind === "school" ? ["teacher", "student", "parent", "member", "admin"] : ["member", "admin"];
}

export function departmentKinds(kind: OrgKind): DepartmentKind[] {
  return kind === "school" ? ["department", "grade", "class"] : ["department"];
}
