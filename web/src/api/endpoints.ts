import { api, buildUrl } from "./client";
import type {
  Account,
  Attendance,
  GuestJoinIn,
  GuestRoomInfo,
  Lesson,
  LessonIn,
  MediaSession,
  Participant,
  ParticipantUpdate,
  Room,
  RoomIn,
  RoomSnapshot,
  RoomTicket,
  Timetable,
  Conversation,
  ConversationDetail,
  ConversationIn,
  ConversationMember,
  ConversationRole,
  ConversationUpdate,
  Ding,
  DingDetail,
  DingIn,
  DingSent,
  Message,
  MessageIn,
  MessagePage,
  ReactionToggled,
  ReadState,
  Receipts,
  MembersChanged,
  SearchPage,
  Upload,
  ApiToken,
  ApiTokenCreated,
  Department,
  DepartmentIn,
  DepartmentUpdate,
  DepartmentView,
  Invitation,
  InvitationIn,
  InvitationPreview,
  Member,
  MemberDetail,
  MemberIn,
  MemberUpdate,
  Membership,
  MyOrg,
  Org,
  OrgKind,
  Page,
  Role,
  SessionInfo,
  SignInSession,
  SignUpIn,
} from "./types";

const org = (orgId: string) => `/orgs/${encodeURIComponent(orgId)}`;
const id = (value: string) => encodeURIComponent(value);

/** Lists may come as a bare array or as a page; both are read as an array. */
function asList<T>(value: T[] | Page<T> | null | undefined): T[] {
  if (!value) return [];
  return Array.isArray(value) ? value : value.items ?? [];
}

export const auth = {
  session: () => api.get<SessionInfo>("/auth/session", { redirectOn401: false }),
  signIn: (login: string, password: string) =>
    api.post<SessionInfo>("/auth/sign-in", { login, password }, { redirectOn401: false }),
  signUp: (body: SignUpIn) => api.post<SessionInfo>("/auth/sign-up", body, { redirectOn401: false }),
  signOut: () => api.post<void>("/auth/sign-out", undefined, { redirectOn401: false }),
};

export const me = {
  get: () => api.get<Account>("/me"),
  update: (body: { name?: string; locale?: string }) => api.patch<Account>("/me", body, { redirectOn401: false }),
  tokens: () => api.get<ApiToken[]>("/me/tokens"),
  createToken: (name: string) => api.post<ApiTokenCreated>("/me/tokens", { name }),
  revokeToken: (tokenId: string) => api.delete(`/me/tokens/${id(tokenId)}`),
  sessions: () => api.get<SignInSession[]>("/me/sessions"),
  revokeSession: (sessionId: string) => api.delete(`/me/sessions/${id(sessionId)}`),
};

export interface MemberQuery {
  department_id?: string;
  q?: string;
  role?: Role | "";
  include_removed?: boolean;
  cursor?: string | null;
  limit?: number;
}

