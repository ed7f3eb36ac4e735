/**
 * How the chat's state takes in what arrives: REST pages, send answers and stream events, in any
 * order and any number of times. Every function here is pure and idempotent: applying the same
 * message, edit, recall or read twice changes nothing the second time, so a replay after a
 * reconnect, or a REST page that overlaps the stream, never shows a message twice.
 */
import type { Conversation, ConversationMember, Message, MessagePreview, Reaction } from "../api/types";

export type SendStatus = "sending" | "failed";

/** A message as the chat view holds it: confirmed by the server, or one of mine on its way. */
export interface ChatMessage extends Message {
  /** Set while my send is not confirmed yet; confirmed messages have none. */
  status?: SendStatus;
  error?: unknown;
}

export const LOCAL_PREFIX = "local:";

export function isLocal(message: ChatMessage): boolean {
  return message.id.startsWith(LOCAL_PREFIX);
}

function time(value: string | null | undefined): number {
  if (!value) return 0;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? 0 : parsed;
}

/** Two copies of the same message: the one that knows more wins, field by field. */
function combine(current: ChatMessage, incoming: Message): ChatMessage {
  // A recall is final; a later edit time means a later text.
  if (current.recalled_at && !incoming.recalled_at) return current;
  const incomingIsOlderEdit = !incoming.recalled_at && time(incoming.edited_at) < time(current.edited_at);
  const base: ChatMessage = incomingIsOlderEdit
    ? { ...incoming, body: current.body, mentions: current.mentions, edited_at: current.edited_at }
    : { ...incoming };
  // Stream copies leave out what is personal (reactions' "me", read counts): keep what we know.
  if (!("reactions" in incoming) || incoming.reactions === undefined) base.reactions = current.reactions;
  if (incoming.read_count === undefined || incoming.read_count === null) {
    base.read_count = current.read_count;
    base.unread_count = current.unread_count;
  }
  if (incoming.recalled_at) base.reactions = [];
  delete base.status;
  delete base.error;
  return base;
}

function compare(a: ChatMessage, b: ChatMessage): number {
  const aLocal = isLocal(a);
  const bLocal = isLocal(b);
  if (aLocal !== bLocal) return aLocal ? 1 : -1; // my unconfirmed sends stay at the end
  if (aLocal) return 0; // in the order they were sent (the sort is stable)
  return a.seq - b.seq;
}

/** Adds or updates messages: one entry per message id, confirmed ones in sequence order, my
 * unconfirmed sends after them. A confirmed message replaces my local copy (same client_msg_id). */
export function mergeMessages(list: ChatMessage[], incoming: Message[]): ChatMessage[] {
  if (!incoming.length) return list;
  const byId = new Map<string, ChatMessage>();
  for (const m of list) byId.set(m.id, m);
  for (const m of incoming) {
    if (!m || !m.id) continue;
    const local = `${LOCAL_PREFIX}${m.client_msg_id}`;
    if (byId.has(local) && byId.get(local)?.sender_id === m.sender_id) byId.delete(local);
    const current = byId.get(m.id);
    byId.set(m.id, current ? combine(current, m) : { ...m });
  }
  return [...byId.values()].sort(compare);
}

/** Adds my send before the server has answered. */
export function addPending(list: ChatMessage[], message: ChatMessage): ChatMessage[] {
  if (list.some((m) => m.id === message.id)) return list.map((m) => (m.id === message.id ? message : m));
  // It may already be confirmed (the stream was faster than the answer).
  if (list.some((m) => !isLocal(m) && m.client_msg_id === message.client_msg_id && m.sender_id === message.sender_id)) {
    return list;
  }
  return [...list, message].sort(compare);
}

export function setPendingStatus(list: ChatMessage[], clientMsgId: string, status: SendStatus, error?: unknown): ChatMessage[] {
  const id = `${LOCAL_PREFIX}${clientMsgId}`;
  return list.map((m) => (m.id === id ? { ...m, status, error } : m));
}

export function removeMessage(list: ChatMessage[], id: string): ChatMessage[] {
  return list.filter((m) => m.id !== id);
}

export interface RecallData {
  message_id: string;
  recalled_at?: string | null;
  recalled_by?: string | null;
}

