import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Conversation, ConversationMember, Message } from "../../api/types";
import { fakeSockets } from "../../stream/fakeSocket";
import { setStreamSocketFactory } from "../../stream/StreamProvider";
import { account, envelope, mockApi, renderApp, setBrowserLanguages, type Call } from "../../test/utils";
import { ME, PEER, myOrg, peerMessage } from "../../test/fixtures";

const org = myOrg();

const conversation: Conversation = {
  id: "C1",
  kind: "direct",
  name: "Li Lei",
  announcement: null,
  owner_id: null,
  department_id: null,
  peer_id: PEER,
  member_count: 2,
  last_seq: 2,
  last_activity_at: "2026-03-01T09:00:02Z",
  created_at: "2026-03-01T09:00:00Z",
  my_role: "member",
  read_seq: 2,
  unread_count: 0,
  last_message: null,
};

const message = (seq: number, extra: Partial<Message> = {}): Message => peerMessage("C1", seq, extra);

const members: ConversationMember[] = [
  { member_id: ME, display_name: "Wang Fang", role: "member", source: "manual", read_seq: 2, joined_at: "2026-03-01T09:00:00Z" },
  { member_id: PEER, display_name: "Li Lei", role: "member", source: "manual", read_seq: 2, joined_at: "2026-03-01T09:00:00Z" },
];

const shownTexts = () => screen.queryAllByTestId("message-text").map((el) => el.textContent);

