import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GuestRoomInfo, Participant, RoomSnapshot } from "../../api/types";
import { GUEST_TICKET_STORAGE_PREFIX } from "../../rooms/join";
import { joined, participant, room, roomEvent, snapshot, ticketFor, updated } from "../../test/roomFixtures";
import { envelope, mockApi, renderApp, setBrowserLanguages, signedOut, type Call } from "../../test/utils";
import { guestPolling } from "./GuestPage";

const CODE = "GuestCode12";
const BASE = `/api/v1/guest/rooms/${CODE}`;
const TICKET_KEY = `${GUEST_TICKET_STORAGE_PREFIX}${CODE}`;

const meeting = (extra = {}) => room({ kind: "meeting", title: "季度复盘", conversation_id: null, host_member_id: "M_HOST", ...extra });
const host = participant("P_H", "王经理", { role: "host", member_id: "M_HOST" });
const colleague = participant("P_C", "李明", {}, 10);
const guest: Participant = { ...participant("P_G", "Guest Li", {}, 30), member_id: null, guest: true };
const info: GuestRoomInfo = { title: "季度复盘", org_name: "Acme Ltd.", status: "open", waiting_room: false };

const meetingSnapshot = (extra: Partial<RoomSnapshot> = {}) =>
  snapshot({ room: meeting(), participants: [host, guest], participant_count: 2, ...extra });

const rows = () => screen.queryAllByTestId("room-participant");
const names = () => rows().map((el) => within(el).getByTestId("room-participant-name").textContent);

function routes(extra: Record<string, Parameters<typeof mockApi>[0][string]> = {}) {
  return {
    "GET /api/v1/auth/session": signedOut,
    [`GET ${BASE}`]: { status: 200, body: info },
    [`POST ${BASE}/leave`]: { status: 204 },
    ...extra,
  };
}

async function fillAndJoin(name: string, passcode: string) {
  fireEvent.change(await screen.findByTestId("guest-name"), { target: { value: name } });
  fireEvent.change(screen.getByTestId("guest-passcode"), { target: { value: passcode } });
  fireEvent.click(screen.getByTestId("guest-join"));
}

beforeEach(() => {
  guestPolling.intervalMs = 60;
});
afterEach(() => {
  guestPolling.intervalMs = 3000;
});

