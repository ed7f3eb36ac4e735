import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Conversation, ConversationMember } from "../../api/types";
import { TICKET_STORAGE_PREFIX } from "../../rooms/join";
import { fakeSockets, type FakeSocket } from "../../stream/fakeSocket";
import { setStreamSocketFactory } from "../../stream/StreamProvider";
import { myOrg } from "../../test/fixtures";
import {
  CLASS_CONV,
  ROOM,
  joined,
  participant,
  room,
  roomEvent,
  snapshot,
  studentA,
  studentB,
  teacher,
  ticketFor,
  updated,
} from "../../test/roomFixtures";
import { account, envelope, location, mockApi, renderApp, setBrowserLanguages, type Call } from "../../test/utils";

const classGroup: Conversation = {
  id: CLASS_CONV,
  kind: "class",
  name: "三年级二班",
  announcement: null,
  owner_id: null,
  department_id: "D_CLASS",
  peer_id: null,
  member_count: 3,
  last_seq: 0,
  last_activity_at: "2026-03-02T07:00:00Z",
  created_at: "2026-03-01T07:00:00Z",
  my_role: "member",
  read_seq: 0,
  unread_count: 0,
  last_message: null,
};

function shell(memberId: string, roles: ("teacher" | "student")[]) {
  const org = myOrg({ kind: "school", name: "启明实验学校", member_id: memberId, roles });
  return {
    "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
    "GET /api/v1/orgs": { status: 200, body: [org] },
    "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [classGroup], next_cursor: null } },
    "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
    "GET /api/v1/orgs/ORG1/rooms/R1": { status: 200, body: room() },
    "POST /api/v1/orgs/ORG1/rooms/R1/leave": { status: 204 },
  };
}

async function goLive(net: ReturnType<typeof fakeSockets>, position = 100): Promise<FakeSocket> {
  await waitFor(() => expect(net.sockets.length).toBeGreaterThan(0));
  const socket = net.last();
  act(() => {
    socket.open();
    socket.receive({ type: "ready", orgs: { ORG1: { position, epoch: "e1", member_id: "M" } }, ping_interval: 20 });
    socket.receive({ type: "live", positions: { ORG1: position } });
  });
  return socket;
}

const frame = (event: ReturnType<typeof roomEvent>) => ({ type: "event", ...event });
const rows = () => screen.queryAllByTestId("room-participant");
const rowOf = (name: string) => rows().find((el) => within(el).queryByText(name)) as HTMLElement;

