import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { GuestRoomInfo, MediaSession, Participant, RoomSnapshot } from "../../api/types";
import { fakeJanusSockets, type Sent } from "../../media/fakeJanus";
import { installFakeWebrtc } from "../../media/fakeWebrtc";
import { setJanusSocketFactory } from "../../media/janus";
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
    expect((await screen.findByTestId("media-unavailable")).textContent).toBe("Audio and video are not available on this server.");
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

function guestSession(extra: Partial<MediaSession> = {}): MediaSession {
  return {
    mode: "interactive",
    reason: null,
    server: "ws://janus.test:8188",
    core_token: "core",
    room: 734201992,
    join_token: "join",
    feed_id: 3003,
    display: "Guest Li",
    may_publish: true,
    ice_servers: [],
    generation: 1,
    broadcast: null,
    expires_at: "2026-03-02T12:00:00Z",
    ...extra,
  };
}

describe("the guest's sound and picture", () => {
  let janus: ReturnType<typeof fakeJanusSockets>;
  beforeEach(() => {
    installFakeWebrtc();
    janus = fakeJanusSockets();
    // A VideoRoom where the host (feed 555) is on camera.
    setJanusSocketFactory((url, protocol) => {
      const socket = janus.create(url, protocol);
      socket.onPluginMessage = (frame: Sent) => {
        const body = frame.body ?? {};
        if (body.request === "join" && body.ptype === "publisher") {
          socket.reply(frame, { videoroom: "joined", room: body.room, id: body.id, private_id: 9, publishers: [{ id: 555, display: "王经理" }] });
        } else if (body.request === "join") {
          socket.reply(frame, { videoroom: "attached", room: body.room }, { type: "offer", sdp: "offer" });
        } else if (body.request === "configure") {
          socket.reply(frame, { videoroom: "event", configured: "ok" }, { type: "answer", sdp: "answer" });
        } else {
          socket.reply(frame, { videoroom: "event", started: "ok" });
        }
      };
      return socket;
    });
  });

  const withMedia = { media: { available: true, server: null, room: 734201992, token: "guest-media-token", expires_at: null } };
  const remoteTiles = () => screen.queryAllByTestId("media-tile").filter((t) => t.getAttribute("data-feed") !== "self");

  it("sees and hears the host with the ticket's media session, reconnects after a blip and follows a move", async () => {
    setBrowserLanguages(["en-US"]);
    const mediaCalls: Call[] = [];
    let moved = false;
    mockApi(
      routes({
        [`POST ${BASE}/join`]: { status: 200, body: ticketFor(guest, meetingSnapshot(), withMedia) },
        [`POST ${BASE}/state`]: () => ({
          status: 200,
          // Shared snapshots repeat their events: one move is one reconnect however often it is seen.
          body: meetingSnapshot({
            events: moved ? [roomEvent(101, "room.media_moved", { room_id: meeting().id, available: true, generation: 2 })] : [],
          }),
        }),
        [`POST ${BASE}/media`]: (call) => {
          mediaCalls.push(call);
          return { status: 200, body: guestSession({ generation: mediaCalls.length }) };
        },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("Guest Li", "123456");
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(within(remoteTiles()[0]).getByTestId("media-tile-name").textContent).toBe("王经理");
    expect(mediaCalls.map((c) => c.body)).toEqual([{ ticket: "ticket-P_G", token: "guest-media-token" }]);
    // A meeting's guest may speak: on camera, with the microphone.
    await waitFor(() => expect(screen.getByTestId("media-panel").getAttribute("data-publishing")).toBe("true"));
    expect(screen.getByTestId("media-mic").getAttribute("data-on")).toBe("true");
    expect(janus.last().messages("join")[0].body).toMatchObject({ ptype: "publisher", token: "join", id: 3003 });

    // A network blip: reconnected by itself, with a fresh media session.
    act(() => janus.last().serverClose(1006));
    expect(await screen.findByTestId("media-reconnecting")).toBeTruthy();
    await waitFor(() => expect(janus.sockets).toHaveLength(2), { timeout: 4000 });
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(mediaCalls[1].body).toEqual({ ticket: "ticket-P_G" });

    // The room's media moved (seen in a poll): one new media session and connection.
    moved = true;
    await waitFor(() => expect(mediaCalls).toHaveLength(3));
    await waitFor(() => expect(janus.sockets).toHaveLength(3));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mediaCalls).toHaveLength(3);
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
  });

  it("a muted guest (who does not publish) may watch the broadcast instead, and go back", async () => {
    setBrowserLanguages(["en-US"]);
    const mediaCalls: Call[] = [];
    const mutedGuest: Participant = { ...guest, muted: true };
    const hls = { hls_url: "/api/v1/media/hls/734201992/1-k/index.m3u8" };
    mockApi(
      routes({
        [`POST ${BASE}/join`]: { status: 200, body: ticketFor(mutedGuest, meetingSnapshot({ participants: [host, mutedGuest] }), withMedia) },
        [`POST ${BASE}/state`]: { status: 200, body: meetingSnapshot({ participants: [host, mutedGuest] }) },
        [`POST ${BASE}/media`]: (call) => {
          mediaCalls.push(call);
          const watch = (call.body as { watch?: boolean }).watch;
          return { status: 200, body: watch ? guestSession({ mode: "broadcast", reason: "chosen", server: null, broadcast: hls }) : guestSession({ may_publish: false }) };
        },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("Guest Li", "123456");
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    fireEvent.click(screen.getByTestId("media-watch"));
    const broadcast = await screen.findByTestId("media-broadcast");
    expect(broadcast.getAttribute("data-reason")).toBe("chosen");
    expect(mediaCalls.at(-1)?.body).toEqual({ ticket: "ticket-P_G", watch: true });
    fireEvent.click(screen.getByTestId("media-back-live"));
    await waitFor(() => expect(remoteTiles()).toHaveLength(1));
    expect(mediaCalls.at(-1)?.body).toEqual({ ticket: "ticket-P_G" });
  });

  it("a full meeting: the guest watches the host's broadcast, told why", async () => {
    setBrowserLanguages(["en-US"]);
    mockApi(
      routes({
        [`POST ${BASE}/join`]: { status: 200, body: ticketFor(guest, meetingSnapshot(), withMedia) },
        [`POST ${BASE}/state`]: { status: 200, body: meetingSnapshot() },
        [`POST ${BASE}/media`]: { status: 200, body: guestSession({ mode: "broadcast", reason: "room_full", server: null, broadcast: null }) },
      }),
    );
    renderApp(`/guest/${CODE}`);
    await fillAndJoin("Guest Li", "123456");
    expect((await screen.findByTestId("media-broadcast-reason")).textContent).toContain("This meeting is large");
    expect(screen.getByTestId("media-broadcast-waiting").textContent).toBe("The broadcast starts as soon as the host turns on their camera.");
  });
});
