/** Shapes of the API's bodies (see tack/identity/schemas.py and tack/orgs/schemas.py). */

export type OrgKind = "company" | "school";
export type DepartmentKind = "department" | "grade" | "class";
export type Role = "owner" | "admin" | "member" | "teacher" | "student" | "parent";
export const ROLES: Role[] = ["owner", "admin", "member", "teacher", "student", "parent"];

export interface Account {
  id: string;
  name: string;
  email: string | null;
  mobile: string | null;
  locale: string | null;
  created_at: string;
}

export interface SessionInfo {
  account: Account;
  csrf_token: string;
  joined_org_id?: string | null;
}

export interface SignInSession {
  id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  user_agent: string | null;
  ip_address: string | null;
  current: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface ApiTokenCreated extends ApiToken {
  token: string;
}

export interface Org {
  id: string;
  name: string;
  kind: OrgKind;
  root_department_id: string | null;
  created_at: string;
}

export interface MyOrg extends Org {
  member_id: string;
  roles: Role[];
  is_admin: boolean;
}

export interface Department {
  id: string;
  parent_id: string | null;
  name: string;
  kind: DepartmentKind;
  sort_order: number;
  member_count: number;
}

export interface Member {
  id: string;
  account_id: string;
  display_name: string;
  staff_id: string | null;
  title: string | null;
  mobile: string | null;
  email: string | null;
  department_ids: string[];
  roles: Role[];
  manager_id: string | null;
  status: string;
  joined_at: string;
}

export interface Guardian {
  member_id: string;
  display_name: string;
  relation: string | null;
}

export interface MemberDetail extends Member {
  manager_name: string | null;
  departments: Department[];
  parents: Guardian[];
  children: Guardian[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface DepartmentView {
  department: Department;
  path: Department[];
  departments: Department[];
  members: Page<Member>;
}

export type InvitationStatus = "active" | "expired" | "revoked" | "used_up";

export interface Invitation {
  id: string;
  code: string;
  url: string;
  role: Role;
  department_id: string | null;
  invitee_name: string | null;
  invitee_contact: string | null;
  max_uses: number | null;
  uses: number;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
  status: InvitationStatus | string;
}

export interface InvitationPreview {
  code: string;
  org_name: string;
  org_kind: OrgKind;
  role: Role;
  department_name: string | null;
  invitee_name: string | null;
  inviter_name: string;
  expires_at: string;
}

export interface Membership {
  org_id: string;
  member_id: string;
}

// ---- request bodies ----

export interface SignUpIn {
  name: string;
  email?: string | null;
  mobile?: string | null;
  password: string;
  invitation_code?: string | null;
  locale?: string | null;
}

export interface DepartmentIn {
  name: string;
  parent_id: string;
  kind?: DepartmentKind;
  sort_order?: number;
}

export interface DepartmentUpdate {
  name?: string;
  parent_id?: string;
  kind?: DepartmentKind;
  sort_order?: number;
}

export interface MemberIn {
  display_name: string;
  email?: string | null;
  mobile?: string | null;
  initial_password?: string | null;
  staff_id?: string | null;
  title?: string | null;
  department_ids?: string[];
  roles?: Role[];
  manager_id?: string | null;
}

export interface MemberUpdate {
  display_name?: string;
  staff_id?: string | null;
  title?: string | null;
  mobile?: string | null;
  email?: string | null;
  department_ids?: string[];
  roles?: Role[];
  manager_id?: string | null;
}

export interface InvitationIn {
  role: Role;
  department_id?: string | null;
  expires_in_days?: number;
  max_uses?: number | null;
  invitee_name?: string | null;
  invitee_contact?: string | null;
}