describe("the room page", () => {
  it("waits in line while the server is busy, showing the place and retrying by itself, then follows the room live", async () => {
    setBrowserLanguages(["en-US"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    const joins: Call[] = [];
    const { calls } = mockApi({
      ...shell(studentA.member_id, ["student"]),
      "POST /api/v1/orgs/ORG1/rooms/R1/join": (call) => {
        joins.push(call);
        if (joins.length === 1) {
          return {
            status: 503,
            headers: { "Retry-After": "1" },
            body: envelope("busy", "Many people are joining right now.", { position: 7, retry_after: 1, reason: "queue_full" }),
          };
        }
        return { status: 200, body: ticketFor(studentA) };
      },
      "POST /api/v1/orgs/ORG1/rooms/R1/hand": (call) => ({
        status: 200,
        body: { ...studentA, hand_raised: (call.body as { raised: boolean }).raised, hand_raised_at: "2026-03-02T08:05:00Z" },
      }),
    });

    renderApp("/orgs/ORG1/rooms/R1");
    const socket = await goLive(net);
    const queue = await screen.findByTestId("room-queue");
    expect(queue.textContent).toBe("Many people are coming in at once. You are number 7 in line.");
    expect(queue.getAttribute("data-position")).toBe("7");
    expect(screen.getByTestId("room-queue-retry").textContent).toMatch(/^Trying again by itself in [12] s\.$/);
    expect(screen.getByTestId("room-queue-cancel")).toBeTruthy();

    // After Retry-After (plus jitter) it tries again on its own and comes in.
    await waitFor(() => expect(screen.getByTestId("room-page").getAttribute("data-my-role")).toBe("attendee"), { timeout: 4000 });
    expect(joins).toHaveLength(2);
    expect(joins.map((c) => c.body)).toEqual([{}, {}]);
    // The ticket is kept for a rejoin after a reload.
    expect(JSON.parse(sessionStorage.getItem(`${TICKET_STORAGE_PREFIX}${ROOM}`) ?? "{}").ticket).toBe("ticket-P_A");

    expect(screen.getByTestId("room-title").textContent).toBe("三年级二班 · 数学");
    expect((await screen.findByTestId("media-unavailable")).textContent).toBe("Audio and video are not available on this server.");
    expect(rows().map((el) => within(el).getByTestId("room-participant-name").textContent)).toEqual(["王老师", "李明"]);
    expect(within(rowOf("王老师")).getByTestId("room-participant-role").textContent).toBe("Teacher");
    expect(within(rowOf("李明")).getByTestId("room-participant-role").textContent).toBe("Student");
    // A student has no host controls.
    expect(screen.queryByTestId("room-host-controls")).toBeNull();
    expect(screen.queryByTestId("room-participant-actions")).toBeNull();

    // Events above the snapshot's position are applied; older ones (a replay) are not.
    act(() => {
      socket.receive(frame(joined(101, studentB, 3)));
      socket.receive(frame(updated(102, { ...studentB, hand_raised: true, hand_raised_at: "2026-03-02T08:04:00Z" })));
    });
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(screen.getAllByTestId("room-hand-name").map((el) => el.textContent)).toEqual(["张华"]);

    // I raise my hand: I am second in line.
    fireEvent.click(screen.getByTestId("room-hand-toggle"));
    await waitFor(() => expect(screen.getByTestId("room-hand-toggle").getAttribute("data-raised")).toBe("true"));
    expect(screen.getAllByTestId("room-hand-name").map((el) => el.textContent)).toEqual(["张华", "李明"]);
    expect(calls.find((c) => c.url.endsWith("/R1/hand"))?.body).toEqual({ raised: true });

    // The teacher mutes everyone, then ends the class.
    act(() => socket.receive(frame(roomEvent(103, "room.muted_all", { room_id: ROOM, muted: 2 }))));
    await screen.findByTestId("room-muted-self");
    expect(rowOf("张华").getAttribute("data-muted")).toBe("true");
    expect(rowOf("王老师").getAttribute("data-muted")).toBe("false");
    act(() => socket.receive(frame(roomEvent(104, "room.ended", { room: room({ status: "ended", ended_at: "2026-03-02T08:45:00Z" }) }))));
    expect((await screen.findByTestId("room-ended")).textContent).toBe("The class has ended");
    // Nothing to rejoin any more.
    expect(sessionStorage.getItem(`${TICKET_STORAGE_PREFIX}${ROOM}`)).toBeNull();
  });

  it("sends the kept ticket back when the page is opened again, and cancelling the wait goes back to the class group", async () => {
    setBrowserLanguages(["zh-CN"]);
    sessionStorage.setItem(`${TICKET_STORAGE_PREFIX}${ROOM}`, JSON.stringify({ ticket: "ticket-kept" }));
    const joins: Call[] = [];
    const { calls } = mockApi({
      ...shell(studentA.member_id, ["student"]),
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS": { status: 200, body: { ...classGroup, admin_ids: [] } },
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS/messages": { status: 200, body: { items: [], has_more: false } },
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS/members": { status: 200, body: { items: [] as ConversationMember[], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/rooms": { status: 200, body: { items: [], next_cursor: null } },
      "POST /api/v1/orgs/ORG1/rooms/R1/join": (call) => {
        joins.push(call);
        return { status: 503, body: envelope("busy", "Busy.", { position: 1234, retry_after: 30, reason: "queue_timeout" }) };
      },
    });

    renderApp("/orgs/ORG1/rooms/R1");
    const queue = await screen.findByTestId("room-queue");
    expect(queue.textContent).toBe("现在进入的人很多，你排在第 1234 位。");
    expect(joins[0].body).toEqual({ ticket: "ticket-kept" });
    await waitFor(() => expect(screen.getByTestId("room-queue-retry").textContent).toMatch(/^3\d 秒后自动重试。$/));

    fireEvent.click(screen.getByTestId("room-queue-cancel"));
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/chat/C_CLASS"));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/R1/leave"))).toBe(true));
    expect(joins).toHaveLength(1);
  });

  it("words other refusals clearly and offers to try again only where it can help", async () => {
    setBrowserLanguages(["zh-CN"]);
    mockApi({
      ...shell(studentA.member_id, ["student"]),
      "POST /api/v1/orgs/ORG1/rooms/R1/join": { status: 403, body: envelope("room_locked", "The room is locked.") },
    });
    renderApp("/orgs/ORG1/rooms/R1");
    expect((await screen.findByTestId("room-join-error-title")).textContent).toBe("已锁定，暂不允许新成员进入");
    expect(screen.getByTestId("room-join-error").textContent).toBe("已锁定，暂不允许新成员进入。");
    expect(screen.getByTestId("room-join-retry")).toBeTruthy();
  });

  it("gives the teacher the host controls: lower a hand, mute one, mute all, end for all with a confirmation, then attendance", async () => {
    setBrowserLanguages(["zh-CN"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    const raisedA = { ...studentA, hand_raised: true, hand_raised_at: "2026-03-02T08:03:00Z" };
    const { calls } = mockApi({
      ...shell(teacher.member_id, ["teacher"]),
      "POST /api/v1/orgs/ORG1/rooms/R1/join": {
        status: 200,
        body: ticketFor(teacher, snapshot({ participants: [teacher, raisedA, studentB], participant_count: 3, hands: ["P_A"] })),
      },
      "PATCH /api/v1/orgs/ORG1/rooms/R1/participants/P_A": (call) => ({ status: 200, body: { ...raisedA, ...(call.body as object) } }),
      "PATCH /api/v1/orgs/ORG1/rooms/R1/participants/P_B": (call) => ({ status: 200, body: { ...studentB, ...(call.body as object) } }),
      "POST /api/v1/orgs/ORG1/rooms/R1/mute-all": { status: 200, body: { muted: 2 } },
      "POST /api/v1/orgs/ORG1/rooms/R1/end": { status: 200, body: room({ status: "ended", ended_at: "2026-03-02T08:45:00Z" }) },
      "GET /api/v1/orgs/ORG1/rooms/R1/attendance": {
        status: 200,
        body: {
          room: room({ status: "ended" }),
          starts_at: "2026-03-02T08:00:00Z",
          rows: [
            { member_id: "M_TEACHER", display_name: "王老师", role: "host", status: "present", first_joined_at: "2026-03-02T08:00:00Z", last_left_at: null, minutes_present: 45, joins: 1 },
            { member_id: "M_P_A", display_name: "李明", role: "attendee", status: "late", first_joined_at: "2026-03-02T08:07:00Z", last_left_at: null, minutes_present: 38.2, joins: 2 },
            { member_id: "M_P_C", display_name: "赵六", role: "attendee", status: "absent", first_joined_at: null, last_left_at: null, minutes_present: 0, joins: 0 },
          ],
        },
      },
    });
    renderApp("/orgs/ORG1/rooms/R1");
    await goLive(net);
    await waitFor(() => expect(screen.getByTestId("room-page").getAttribute("data-my-role")).toBe("host"));
    expect(within(rowOf("王老师")).getByTestId("room-participant-role").textContent).toBe("老师");
    expect(within(rowOf("张华")).getByTestId("room-participant-role").textContent).toBe("学生");
    expect(screen.getAllByTestId("room-hand-name").map((el) => el.textContent)).toEqual(["李明"]);

    fireEvent.click(screen.getByTestId("room-hand-lower"));
    await waitFor(() => expect(screen.queryAllByTestId("room-hand")).toHaveLength(0));
    expect(calls.find((c) => c.method === "PATCH" && c.url.endsWith("/P_A"))?.body).toEqual({ hand_raised: false });

    fireEvent.click(within(rowOf("张华")).getByTestId("room-participant-mute"));
    await waitFor(() => expect(rowOf("张华").getAttribute("data-muted")).toBe("true"));
    expect(calls.find((c) => c.method === "PATCH" && c.url.endsWith("/P_B"))?.body).toEqual({ muted: true });

    fireEvent.click(screen.getByTestId("room-mute-all"));
    await waitFor(() => expect(rowOf("李明").getAttribute("data-muted")).toBe("true"));
    expect(rowOf("王老师").getAttribute("data-muted")).toBe("false");

    // Ending asks first; nothing is sent until confirmed.
    fireEvent.click(screen.getByTestId("room-end"));
    const confirm = await screen.findByTestId("room-end-confirm");
    expect(calls.some((c) => c.url.endsWith("/R1/end"))).toBe(false);
    fireEvent.click(confirm);
    expect((await screen.findByTestId("room-ended")).textContent).toBe("本节课已结束");

    // The teacher sees the attendance at once, with a CSV link.
    await waitFor(() => expect(screen.getAllByTestId("attendance-row")).toHaveLength(3));
    const statuses = screen.getAllByTestId("attendance-row").map((el) => [el.getAttribute("data-member-id"), el.getAttribute("data-status")]);
    expect(statuses).toEqual([["M_TEACHER", "present"], ["M_P_A", "late"], ["M_P_C", "absent"]]);
    expect(screen.getAllByTestId("attendance-status").map((el) => el.textContent)).toEqual(["出席", "迟到", "缺席"]);
    expect(screen.getAllByTestId("attendance-minutes").map((el) => el.textContent)).toEqual(["45", "38", "0"]);
    expect(screen.getByTestId("attendance-csv").getAttribute("href")).toBe("/api/v1/orgs/ORG1/rooms/R1/attendance.csv");
  });
});

