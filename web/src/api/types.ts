/** Shapes of the API's bodies (see tack/identity/schemas.py and tack/orgs/schemas.py). */
import type { StreamEvent } from "../stream/StreamClient";

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

// ---- chat (see tack/chat/schemas.py) ----

export type ConversationKind = "direct" | "group" | "department" | "class";
export type ConversationRole = "owner" | "admin" | "member";
export type MessageKind = "text" | "markdown" | "image" | "file" | "link";

export interface MessagePreview {
  id: string;
  seq: number;
  sender_id: string;
  sender_name: string;
  kind: MessageKind;
  text: string;
  created_at: string;
  recalled: boolean;
}

export interface Conversation {
  id: string;
  kind: ConversationKind;
  name: string;
  announcement: string | null;
  owner_id: string | null;
  department_id: string | null;
  peer_id: string | null;
  member_count: number;
  last_seq: number;
  last_activity_at: string;
  created_at: string;
  my_role: ConversationRole;
  read_seq: number;
  unread_count: number;
  last_message: MessagePreview | null;
}

export interface ConversationDetail extends Conversation {
  admin_ids: string[];
}

export interface ConversationMember {
  member_id: string;
  display_name: string;
  role: ConversationRole;
  source: string;
  read_seq: number;
  joined_at: string;
}

export interface ConversationUpdate {
  name?: string;
  /** An empty string clears it. */
  announcement?: string;
}

export interface MembersChanged {
  conversation_id: string;
  added: string[];
  member_count: number;
}

export type ConversationIn =
  | { kind: "direct"; member_id: string }
  | { kind: "group"; name: string; member_ids: string[]; announcement?: string | null };

export interface FileInfo {
  upload_id: string;
  name: string;
  content_type: string;
  size: number;
  url: string;
}

export interface LinkCard {
  url: string;
  title: string;
  description?: string | null;
  image_url?: string | null;
}

export interface QuotedMessage {
  id: string;
  seq: number;
  sender_id: string;
  sender_name: string;
  kind: MessageKind;
  snippet: string;
  recalled: boolean;
}

export interface Reaction {
  emoji: string;
  count: number;
  member_ids: string[];
  me: boolean;
}

export interface Message {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_name: string;
  client_msg_id: string;
  kind: MessageKind;
  body: string | null;
  mentions: string[];
  mention_all: boolean;
  file?: FileInfo | null;
  link?: LinkCard | null;
  reply_to?: QuotedMessage | null;
  reactions: Reaction[];
  is_ding: boolean;
  created_at: string;
  edited_at?: string | null;
  recalled_at?: string | null;
  recalled_by?: string | null;
  read_count?: number | null;
  unread_count?: number | null;
}

export interface MessagePage {
  items: Message[];
  has_more: boolean;
}

export interface MessageIn {
  client_msg_id: string;
  kind?: MessageKind;
  body?: string | null;
  mentions?: string[];
  mention_all?: boolean;
  upload_id?: string | null;
  link?: LinkCard | null;
  reply_to_id?: string | null;
}

export interface ReadState {
  conversation_id: string;
  read_seq: number;
  unread_count: number;
}

export interface MemberBrief {
  member_id: string;
  display_name: string;
}

export interface Receipts {
  message_id: string;
  read_count: number;
  unread_count: number;
  read: MemberBrief[];
  unread: MemberBrief[];
}

export interface ReactionToggled {
  message_id: string;
  emoji: string;
  added: boolean;
  reactions: Reaction[];
}

export interface Ding {
  id: string;
  conversation_id: string;
  sender_id: string;
  sender_name: string;
  body: string | null;
  created_at: string;
  remind_after_minutes: number | null;
  next_remind_at: string | null;
  recipient_count: number;
  acknowledged_count: number;
  acknowledged_at: string | null;
}

export interface DingRecipient {
  member_id: string;
  display_name: string;
  acknowledged_at: string | null;
}

export interface DingDetail extends Ding {
  recipients: DingRecipient[];
}

export interface DingIn {
  client_msg_id: string;
  body: string;
  recipient_ids: string[];
  remind_after_minutes?: number | null;
  max_reminders?: number;
}

export interface DingSent {
  ding: Ding;
  message: Message;
}

export interface Upload {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  url: string;
  created_at: string;
}

export interface SearchHit {
  message: Message;
  conversation_name: string;
}

export interface SearchPage {
  items: SearchHit[];
  next_cursor: string | null;
}