export function applyRecall(list: ChatMessage[], data: RecallData): ChatMessage[] {
  let changed = false;
  const next = list.map((m) => {
    if (m.id !== data.message_id || m.recalled_at) return m;
    changed = true;
    return {
      ...m,
      body: null,
      mentions: [],
      mention_all: false,
      file: null,
      link: null,
      reactions: [],
      recalled_at: data.recalled_at ?? new Date().toISOString(),
      recalled_by: data.recalled_by ?? null,
    };
  });
  // A reply quoting the recalled message no longer shows its text.
  return (changed ? next : list).map((m) =>
    m.reply_to && m.reply_to.id === data.message_id && !m.reply_to.recalled
      ? { ...m, reply_to: { ...m.reply_to, recalled: true, snippet: "" } }
      : m,
  );
}

export interface ReactionData {
  message_id: string;
  emoji: string;
  member_id: string;
  added: boolean;
}

/** Who reacted is listed up to 20 people; with a complete list the change is applied exactly once. */
export function applyReaction(list: ChatMessage[], data: ReactionData, me: string): ChatMessage[] {
  return list.map((m) => {
    if (m.id !== data.message_id || m.recalled_at) return m;
    const reactions: Reaction[] = (m.reactions ?? []).map((r) => ({ ...r, member_ids: [...r.member_ids] }));
    let entry = reactions.find((r) => r.emoji === data.emoji);
    if (!entry) {
      if (!data.added) return m;
      entry = { emoji: data.emoji, count: 0, member_ids: [], me: false };
      reactions.push(entry);
    }
    const complete = entry.member_ids.length >= entry.count;
    const listed = entry.member_ids.includes(data.member_id);
    if (data.added) {
      if (listed || (data.member_id === me && entry.me)) return m;
      entry.count += 1;
      if (entry.member_ids.length < 20) entry.member_ids.push(data.member_id);
    } else {
      if (complete && !listed) return m;
      if (data.member_id === me && !entry.me) return m;
      entry.count = Math.max(0, entry.count - 1);
      entry.member_ids = entry.member_ids.filter((id) => id !== data.member_id);
    }
    if (data.member_id === me) entry.me = data.added;
    return { ...m, reactions: reactions.filter((r) => r.count > 0) };
  });
}

/** Replaces a message's reactions with the server's answer to my own toggle. */
export function setReactions(list: ChatMessage[], messageId: string, reactions: Reaction[]): ChatMessage[] {
  return list.map((m) => (m.id === messageId ? { ...m, reactions } : m));
}

// ---- read receipts ------------------------------------------------------------------------------

/** Read positions of a conversation's members: member id -> how far they have read, when they joined. */
export type Watermarks = Map<string, { read_seq: number; joined_at: string }>;

export function watermarksOf(members: ConversationMember[]): Watermarks {
  return new Map(members.map((m) => [m.member_id, { read_seq: m.read_seq, joined_at: m.joined_at }]));
}

/** A read position only moves forward. Returns the same map when nothing changed. */
export function applyReadToWatermarks(marks: Watermarks, memberId: string, readSeq: number): Watermarks {
  const current = marks.get(memberId);
  if (!current || current.read_seq >= readSeq) return marks;
  const next = new Map(marks);
  next.set(memberId, { ...current, read_seq: readSeq });
  return next;
}

/** Read and unread counts of my messages from the members' read positions, as the server counts
 * them: the members other than me who were there when the message was sent. */
export function countReads(list: ChatMessage[], marks: Watermarks, me: string): ChatMessage[] {
  const members = [...marks.entries()].filter(([id]) => id !== me);
  let changed = false;
  const next = list.map((m) => {
    if (m.sender_id !== me || isLocal(m) || m.recalled_at) return m;
    const sent = time(m.created_at);
    let read = 0;
    let unread = 0;
    for (const [, mark] of members) {
      if (time(mark.joined_at) > sent) continue;
      if (mark.read_seq >= m.seq) read += 1;
      else unread += 1;
    }
    if (m.read_count === read && m.unread_count === unread) return m;
    changed = true;
    return { ...m, read_count: read, unread_count: unread };
  });
  return changed ? next : list;
}

// ---- the conversation list ----------------------------------------------------------------------

