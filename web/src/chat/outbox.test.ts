import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import type { Message, MessageIn } from "../api/types";
import { localMessage, Outbox, type OutboxUpdate } from "./outbox";

const sent = (input: MessageIn, seq = 7): Message => {
  const { status, ...message } = localMessage("C1", input, { id: "ME", name: "Me" });
  return { ...message, id: `MSG${seq}`, seq };
};

function setup(send: (body: MessageIn) => Promise<Message>, online = () => true) {
  const transport = { send: vi.fn((_c: string, body: MessageIn) => send(body)), upload: vi.fn() };
  const outbox = new Outbox(transport, { random: () => 0, online });
  const updates: OutboxUpdate[] = [];
  outbox.subscribe((u) => updates.push(u));
  const input: MessageIn = { client_msg_id: "cid-1", body: "hi" };
  const add = () => outbox.add("C1", input, localMessage("C1", input, { id: "ME", name: "Me" }));
  return { outbox, transport, updates, input, add };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("outbox", () => {
  it("retries network failures by itself with the same client id, then reports the message", async () => {
    let calls = 0;
    const { transport, updates, add } = setup(async (body) => {
      calls += 1;
      if (calls < 3) throw new ApiError(0, "network_error", "offline");
      return sent(body);
    });
    add();
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.send).toHaveBeenCalledTimes(3);
    expect(transport.send.mock.calls.map(([, body]) => body.client_msg_id)).toEqual(["cid-1", "cid-1", "cid-1"]);
    expect(updates.at(-1)).toMatchObject({ type: "sent", clientMsgId: "cid-1", message: { id: "MSG7" } });
  });

  it("shows a refusal as failed at once, and sends again on request", async () => {
    let refuse = true;
    const { outbox, transport, updates, add } = setup(async (body) => {
      if (refuse) throw new ApiError(409, "conflict", "no");
      return sent(body);
    });
    add();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.send).toHaveBeenCalledTimes(1);
    expect(updates.at(-1)).toMatchObject({ type: "pending", message: { status: "failed" } });
    // Coming back online does not resend what the server refused...
    outbox.retryFailed();
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.send).toHaveBeenCalledTimes(1);
    // ...the person's click does.
    refuse = false;
    outbox.retry("cid-1");
    await vi.advanceTimersByTimeAsync(0);
    expect(updates.at(-1)).toMatchObject({ type: "sent" });
    expect(outbox.pendingFor("C1")).toEqual([]);
  });

  it("waits offline and sends when the connection is back", async () => {
    let online = false;
    const { outbox, transport, updates, add } = setup(
      async (body) => {
        if (!online) throw new ApiError(0, "network_error", "offline");
        return sent(body);
      },
      () => online,
    );
    add();
    await vi.advanceTimersByTimeAsync(10000);
    expect(transport.send).toHaveBeenCalledTimes(1);
    expect(outbox.pendingFor("C1")[0].status).toBe("failed");
    online = true;
    outbox.retryFailed();
    await vi.advanceTimersByTimeAsync(0);
    expect(updates.at(-1)).toMatchObject({ type: "sent" });
  });

  it("stops trying once the stream has delivered the message", async () => {
    const { outbox, transport, input, add } = setup(async () => {
      throw new ApiError(0, "network_error", "the answer was lost");
    });
    add();
    outbox.confirmed(sent(input));
    await vi.advanceTimersByTimeAsync(10000);
    expect(transport.send).toHaveBeenCalledTimes(1);
    expect(outbox.pendingFor("C1")).toEqual([]);
  });
});
