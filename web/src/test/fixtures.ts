/** Data the page tests share: an organization of mine, and messages of a peer. */
import type { Message, MyOrg } from "../api/types";

export const ME = "M_ME";
export const PEER = "M_PEER";

/** "Acme Ltd." as the organization list shows it to me; override what a test needs. */
export function myOrg(extra: Partial<MyOrg> = {}): MyOrg {
  return {
    id: "ORG1",
    name: "Acme Ltd.",
    kind: "company",
    root_department_id: "D0",
    created_at: "2025-01-01T00:00:00Z",
    member_id: ME,
    roles: ["member"],
    is_admin: false,
    ...extra,
  };
}

/** Message `seq` of a conversation, sent by Li Lei (PEER) `seq` seconds after 09:00 on 1 March 2026. */
export function peerMessage(conversationId: string, seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: `MSG${seq}`,
    conversation_id: conversationId,
    seq,
    sender_id: PEER,
    sender_name: "Li Lei",
    client_msg_id: `peer-${seq}`,
    kind: "text",
    body: `message ${seq}`,
    mentions: [],
    mention_all: false,
    reactions: [],
    is_ding: false,
    created_at: new Date(Date.UTC(2026, 2, 1, 9, 0, seq)).toISOString(),
    ...extra,
  };
}