export const orgs = {
  list: async () => asList(await api.get<MyOrg[] | Page<MyOrg>>("/orgs")),
  create: (name: string, kind: OrgKind) => api.post<Org>("/orgs", { name, kind }),
  get: (orgId: string) => api.get<MyOrg>(org(orgId)),
  update: (orgId: string, body: { name?: string }) => api.patch<Org>(org(orgId), body),

  departments: async (orgId: string) =>
    asList(await api.get<Department[] | Page<Department>>(`${org(orgId)}/departments`)),
  createDepartment: (orgId: string, body: DepartmentIn) => api.post<Department>(`${org(orgId)}/departments`, body),
  updateDepartment: (orgId: string, deptId: string, body: DepartmentUpdate) =>
    api.patch<Department>(`${org(orgId)}/departments/${id(deptId)}`, body),
  deleteDepartment: (orgId: string, deptId: string) => api.delete(`${org(orgId)}/departments/${id(deptId)}`),

  contacts: (orgId: string, query: { department_id?: string; cursor?: string | null; limit?: number }, signal?: AbortSignal) =>
    api.get<DepartmentView>(`${org(orgId)}/contacts`, { query, signal }),

  members: (orgId: string, query: MemberQuery, signal?: AbortSignal) =>
    api.get<Page<Member>>(`${org(orgId)}/members`, { query: { ...query }, signal }),
  member: (orgId: string, memberId: string) => api.get<MemberDetail>(`${org(orgId)}/members/${id(memberId)}`),
  addMember: (orgId: string, body: MemberIn) => api.post<MemberDetail>(`${org(orgId)}/members`, body),
  updateMember: (orgId: string, memberId: string, body: MemberUpdate) =>
    api.patch<MemberDetail>(`${org(orgId)}/members/${id(memberId)}`, body),
  removeMember: (orgId: string, memberId: string) => api.delete(`${org(orgId)}/members/${id(memberId)}`),
  addGuardian: (orgId: string, studentId: string, parentMemberId: string, relation: string | null) =>
    api.post<unknown>(`${org(orgId)}/members/${id(studentId)}/guardians`, {
      parent_member_id: parentMemberId,
      relation: relation || null,
    }),
  removeGuardian: (orgId: string, studentId: string, parentMemberId: string) =>
    api.delete(`${org(orgId)}/members/${id(studentId)}/guardians/${id(parentMemberId)}`),

  invitations: async (orgId: string) =>
    asList(await api.get<Invitation[] | Page<Invitation>>(`${org(orgId)}/invitations`)),
  createInvitation: (orgId: string, body: InvitationIn) => api.post<Invitation>(`${org(orgId)}/invitations`, body),
  revokeInvitation: (orgId: string, invitationId: string) => api.delete(`${org(orgId)}/invitations/${id(invitationId)}`),
};

export const invitations = {
  preview: (code: string) => api.get<InvitationPreview>(`/invitations/${id(code)}`, { redirectOn401: false }),
  accept: (code: string) => api.post<Membership>(`/invitations/${id(code)}/accept`),
};

const CONTENT_TYPE = /^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*$/;
const conv = (orgId: string, conversationId: string) => `${org(orgId)}/conversations/${id(conversationId)}`;
const msg = (orgId: string, conversationId: string, messageId: string) =>
  `${conv(orgId, conversationId)}/messages/${id(messageId)}`;

