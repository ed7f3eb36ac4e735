import { describe, expect, it } from "vitest";
import type { Conversation, Message } from "../api/types";
import {
  addPending,
  applyMessageToConversations,
  applyMyRead,
  applyReaction,
  applyReadToWatermarks,
  applyRecall,
  countReads,
  mergeConversationLists,
  mergeMessages,
  setPendingStatus,
  type ChatMessage,
  type Watermarks,
} from "./merge";

const ME = "M_ME";
const PEER = "M_PEER";

const msg = (seq: number, extra: Partial<Message> = {}): Message => ({
  id: `MSG${seq}`,
  conversation_id: "C1",
  seq,
  sender_id: PEER,
  sender_name: "Peer",
  client_msg_id: `c${seq}`,
  kind: "text",
  body: `message ${seq}`,
  mentions: [],
  mention_all: false,
  reactions: [],
  is_ding: false,
  created_at: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z`,
  ...extra,
});

const seqs = (list: ChatMessage[]) => list.map((m) => m.seq);

describe("merging messages", () => {
  it("orders out-of-order arrivals by sequence and drops duplicates", () => {
    let list: ChatMessage[] = [];
    list = mergeMessages(list, [msg(3), msg(1)]);
    list = mergeMessages(list, [msg(2), msg(3)]);
    list = mergeMessages(list, [msg(5), msg(4), msg(5), msg(1)]);
    expect(seqs(list)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(list.map((m) => m.id)).size).toBe(5);
    // The same page twice changes nothing.
    expect(seqs(mergeMessages(list, [msg(1), msg(2), msg(3), msg(4), msg(5)]))).toEqual([1, 2, 3, 4, 5]);
  });

  it("replaces my pending send with the confirmed message, whichever arrives first", () => {
    const pending: ChatMessage = { ...msg(0, { id: "local:abc", client_msg_id: "abc", sender_id: ME }), status: "sending" };
    let list = addPending(mergeMessages([], [msg(1)]), pending);
    expect(list.map((m) => m.id)).toEqual(["MSG1", "local:abc"]);
    list = setPendingStatus(list, "abc", "failed");
    expect(list[1].status).toBe("failed");
    // Another message arrives before my send is confirmed: mine stays last until it is.
    list = mergeMessages(list, [msg(2)]);
    expect(list.map((m) => m.id)).toEqual(["MSG1", "MSG2", "local:abc"]);
    const confirmed = msg(3, { client_msg_id: "abc", sender_id: ME, read_count: 0, unread_count: 1 });
    list = mergeMessages(list, [confirmed]);
    expect(list.map((m) => m.id)).toEqual(["MSG1", "MSG2", "MSG3"]);
    expect(list[2].status).toBeUndefined();
    // The stream's copy of it (no read counts) does not lose the counts or add a second one.
    list = mergeMessages(list, [{ ...confirmed, read_count: null, unread_count: null }]);
    expect(list).toHaveLength(3);
    expect(list[2].unread_count).toBe(1);
    // A retry answered after the stream already delivered it adds nothing either.
    expect(addPending(list, pending)).toBe(list);
  });

  it("applies edits and recalls to messages already shown, and does not undo them with older copies", () => {
    let list = mergeMessages([], [msg(1), msg(2, { reply_to: { id: "MSG1", seq: 1, sender_id: PEER, sender_name: "Peer", kind: "text", snippet: "message 1", recalled: false } })]);
    const edited = msg(1, { body: "fixed", edited_at: "2026-01-01T00:01:00Z" });
    list = mergeMessages(list, [edited]);
    expect(list[0].body).toBe("fixed");
    // A REST page fetched before the edit arrives later: the edit stays.
    list = mergeMessages(list, [msg(1)]);
    expect(list[0].body).toBe("fixed");
    expect(list[0].edited_at).toBe("2026-01-01T00:01:00Z");

    list = applyRecall(list, { message_id: "MSG1", recalled_at: "2026-01-01T00:02:00Z", recalled_by: PEER });
    expect(list[0].body).toBeNull();
    expect(list[0].recalled_at).toBe("2026-01-01T00:02:00Z");
    expect(list[1].reply_to?.recalled).toBe(true);
    expect(list[1].reply_to?.snippet).toBe("");
    // Replayed recall and a stale copy change nothing.
    expect(applyRecall(list, { message_id: "MSG1", recalled_at: "2026-01-01T00:03:00Z" })[0].recalled_at).toBe(
      "2026-01-01T00:02:00Z",
    );
    list = mergeMessages(list, [edited]);
    expect(list[0].body).toBeNull();
    expect(list[0].recalled_at).toBeTruthy();
  });

  it("applies reactions once", () => {
    let list = mergeMessages([], [msg(1)]);
    const add = { message_id: "MSG1", emoji: "👍", member_id: PEER, added: true };
    list = applyReaction(list, add, ME);
    list = applyReaction(list, add, ME); // replayed
    expect(list[0].reactions).toEqual([{ emoji: "👍", count: 1, member_ids: [PEER], me: false }]);
    list = applyReaction(list, { ...add, member_id: ME }, ME);
    expect(list[0].reactions[0]).toEqual({ emoji: "👍", count: 2, member_ids: [PEER, ME], me: true });
    list = applyReaction(list, { ...add, added: false }, ME);
    list = applyReaction(list, { ...add, added: false }, ME);
    expect(list[0].reactions[0]).toEqual({ emoji: "👍", count: 1, member_ids: [ME], me: true });
    list = applyReaction(list, { ...add, member_id: ME, added: false }, ME);
    expect(list[0].reactions).toEqual([]);
  });

  it("counts who has read my messages from the read positions, live", () => {
    const mine = (seq: number) => msg(seq, { sender_id: ME, client_msg_id: `m${seq}` });
    let list = mergeMessages([], [mine(1), msg(2), mine(3)]);
    let marks: Watermarks = new Map([
      [ME, { read_seq: 3, joined_at: "2025-01-01T00:00:00Z" }],
      ["A", { read_seq: 0, joined_at: "2025-01-01T00:00:00Z" }],
      ["B", { read_seq: 1, joined_at: "2025-01-01T00:00:00Z" }],
      // Joined after message 1 was sent: counted only for message 3.
      ["C", { read_seq: 0, joined_at: "2026-01-01T00:00:02Z" }],
    ]);
    list = countReads(list, marks, ME);
    expect(list.map((m) => [m.seq, m.read_count, m.unread_count])).toEqual([
      [1, 1, 1],
      [2, undefined, undefined],
      [3, 0, 3],
    ]);
    marks = applyReadToWatermarks(marks, "A", 3);
    // Going back is ignored (positions only move forward).
    expect(applyReadToWatermarks(marks, "A", 1)).toBe(marks);
    list = countReads(list, marks, ME);
    expect(list.map((m) => [m.seq, m.read_count, m.unread_count])).toEqual([
      [1, 2, 0],
      [2, undefined, undefined],
      [3, 1, 2],
    ]);
  });
});

const conversation = (id: string, extra: Partial<Conversation> = {}): Conversation => ({
  id,
  kind: "group",
  name: id,
  announcement: null,
  owner_id: ME,
  department_id: null,
  peer_id: null,
  member_count: 3,
  last_seq: 2,
  last_activity_at: "2026-01-01T00:00:02Z",
  created_at: "2025-01-01T00:00:00Z",
  my_role: "member",
  read_seq: 2,
  unread_count: 0,
  last_message: null,
  ...extra,
});

describe("the conversation list", () => {
  it("counts unread messages once each and moves the conversation to the top", () => {
    let list = [conversation("C0", { last_activity_at: "2026-01-01T00:00:02.500Z" }), conversation("C1")];
    let result = applyMessageToConversations(list, msg(3), ME);
    expect(result.found).toBe(true);
    list = result.list;
    expect(list.map((c) => c.id)).toEqual(["C1", "C0"]);
    expect(list[0].unread_count).toBe(1);
    expect(list[0].last_message?.text).toBe("message 3");
    // Replayed: nothing changes.
    expect(applyMessageToConversations(list, msg(3), ME).list[0].unread_count).toBe(1);
    result = applyMessageToConversations(list, msg(4), ME);
    expect(result.list[0].unread_count).toBe(2);
    // My own message (from another device) means I have read up to it.
    result = applyMessageToConversations(result.list, msg(5, { sender_id: ME }), ME);
    expect(result.list[0].unread_count).toBe(0);
    expect(result.list[0].read_seq).toBe(5);
    // A conversation the list does not have is reported, to be fetched.
    expect(applyMessageToConversations(list, msg(1, { conversation_id: "NEW" }), ME).found).toBe(false);
  });

  it("clears unread when I read, and keeps newer stream state over an older REST list", () => {
    let list = [conversation("C1", { last_seq: 5, read_seq: 2, unread_count: 3 })];
    list = applyMyRead(list, "C1", 4);
    expect(list[0].unread_count).toBe(1);
    list = applyMyRead(list, "C1", 5);
    expect(list[0].unread_count).toBe(0);
    const fetchedEarlier = [conversation("C1", { last_seq: 4, read_seq: 2, unread_count: 2 })];
    const merged = mergeConversationLists(list, fetchedEarlier);
    expect(merged[0].last_seq).toBe(5);
    expect(merged[0].unread_count).toBe(0);
  });
});