describe("chat view", () => {
  it("merges history and stream in order, sends with a client id, retries the same one, and follows read receipts live", async () => {
    setBrowserLanguages(["en-US"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    const sends: Call[] = [];
    let confirmed: Message | null = null;
    const answerSend = (call: Call) => {
      sends.push(call);
      // The first try is refused; the retry goes through.
      if (sends.length === 1) return { status: 409, body: envelope("conflict", "Try that again.") };
      const body = call.body as { client_msg_id: string; body: string };
      confirmed = message(5, { id: "MSG5", sender_id: ME, sender_name: "Wang Fang", client_msg_id: body.client_msg_id, body: body.body, read_count: 0, unread_count: 1 });
      return { status: 201, body: confirmed };
    };
    const { calls } = mockApi({
      "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
      "GET /api/v1/orgs": { status: 200, body: [org] },
      "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [conversation], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
      "GET /api/v1/orgs/ORG1/conversations/C1": { status: 200, body: { ...conversation, admin_ids: [] } },
      "GET /api/v1/orgs/ORG1/conversations/C1/messages": { status: 200, body: { items: [message(1), message(2)], has_more: false } },
      "GET /api/v1/orgs/ORG1/conversations/C1/members": { status: 200, body: { items: members, next_cursor: null } },
      "POST /api/v1/orgs/ORG1/conversations/C1/read": (call) => ({
        status: 200,
        body: { conversation_id: "C1", read_seq: (call.body as { seq: number }).seq, unread_count: 0 },
      }),
      "POST /api/v1/orgs/ORG1/conversations/C1/messages": answerSend,
    });

    renderApp("/orgs/ORG1/chat/C1");
    await waitFor(() => expect(shownTexts()).toEqual(["message 1", "message 2"]));

    // The stream connects and goes live. While it is, sends are calls over it (docs/stream.md),
    // answered here as the server would.
    const socket = net.last();
    const sendFrame = socket.send.bind(socket);
    socket.send = (data: string) => {
      sendFrame(data);
      const frame = JSON.parse(data) as { type: string; id: string; params: { message: unknown } };
      if (frame.type !== "call") return;
      const answer = answerSend({ method: "CALL", url: "chat.send", body: frame.params.message } as Call);
      const body = answer.body as { error?: unknown };
      setTimeout(() =>
        socket.receive(
          answer.status < 300
            ? { type: "result", id: frame.id, ok: true, data: { created: true, message: answer.body } }
            : { type: "result", id: frame.id, ok: false, status: answer.status, error: body.error },
        ),
      );
    };
    act(() => {
      socket.open();
      socket.receive({ type: "ready", orgs: { ORG1: { position: 10, epoch: "e1", member_id: ME } }, ping_interval: 20 });
      socket.receive({ type: "live", positions: { ORG1: 10 } });
    });
    expect(socket.hello).toEqual({ type: "hello", cursors: {} });
    await waitFor(() => expect(screen.getByTestId("connection-state").getAttribute("data-state")).toBe("live"));

    // Messages arrive out of order and twice: each is shown once, in sequence order.
    const created = (position: number, m: Message) => ({
      type: "event",
      org_id: "ORG1",
      position,
      channel: "conv:C1",
      kind: "message.created",
      data: { message: m },
    });
    act(() => {
      socket.receive(created(11, message(4)));
      socket.receive(created(12, message(3)));
      socket.receive(created(12, message(3)));
      socket.receive(created(13, message(2)));
    });
    await waitFor(() => expect(shownTexts()).toEqual(["message 1", "message 2", "message 3", "message 4"]));
    // Open and visible: read up to the last message.
    await waitFor(() =>
      expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/C1/read") && (c.body as { seq: number }).seq === 4)).toBe(true),
    );

    // An edit and a recall change messages already shown.
    act(() => {
      socket.receive({ type: "event", org_id: "ORG1", position: 14, channel: "conv:C1", kind: "message.edited", data: { message: message(3, { body: "message 3, fixed", edited_at: "2026-03-01T09:01:00Z" }) } });
      socket.receive({ type: "event", org_id: "ORG1", position: 15, channel: "conv:C1", kind: "message.recalled", data: { conversation_id: "C1", message_id: "MSG1", seq: 1, recalled_at: "2026-03-01T09:02:00Z", recalled_by: PEER } });
    });
    await waitFor(() => expect(shownTexts()).toEqual(["message 2", "message 3, fixed", "message 4"]));
    expect(screen.getByText("Li Lei recalled a message")).toBeTruthy();
    expect(screen.getByText("(edited)")).toBeTruthy();

    // I send: it shows at once, the refusal is visible with a retry, and the retry reuses the id.
    fireEvent.change(screen.getByTestId("message-input"), { target: { value: "on my way" } });
    fireEvent.click(screen.getByTestId("message-send"));
    const status = await screen.findByTestId("message-status");
    await waitFor(() => expect(status.getAttribute("data-status")).toBe("failed"));
    expect(shownTexts()).toContain("on my way");
    fireEvent.click(screen.getByTestId("message-retry"));
    await waitFor(() => expect(screen.queryByTestId("message-status")).toBeNull());
    expect(sends).toHaveLength(2);
    const firstId = (sends[0].body as { client_msg_id: string }).client_msg_id;
    expect(firstId).toMatch(/^[0-9a-f-]{36}$/);
    expect((sends[1].body as { client_msg_id: string }).client_msg_id).toBe(firstId);
    expect((sends[1].body as { kind: string }).kind).toBe("text");
    // Both went over the live connection, none as a request of its own.
    expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/C1/messages"))).toBe(false);

    // The stream's copy of my message does not add a second one.
    act(() => socket.receive(created(16, confirmed as Message)));
    await waitFor(() => expect(shownTexts().filter((t) => t === "on my way")).toHaveLength(1));
    const mine = screen.getAllByTestId("message-item").find((el) => el.getAttribute("data-message-id") === "MSG5") as HTMLElement;
    expect(within(mine).getByTestId("read-count").textContent).toBe("Unread");

    // The other person reads it: the receipt changes live.
    act(() =>
      socket.receive({ type: "event", org_id: "ORG1", position: 17, channel: "conv:C1", kind: "read.updated", data: { conversation_id: "C1", member_id: PEER, read_seq: 5 } }),
    );
    await waitFor(() => expect(within(mine).getByTestId("read-count").textContent).toBe("Read"));
    expect(within(mine).getByTestId("read-count").getAttribute("data-unread")).toBe("0");
  });
});