export const chat = {
  conversations: (orgId: string, query: { cursor?: string | null; limit?: number } = {}, signal?: AbortSignal) =>
    api.get<Page<Conversation>>(`${org(orgId)}/conversations`, { query, signal }),
  createConversation: (orgId: string, body: ConversationIn) =>
    api.post<ConversationDetail>(`${org(orgId)}/conversations`, body),
  conversation: (orgId: string, conversationId: string, signal?: AbortSignal) =>
    api.get<ConversationDetail>(conv(orgId, conversationId), { signal }),
  members: (orgId: string, conversationId: string, query: { cursor?: string | null; limit?: number } = {}, signal?: AbortSignal) =>
    api.get<Page<ConversationMember>>(`${conv(orgId, conversationId)}/members`, { query, signal }),
  messages: (
    orgId: string,
    conversationId: string,
    query: { before?: number; after?: number; limit?: number } = {},
    signal?: AbortSignal,
  ) => api.get<MessagePage>(`${conv(orgId, conversationId)}/messages`, { query, signal }),
  message: (orgId: string, conversationId: string, messageId: string, signal?: AbortSignal) =>
    api.get<Message>(msg(orgId, conversationId, messageId), { signal }),
  send: (orgId: string, conversationId: string, body: MessageIn) =>
    api.post<Message>(`${conv(orgId, conversationId)}/messages`, body),
  edit: (orgId: string, conversationId: string, messageId: string, body: { body: string; mentions?: string[] }) =>
    api.patch<Message>(msg(orgId, conversationId, messageId), body),
  recall: (orgId: string, conversationId: string, messageId: string) =>
    api.post<Message>(`${msg(orgId, conversationId, messageId)}/recall`),
  react: (orgId: string, conversationId: string, messageId: string, emoji: string) =>
    api.post<ReactionToggled>(`${msg(orgId, conversationId, messageId)}/reactions`, { emoji }),
  receipts: (orgId: string, conversationId: string, messageId: string, signal?: AbortSignal) =>
    api.get<Receipts>(`${msg(orgId, conversationId, messageId)}/receipts`, { signal }),
  markRead: (orgId: string, conversationId: string, seq: number) =>
    api.post<ReadState>(`${conv(orgId, conversationId)}/read`, { seq }),
  typing: (orgId: string, conversationId: string, typing: boolean) =>
    api.post<void>(`${conv(orgId, conversationId)}/typing`, { typing }),
  updateConversation: (orgId: string, conversationId: string, body: ConversationUpdate) =>
    api.patch<ConversationDetail>(conv(orgId, conversationId), body),
  addMembers: (orgId: string, conversationId: string, memberIds: string[]) =>
    api.post<MembersChanged>(`${conv(orgId, conversationId)}/members`, { member_ids: memberIds }),
  setMemberRole: (orgId: string, conversationId: string, memberId: string, role: ConversationRole) =>
    api.patch<ConversationDetail>(`${conv(orgId, conversationId)}/members/${id(memberId)}`, { role }),
  /** Removes someone from a group; with my own member id, leaves it. */
  removeMember: (orgId: string, conversationId: string, memberId: string) =>
    api.delete(`${conv(orgId, conversationId)}/members/${id(memberId)}`),
  search: (
    orgId: string,
    query: { q: string; conversation_id?: string; cursor?: string | null; limit?: number },
    signal?: AbortSignal,
  ) => api.get<SearchPage>(`${org(orgId)}/messages/search`, { query, signal }),

  sendDing: (orgId: string, conversationId: string, body: DingIn) =>
    api.post<DingSent>(`${conv(orgId, conversationId)}/dings`, body),
  dings: async (orgId: string, box: "inbox" | "sent" = "inbox", signal?: AbortSignal) =>
    asList(await api.get<Ding[] | Page<Ding>>(`${org(orgId)}/dings`, { query: { box }, signal })),
  ding: (orgId: string, dingId: string) => api.get<DingDetail>(`${org(orgId)}/dings/${id(dingId)}`),
  acknowledge: (orgId: string, dingId: string) => api.post<DingDetail>(`${org(orgId)}/dings/${id(dingId)}/ack`),

  upload: (orgId: string, file: File) =>
    api.post<Upload>(`${org(orgId)}/uploads`, undefined, {
      raw: file,
      query: { name: file.name, content_type: CONTENT_TYPE.test(file.type) ? file.type : undefined },
    }),
};

const room = (orgId: string, roomId: string) => `${org(orgId)}/rooms/${id(roomId)}`;
/** A media session request's body: only what is asked for (docs/media.md). */
const mediaBody = (token: string | null | undefined, watch: boolean) => ({
  ...(token ? { token } : {}),
  ...(watch ? { watch: true } : {}),
});