export function previewOf(message: Message): MessagePreview {
  // Worded as the server words it (tack/chat/service.py), so both kinds of preview read the same.
  let text: string;
  if (message.recalled_at) text = "[Recalled]";
  else if (message.kind === "image") text = "[Image]";
  else if (message.kind === "file") text = `[File] ${message.file?.name ?? ""}`.trim();
  else if (message.kind === "link" && !message.body) text = `[Link] ${message.link?.title ?? ""}`.trim();
  else {
    const body = (message.body ?? "").split(/\s+/).join(" ").trim();
    text = (message.is_ding ? "[DING] " : "") + (body.length > 80 ? `${body.slice(0, 80)}…` : body);
  }
  return {
    id: message.id,
    seq: message.seq,
    sender_id: message.sender_id,
    sender_name: message.sender_name,
    kind: message.kind,
    text,
    created_at: message.created_at,
    recalled: !!message.recalled_at,
  };
}

export function sortConversations(list: Conversation[]): Conversation[] {
  return [...list].sort((a, b) => time(b.last_activity_at) - time(a.last_activity_at) || (a.id < b.id ? -1 : 1));
}

/** A new message in a conversation of the list. `found` is false when the list does not hold the
 * conversation (then it should be fetched). Counting unread is by sequence, so it is exact and
 * idempotent: a message at or below what the list already knows changes nothing. */
export function applyMessageToConversations(
  list: Conversation[],
  message: Message,
  me: string,
): { list: Conversation[]; found: boolean } {
  const index = list.findIndex((c) => c.id === message.conversation_id);
  if (index < 0) return { list, found: false };
  const conversation = list[index];
  if (message.seq <= conversation.last_seq) {
    // Only the last message's preview can still change (an edit or recall of it).
    if (conversation.last_message?.id !== message.id) return { list, found: true };
    const next = [...list];
    next[index] = { ...conversation, last_message: previewOf(message) };
    return { list: next, found: true };
  }
  const fromOther = message.sender_id !== me;
  const updated: Conversation = {
    ...conversation,
    last_seq: message.seq,
    last_message: previewOf(message),
    last_activity_at: message.created_at,
    unread_count: conversation.unread_count + (fromOther && message.seq > conversation.read_seq ? 1 : 0),
    // My own message means I have read everything before it.
    read_seq: fromOther ? conversation.read_seq : Math.max(conversation.read_seq, message.seq),
  };
  if (!fromOther) updated.unread_count = 0;
  const next = [...list];
  next[index] = updated;
  return { list: sortConversations(next), found: true };
}

export function applyRecallToConversations(list: Conversation[], conversationId: string, messageId: string): Conversation[] {
  return list.map((c) =>
    c.id === conversationId && c.last_message?.id === messageId && !c.last_message.recalled
      ? { ...c, last_message: { ...c.last_message, recalled: true, text: "[Recalled]" } }
      : c,
  );
}

/** My read position moved (here or on another device). */
export function applyMyRead(list: Conversation[], conversationId: string, readSeq: number, unread?: number): Conversation[] {
  return list.map((c) => {
    if (c.id !== conversationId) return c;
    if (readSeq < c.read_seq) return c;
    const left = readSeq >= c.last_seq ? 0 : Math.min(c.unread_count, c.last_seq - readSeq);
    const unreadCount = unread ?? left;
    if (c.read_seq === readSeq && c.unread_count === unreadCount) return c;
    return { ...c, read_seq: readSeq, unread_count: unreadCount };
  });
}

/** The REST list, fetched again, keeps what the stream had already told us beyond it. */
export function mergeConversationLists(current: Conversation[], fetched: Conversation[]): Conversation[] {
  const known = new Map(current.map((c) => [c.id, c]));
  return sortConversations(
    fetched.map((c) => {
      const mine = known.get(c.id);
      if (!mine || mine.last_seq <= c.last_seq) return c;
      return { ...c, last_seq: mine.last_seq, last_message: mine.last_message, last_activity_at: mine.last_activity_at, unread_count: mine.unread_count, read_seq: Math.max(c.read_seq, mine.read_seq) };
    }),
  );
}

export function totalUnread(list: Conversation[]): number {
  return list.reduce((sum, c) => sum + (c.unread_count > 0 ? c.unread_count : 0), 0);
}