// ---- rooms: meetings and classes (see docs/rooms.md) ----

export type RoomKind = "meeting" | "class";
export type RoomStatus = "scheduled" | "open" | "ended";
export type RoomRole = "host" | "cohost" | "presenter" | "attendee";
export type ParticipantState = "waiting" | "joined" | "left" | "removed";

export interface Room {
  id: string;
  org_id: string;
  kind: RoomKind;
  title: string;
  conversation_id: string | null;
  lesson_id: string | null;
  host_member_id: string;
  status: RoomStatus;
  scheduled_start: string | null;
  scheduled_end: string | null;
  started_at: string | null;
  ended_at: string | null;
  locked: boolean;
  waiting_room: boolean;
  capacity: number;
  seated: number;
  my_role?: RoomRole | null;
  /** Hosts only (meetings that allow guests): the code of the guest link /guest/<code>. */
  guest_code?: string | null;
  /** Hosts only: the passcode guests type. */
  guest_passcode?: string | null;
}

export interface Participant {
  id: string;
  room_id: string;
  /** null for a guest (no account). */
  member_id: string | null;
  /** Came by the guest link, without an account. */
  guest?: boolean;
  display_name: string;
  role: RoomRole;
  state: ParticipantState;
  hand_raised: boolean;
  hand_raised_at: string | null;
  muted: boolean;
  joined_at: string | null;
  left_at: string | null;
}

export interface RoomSnapshot {
  room: Room;
  participants: Participant[];
  participant_count: number;
  /** Participant ids in the order their hands went up. */
  hands: string[];
  position: number;
  taken_at: string;
  /** The room's stream events after `position` up to the answer (docs/rooms.md): applied on top. */
  events?: StreamEvent[];
}

export interface MediaInfo {
  available: boolean;
  server: string | null;
  room: number | null;
  token: string | null;
  expires_at: string | null;
}

/** A media session (POST .../media, docs/media.md): how to reach the media server, or why not. */
export interface MediaSession {
  mode: "interactive" | "broadcast" | "unavailable";
  /** Why not interactive; "chosen": I asked to watch the broadcast (`watch`). */
  reason: "no_media_server" | "room_full" | "waiting" | "chosen" | null;
  server: string | null;
  core_token: string | null;
  room: number | null;
  join_token: string | null;
  feed_id: number | null;
  display: string | null;
  may_publish: boolean;
  ice_servers: RTCIceServer[];
  generation: number | null;
  broadcast: { hls_url: string } | null;
  expires_at: string | null;
}

export interface RoomTicket {
  ticket: string;
  expires_at: string;
  rejoined: boolean;
  participant: Participant;
  snapshot: RoomSnapshot;
  media: MediaInfo;
}

export type RoomIn =
  | { kind: "class"; conversation_id: string; lesson_id?: string | null; title?: string | null }
  | {
      kind: "meeting";
      title: string;
      invitee_ids?: string[];
      conversation_id?: string | null;
      scheduled_start?: string | null;
      scheduled_end?: string | null;
      waiting_room?: boolean;
      allow_guests?: boolean;
      capacity?: number;
    };

/** What the guest page shows before joining (GET /guest/rooms/{code}). */
export interface GuestRoomInfo {
  title: string;
  org_name: string;
  status: RoomStatus;
  waiting_room: boolean;
}

export interface GuestJoinIn {
  display_name: string;
  passcode: string;
  ticket?: string;
}

export interface ParticipantUpdate {
  muted?: boolean;
  role?: "cohost" | "presenter" | "attendee";
  hand_raised?: false;
  admit?: true;
}

export type AttendanceStatus = "present" | "late" | "absent";

export interface AttendanceRow {
  member_id: string;
  display_name: string;
  role: RoomRole | string | null;
  status: AttendanceStatus;
  first_joined_at: string | null;
  last_left_at: string | null;
  minutes_present: number;
  joins: number;
}

export interface Attendance {
  room: Room;
  starts_at: string | null;
  rows: AttendanceRow[];
}

export interface Lesson {
  id: string;
  conversation_id: string;
  subject: string;
  teacher_member_id: string;
  teacher_name: string;
  /** 1 (Monday) to 7 (Sunday). */
  weekday: number;
  starts_at: string;
  ends_at: string;
  room_id: string | null;
}

export interface Timetable {
  timezone: string;
  lessons: Lesson[];
}

export interface LessonIn {
  subject: string;
  teacher_member_id: string;
  weekday: number;
  starts_at: string;
  ends_at: string;
}