/** Meetings and classes (docs/rooms.md). */
export const rooms = {
  create: (orgId: string, body: RoomIn) => api.post<Room>(`${org(orgId)}/rooms`, body),
  list: async (orgId: string, query: { conversation_id?: string; status?: "ended" } = {}, signal?: AbortSignal) =>
    asList(await api.get<Room[] | Page<Room>>(`${org(orgId)}/rooms`, { query, signal })),
  get: (orgId: string, roomId: string, signal?: AbortSignal) => api.get<Room>(room(orgId, roomId), { signal }),
  snapshot: (orgId: string, roomId: string, signal?: AbortSignal) =>
    api.get<RoomSnapshot>(`${room(orgId, roomId)}/snapshot`, { signal }),
  start: (orgId: string, roomId: string) => api.post<Room>(`${room(orgId, roomId)}/start`),
  join: (orgId: string, roomId: string, ticket: string | null, signal?: AbortSignal) =>
    api.post<RoomTicket>(`${room(orgId, roomId)}/join`, ticket ? { ticket } : {}, { signal }),
  leave: (orgId: string, roomId: string) => api.post<void>(`${room(orgId, roomId)}/leave`),
  hand: (orgId: string, roomId: string, raised: boolean) =>
    api.post<Participant>(`${room(orgId, roomId)}/hand`, { raised }),
  update: (orgId: string, roomId: string, body: { locked?: boolean; title?: string }) =>
    api.patch<Room>(room(orgId, roomId), body),
  muteAll: (orgId: string, roomId: string) => api.post<{ muted: number }>(`${room(orgId, roomId)}/mute-all`),
  updateParticipant: (orgId: string, roomId: string, participantId: string, body: ParticipantUpdate) =>
    api.patch<Participant>(`${room(orgId, roomId)}/participants/${id(participantId)}`, body),
  removeParticipant: (orgId: string, roomId: string, participantId: string) =>
    api.delete(`${room(orgId, roomId)}/participants/${id(participantId)}`),
  end: (orgId: string, roomId: string) => api.post<Room>(`${room(orgId, roomId)}/end`),
  /** My media session in a room where I hold a seat (docs/media.md); `token` from the join's ticket;
   * `watch`: the broadcast instead of the live room. */
  media: (orgId: string, roomId: string, token?: string | null, watch = false) =>
    api.post<MediaSession>(`${room(orgId, roomId)}/media`, mediaBody(token, watch)),
  participants: (orgId: string, roomId: string) => api.get<Participant[]>(`${room(orgId, roomId)}/participants`),
  attendance: (orgId: string, roomId: string, signal?: AbortSignal) =>
    api.get<Attendance>(`${room(orgId, roomId)}/attendance`, { signal }),
  /** A plain link (the session cookie is enough for a download). */
  attendanceCsvUrl: (orgId: string, roomId: string) => buildUrl(`${room(orgId, roomId)}/attendance.csv`),

  timetable: (orgId: string, conversationId: string, signal?: AbortSignal) =>
    api.get<Timetable>(`${conv(orgId, conversationId)}/timetable`, { signal }),
  addLesson: (orgId: string, conversationId: string, body: LessonIn) =>
    api.post<Lesson>(`${conv(orgId, conversationId)}/timetable`, body),
  deleteLesson: (orgId: string, lessonId: string) => api.delete(`${org(orgId)}/lessons/${id(lessonId)}`),
};

const guestRoom = (code: string) => `/guest/rooms/${id(code)}`;
const NO_SIGN_IN = { redirectOn401: false } as const;

/** People without an account in a meeting, by link and passcode (docs/rooms.md, "Guests"). The
 * guest's ticket is their only credential and goes with every call. */
export const guestRooms = {
  info: (code: string, signal?: AbortSignal) => api.get<GuestRoomInfo>(guestRoom(code), { ...NO_SIGN_IN, signal }),
  join: (code: string, body: GuestJoinIn, signal?: AbortSignal) =>
    api.post<RoomTicket>(`${guestRoom(code)}/join`, body, { ...NO_SIGN_IN, signal }),
  state: (code: string, ticket: string, signal?: AbortSignal) =>
    api.post<RoomSnapshot>(`${guestRoom(code)}/state`, { ticket }, { ...NO_SIGN_IN, signal }),
  hand: (code: string, ticket: string, raised: boolean) =>
    api.post<Participant>(`${guestRoom(code)}/hand`, { ticket, raised }, NO_SIGN_IN),
  leave: (code: string, ticket: string) => api.post<void>(`${guestRoom(code)}/leave`, { ticket }, NO_SIGN_IN),
  media: (code: string, ticket: string, token?: string | null, watch = false) =>
    api.post<MediaSession>(`${guestRoom(code)}/media`, { ticket, ...mediaBody(token, watch) }, NO_SIGN_IN),
};