describe("the guest page", () => {
  it("joins with a name and the passcode, follows the room by asking for its state, raises a hand and leaves", async () => {
    setBrowserLanguages(["en-US"]);
    const joins: Call[] = [];
    const polls: Call[] = [];
    let handUp = false;
    const guestNow = (): Participant => ({ ...guest, hand_raised: handUp, hand_raised_at: handUp ? "2026-03-02T08:06:00Z" : null });
    const { calls } = mockApi(
      routes({
        [`POST ${BASE}/join`]: (call) => {
          joins.push(call);
          return { status: 200, body: ticketFor(guest, meetingSnapshot()) };
        },
        // Every answer is the shared snapshot at 100 with the events since: 李明 joins, then raises a hand.
        [`POST ${BASE}/state`]: (call) => {
          polls.push(call);
          const events = [
            joined(101, colleague, 3),
            updated(102, { ...colleague, hand_raised: true, hand_raised_at: "2026-03-02T08:05:00Z" }),
          ];
          if (handUp) events.push(updated(103, guestNow()));
          return { status: 200, body: meetingSnapshot({ events: polls.length === 1 ? events.slice(0, 1) : events }) };
        },
        [`POST ${BASE}/hand`]: (call) => {
          handUp = (call.body as { raised: boolean }).raised;
          return { status: 200, body: guestNow() };
        },
      }),
    );

    renderApp(`/guest/${CODE}`);
    expect((await screen.findByTestId("guest-title")).textContent).toBe("季度复盘");
    expect(screen.getByTestId("guest-org").textContent).toBe("Acme Ltd.");

    await fillAndJoin("  Guest Li ", "123456");
    await waitFor(() => expect(screen.getByTestId("guest-page").getAttribute("data-state")).toBe("in"));
    expect(joins.map((c) => c.body)).toEqual([{ display_name: "Guest Li", passcode: "123456" }]);
    expect(JSON.parse(sessionStorage.getItem(TICKET_KEY) ?? "{}").ticket).toBe("ticket-P_G");
    expect(screen.getByTestId("room-title").textContent).toBe("季度复盘");
    expect(screen.getByTestId("media-unavailable").textContent).toBe("Audio and video are not available on this server.");
    expect(names()).toEqual(["王经理", "Guest Li"]);
    expect(within(rows()[0]).getByTestId("room-participant-role").textContent).toBe("Host");
    expect(within(rows()[1]).getByTestId("room-participant-role").textContent).toBe("Participant");
    expect(within(rows()[1]).getByTestId("room-participant-guest").textContent).toBe("Guest");
    // A guest has no host controls.
    expect(screen.queryByTestId("room-participant-actions")).toBeNull();

    // The polls' events are applied: 李明 comes in, then raises a hand.
    await waitFor(() => expect(names()).toEqual(["王经理", "李明", "Guest Li"]));
    await waitFor(() => expect(screen.getAllByTestId("room-hand-name").map((el) => el.textContent)).toEqual(["李明"]));
    expect(polls[0].body).toEqual({ ticket: "ticket-P_G" });

    fireEvent.click(screen.getByTestId("room-hand-toggle"));
    await waitFor(() => expect(screen.getByTestId("room-hand-toggle").getAttribute("data-raised")).toBe("true"));
    expect(calls.find((c) => c.url === `${BASE}/hand`)?.body).toEqual({ ticket: "ticket-P_G", raised: true });
    expect(screen.getAllByTestId("room-hand-name").map((el) => el.textContent)).toEqual(["李明", "Guest Li"]);
    // Later polls keep it.
    const seen = polls.length;
    await waitFor(() => expect(polls.length).toBeGreaterThan(seen + 1));
    expect(screen.getByTestId("room-hand-toggle").getAttribute("data-raised")).toBe("true");

    fireEvent.click(screen.getByTestId("room-leave"));
    expect((await screen.findByTestId("guest-left")).textContent).toBe("You left the meeting");
    await waitFor(() => expect(calls.find((c) => c.url === `${BASE}/leave`)?.body).toEqual({ ticket: "ticket-P_G" }));
    expect(sessionStorage.getItem(TICKET_KEY)).toBeNull();
    // No more polling once gone.
    const after = polls.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(polls.length).toBe(after);
  });

  it("says when the passcode is wrong, and shows the wait when tries are throttled", async () => {
    setBrowserLanguages(["zh-CN"]);
    const joins: Call[] = [];
    mockApi(
      routes({
        [`POST ${BASE}/join`]: (call) => {
          joins.push(call);
          if (joins.length === 1) return { status: 403, body: envelope("wrong_passcode", "The passcode is not right. Ask the host for it.") };
          return {
            status: 429,
            headers: { "Retry-After": "30" },
            body: envelope("guest_throttled", "Too many wrong links or passcodes were tried. Wait a little and try again."),
          };
        },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("小王", "111111");
    const error = await screen.findByTestId("guest-error");
    expect(error.getAttribute("data-code")).toBe("wrong_passcode");
    expect(screen.getByTestId("guest-error-title").textContent).toBe("入会密码不正确");
    expect(screen.getByTestId("guest-error-message").textContent).toBe("入会密码不正确，请向主持人确认。");
    // The form stays, with the name kept.
    expect((screen.getByTestId("guest-name") as HTMLInputElement).value).toBe("小王");
    expect(sessionStorage.getItem(TICKET_KEY)).toBeNull();

    fireEvent.change(screen.getByTestId("guest-passcode"), { target: { value: "222222" } });
    fireEvent.click(screen.getByTestId("guest-join"));
    await waitFor(() => expect(screen.getByTestId("guest-error").getAttribute("data-code")).toBe("guest_throttled"));
    expect(screen.getByTestId("guest-error-title").textContent).toBe("尝试次数过多");
    expect(screen.getByTestId("guest-throttled-wait").textContent).toMatch(/^尝试了太多错误的链接或入会密码，(30|29) 秒后可以再试。$/);
    expect((screen.getByTestId("guest-join") as HTMLButtonElement).disabled).toBe(true);
    expect(joins.map((c) => c.body)).toEqual([
      { display_name: "小王", passcode: "111111" },
      { display_name: "小王", passcode: "222222" },
    ]);
  });

  it("waits in line while the server is busy and comes in by itself; a reload sends the ticket back", async () => {
    setBrowserLanguages(["en-US"]);
    const joins: Call[] = [];
    mockApi(
      routes({
        [`POST ${BASE}/join`]: (call) => {
          joins.push(call);
          if (joins.length === 1) {
            return {
              status: 503,
              headers: { "Retry-After": "1" },
              body: envelope("busy", "Many people are joining right now.", { position: 3, retry_after: 1, reason: "queue_full" }),
            };
          }
          return { status: 200, body: ticketFor(guest, meetingSnapshot(), { rejoined: joins.length > 2 }) };
        },
        [`POST ${BASE}/state`]: { status: 200, body: meetingSnapshot() },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("Guest Li", "123456");
    const queue = await screen.findByTestId("room-queue");
    expect(queue.textContent).toBe("Many people are coming in at once. You are number 3 in line.");
    expect(screen.getByTestId("room-queue-retry").textContent).toMatch(/^Trying again by itself in [12] s\.$/);
    await waitFor(() => expect(screen.getByTestId("guest-page").getAttribute("data-state")).toBe("in"), { timeout: 4000 });
    expect(joins.map((c) => c.body)).toEqual([
      { display_name: "Guest Li", passcode: "123456" },
      { display_name: "Guest Li", passcode: "123456" },
    ]);

    // A reload: the seat comes back without asking again, the ticket sent with the join.
    cleanup();
    renderApp(`/guest/${CODE}`);
    await waitFor(() => expect(screen.getByTestId("guest-page").getAttribute("data-state")).toBe("in"));
    expect(joins[2].body).toEqual({ display_name: "Guest Li", passcode: "123456", ticket: "ticket-P_G" });
    expect(screen.queryByTestId("guest-name")).toBeNull();
  });

  it("says so when the host removes the guest (the ticket refused)", async () => {
    setBrowserLanguages(["en-US"]);
    mockApi(
      routes({
        [`POST ${BASE}/join`]: { status: 200, body: ticketFor(guest, meetingSnapshot()) },
        [`POST ${BASE}/state`]: { status: 403, body: envelope("ticket_invalid", "This ticket is not valid.") },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("Guest Li", "123456");
    expect((await screen.findByTestId("guest-removed")).textContent).toBe("The host removed you from this meeting");
    expect(sessionStorage.getItem(TICKET_KEY)).toBeNull();
  });

  it("says so when the meeting ends", async () => {
    setBrowserLanguages(["zh-CN"]);
    mockApi(
      routes({
        [`POST ${BASE}/join`]: { status: 200, body: ticketFor(guest, meetingSnapshot()) },
        [`POST ${BASE}/state`]: {
          status: 200,
          body: meetingSnapshot({ events: [roomEvent(101, "room.ended", { room: meeting({ status: "ended", ended_at: "2026-03-02T09:00:00Z" }) })] }),
        },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("小王", "123456");
    expect((await screen.findByTestId("guest-ended")).textContent).toBe("会议已结束");
    expect(sessionStorage.getItem(TICKET_KEY)).toBeNull();
  });
});
