import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import type { RoomTicket } from "../api/types";
import { memoryStorage } from "../stream/fakeSocket";
import { studentA, ticketFor } from "../test/roomFixtures";
import { busyDelayMs, isAbort, joinRoom, TICKET_STORAGE_PREFIX, TicketStore, type JoinWaiting } from "./join";

const busy = (position: number, retryAfter: number, reason = "queue_full", status = 429) =>
  new ApiError(status, "busy", "Many people are joining right now.", { position, retry_after: retryAfter, reason, gate: "room_join" }, retryAfter);

function storage() {
  const data = memoryStorage();
  return Object.assign(data, { removeItem: (key: string) => void data.data.delete(key) });
}

/** A join endpoint answering from a script; it records the ticket each try sent. */
function scripted(answers: (RoomTicket | ApiError)[]) {
  const sent: (string | null)[] = [];
  const join = vi.fn(async (ticket: string | null) => {
    sent.push(ticket);
    const answer = answers.shift();
    if (!answer) throw new Error("no more answers");
    if (answer instanceof ApiError) throw answer;
    return answer;
  });
  return { join, sent };
}

describe("joining a room through the server's line", () => {
  it("waits Retry-After plus jitter while busy, reports the place in line each time, then keeps the ticket", async () => {
    const store = storage();
    const tickets = new TicketStore(store);
    // The server answers 429; a proxy in front (or an older server) may say 503: both are a line to wait in.
    const { join, sent } = scripted([busy(12, 3), busy(4, 1, "queue_timeout", 503), ticketFor(studentA)]);
    const waits: number[] = [];
    const seen: JoinWaiting[] = [];
    const answer = await joinRoom({
      roomId: "R1",
      join,
      tickets,
      onWaiting: (w) => seen.push(w),
      random: () => 0.5,
      now: () => 1_000,
      sleep: async (ms) => void waits.push(ms),
    });
    expect(answer.participant.id).toBe("P_A");
    expect(join).toHaveBeenCalledTimes(3);
    expect(seen.map((w) => [w.position, w.reason, w.attempt])).toEqual([
      [12, "queue_full", 1],
      [4, "queue_timeout", 2],
    ]);
    // 3 s + half of the jitter (25% of 3 s); 1 s + half of the minimum jitter (0.5 s).
    expect(waits).toEqual([3375, 1250]);
    expect(seen[0].retryAt).toBe(1_000 + 3375);
    // No ticket at first; the one it got is kept for this room.
    expect(sent).toEqual([null, null, null]);
    expect(tickets.get("R1")).toBe("ticket-P_A");
    expect(JSON.parse(store.data.get(`${TICKET_STORAGE_PREFIX}R1`) ?? "{}").ticket).toBe("ticket-P_A");
  });

  it("spreads the wait: never less than Retry-After, never more than a quarter (at least 0.5 s) above it", () => {
    for (const retry of [0, 1, 2, 5, 30]) {
      const low = busyDelayMs(retry, () => 0);
      const high = busyDelayMs(retry, () => 0.999999);
      expect(low).toBe(retry * 1000);
      expect(high).toBeLessThanOrEqual(retry * 1000 + Math.max(500, retry * 250));
      expect(high).toBeGreaterThan(low);
    }
    // The server did not say: two seconds.
    expect(busyDelayMs(null, () => 0)).toBe(2000);
  });

  it("sends the kept ticket back on a rejoin (a reload), also on every try while in line", async () => {
    const tickets = new TicketStore(storage());
    tickets.set("R1", "ticket-old", null);
    const { join, sent } = scripted([busy(1, 1), ticketFor(studentA, undefined, { ticket: "ticket-new", rejoined: true })]);
    const answer = await joinRoom({ roomId: "R1", join, tickets, random: () => 0, sleep: async () => undefined });
    expect(answer.rejoined).toBe(true);
    expect(sent).toEqual(["ticket-old", "ticket-old"]);
    expect(tickets.get("R1")).toBe("ticket-new");
  });

  it("drops a ticket the server no longer takes and joins again without it", async () => {
    for (const code of ["ticket_expired", "ticket_invalid"]) {
      const tickets = new TicketStore(storage());
      tickets.set("R1", "ticket-stale", null);
      const { join, sent } = scripted([new ApiError(403, code, "No."), ticketFor(studentA)]);
      await joinRoom({ roomId: "R1", join, tickets, sleep: async () => undefined });
      expect(sent).toEqual(["ticket-stale", null]);
      expect(tickets.get("R1")).toBe("ticket-P_A");
    }
  });

  it("stops at other refusals and passes them on to be shown", async () => {
    for (const code of ["room_locked", "room_full", "room_ended", "room_removed", "not_found"]) {
      const { join } = scripted([new ApiError(code === "not_found" ? 404 : 409, code, "Refused.")]);
      const failure = await joinRoom({ roomId: "R1", join, tickets: new TicketStore(storage()), sleep: async () => undefined }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(ApiError);
      expect((failure as ApiError).code).toBe(code);
      expect(join).toHaveBeenCalledTimes(1);
    }
  });

  it("cancelling while in line stops the waiting at once and tries no more", async () => {
    vi.useFakeTimers();
    try {
      const controller = new AbortController();
      const { join } = scripted([busy(30, 10), ticketFor(studentA)]);
      const waiting = vi.fn();
      const result = joinRoom({ roomId: "R1", join, tickets: new TicketStore(storage()), signal: controller.signal, onWaiting: waiting, random: () => 0 });
      const outcome = result.then(() => "joined", (e: unknown) => (isAbort(e) ? "cancelled" : e));
      await vi.advanceTimersByTimeAsync(0);
      expect(waiting).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(5_000);
      controller.abort();
      expect(await outcome).toBe("cancelled");
      await vi.advanceTimersByTimeAsync(20_000);
      expect(join).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("with real timers: retries by itself once the wait is over", async () => {
    vi.useFakeTimers();
    try {
      const { join } = scripted([busy(2, 2), ticketFor(studentA)]);
      const done = joinRoom({ roomId: "R1", join, tickets: new TicketStore(storage()), random: () => 0 });
      await vi.advanceTimersByTimeAsync(1_999);
      expect(join).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1);
      expect((await done).participant.id).toBe("P_A");
      expect(join).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