describe("guests of a meeting", () => {
  it("shows the host the guest link and passcode to copy; guests are marked in the list", async () => {
    setBrowserLanguages(["en-US"]);
    const meeting = room({ kind: "meeting", title: "Quarterly review", conversation_id: null, host_member_id: "M_TEACHER" });
    const guest = { ...participant("P_G", "Visitor Zhao", {}, 30), member_id: null, guest: true };
    mockApi({
      ...shell(teacher.member_id, ["teacher"]),
      // Only the answer to the host carries the guest link; the shared snapshot does not.
      "GET /api/v1/orgs/ORG1/rooms/R1": { status: 200, body: { ...meeting, my_role: "host", guest_code: "GuestCode12", guest_passcode: "246810" } },
      "POST /api/v1/orgs/ORG1/rooms/R1/join": {
        status: 200,
        body: ticketFor(teacher, snapshot({ room: meeting, participants: [teacher, guest], participant_count: 2 })),
      },
    });
    renderApp("/orgs/ORG1/rooms/R1");
    const card = await screen.findByTestId("room-guests");
    expect(within(card).getByTestId("room-guest-link").textContent).toBe(`${window.location.origin}/guest/GuestCode12`);
    expect(within(card).getByTestId("room-guest-passcode").textContent).toBe("246810");
    expect(within(card).getAllByRole("button").length).toBeGreaterThanOrEqual(2);
    expect(within(rowOf("Visitor Zhao")).getByTestId("room-participant-guest").textContent).toBe("Guest");
  });

  it("shows no guest card to someone who is not a host", async () => {
    setBrowserLanguages(["en-US"]);
    mockApi({
      ...shell(studentA.member_id, ["student"]),
      "POST /api/v1/orgs/ORG1/rooms/R1/join": { status: 200, body: ticketFor(studentA) },
    });
    renderApp("/orgs/ORG1/rooms/R1");
    await waitFor(() => expect(screen.getByTestId("room-page").getAttribute("data-my-role")).toBe("attendee"));
    expect(screen.queryByTestId("room-guests")).toBeNull();
  });
});

describe("classes in the class group", () => {
  it("a teacher starts the class from the group; a student sees it open live and joins", async () => {
    setBrowserLanguages(["en-US"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    const chatRoutes = {
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS": { status: 200, body: { ...classGroup, admin_ids: [] } },
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS/messages": { status: 200, body: { items: [], has_more: false } },
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS/members": { status: 200, body: { items: [] as ConversationMember[], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/rooms": { status: 200, body: { items: [], next_cursor: null } },
    };
    const { calls } = mockApi({
      ...shell(studentA.member_id, ["student"]),
      ...chatRoutes,
      "POST /api/v1/orgs/ORG1/rooms/R1/join": { status: 200, body: ticketFor(studentA) },
    });
    renderApp("/orgs/ORG1/chat/C_CLASS");
    const socket = await goLive(net);
    await screen.findByTestId("chat-title");
    // A student may not start a class, but may start a meeting in the group.
    expect(screen.queryByTestId("class-start")).toBeNull();
    expect(screen.getByTestId("meeting-start")).toBeTruthy();
    expect(screen.queryByTestId("room-banner")).toBeNull();
    expect(calls.some((c) => c.url === "/api/v1/orgs/ORG1/rooms?conversation_id=C_CLASS")).toBe(true);

    act(() => socket.receive(frame(roomEvent(101, "room.opened", { room: room() }))));
    const banner = await screen.findByTestId("room-banner");
    expect(banner.textContent).toContain("Class in progress");
    expect(banner.textContent).toContain("三年级二班 · 数学");
    fireEvent.click(within(banner).getByTestId("room-join"));
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/rooms/R1"));
    await waitFor(() => expect(screen.getByTestId("room-page").getAttribute("data-my-role")).toBe("attendee"));
  });

  it("a teacher sees start class; starting it opens the room", async () => {
    setBrowserLanguages(["zh-CN"]);
    const created: Call[] = [];
    mockApi({
      ...shell(teacher.member_id, ["teacher"]),
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS": { status: 200, body: { ...classGroup, admin_ids: [] } },
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS/messages": { status: 200, body: { items: [], has_more: false } },
      "GET /api/v1/orgs/ORG1/conversations/C_CLASS/members": { status: 200, body: { items: [] as ConversationMember[], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/rooms": { status: 200, body: { items: [], next_cursor: null } },
      "POST /api/v1/orgs/ORG1/rooms": (call) => {
        created.push(call);
        return { status: 201, body: room({ seated: 0 }) };
      },
      "POST /api/v1/orgs/ORG1/rooms/R1/join": { status: 200, body: ticketFor(teacher, snapshot({ participants: [teacher], participant_count: 1 })) },
    });
    renderApp("/orgs/ORG1/chat/C_CLASS");
    fireEvent.click(await screen.findByTestId("class-start"));
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/rooms/R1"));
    expect(created[0].body).toEqual({ kind: "class", conversation_id: CLASS_CONV });
    await waitFor(() => expect(screen.getByTestId("room-page").getAttribute("data-my-role")).toBe("host"));
    expect(screen.getByTestId("room-title").textContent).toBe("三年级二班 · 数学");
  });
});
