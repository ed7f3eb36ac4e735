import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import dayjs from "dayjs";
import { describe, expect, it } from "vitest";
import type { Member, Room } from "../../api/types";
import { fakeSockets } from "../../stream/fakeSocket";
import { setStreamSocketFactory } from "../../stream/StreamProvider";
import { ME, PEER, myOrg } from "../../test/fixtures";
import { room } from "../../test/roomFixtures";
import { account, location, mockApi, renderApp, setBrowserLanguages, type Call } from "../../test/utils";

const meeting = (id: string, extra: Partial<Room> = {}): Room =>
  room({ id, kind: "meeting", conversation_id: null, host_member_id: "M_OTHER", my_role: "attendee", seated: 0, ...extra });

const weekly = meeting("R_OPEN", { title: "Weekly sync", status: "open" });
const review = meeting("R_MINE", {
  title: "Design review",
  status: "scheduled",
  started_at: null,
  scheduled_start: "2026-03-10T02:00:00Z",
  host_member_id: ME,
  my_role: "host",
});
const planning = meeting("R_LATER", { title: "Planning", status: "scheduled", started_at: null, scheduled_start: "2026-03-11T02:00:00Z" });

const peer = {
  id: PEER,
  account_id: "A_PEER",
  display_name: "Li Lei",
  staff_id: null,
  title: "Designer",
  mobile: null,
  email: null,
  department_ids: [],
  roles: ["member"],
  manager_id: null,
  status: "active",
  joined_at: "2025-01-01T00:00:00Z",
} as Member;

function shell(list: () => Room[]) {
  return {
    "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
    "GET /api/v1/orgs": { status: 200, body: [myOrg()] },
    "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [], next_cursor: null } },
    "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
    "GET /api/v1/orgs/ORG1/rooms": () => ({ status: 200, body: { items: list(), next_cursor: null } }),
    "GET /api/v1/orgs/ORG1/members": { status: 200, body: { items: [peer], next_cursor: null } },
  };
}

const rowOf = (title: string) =>
  screen.getAllByTestId("meetings-row").find((el) => within(el).queryByText(title)) as HTMLElement;

describe("the meetings page", () => {
  it("lists my meetings with join for open ones and start for scheduled ones I host; starting opens the room", async () => {
    setBrowserLanguages(["en-US"]);
    const { calls } = mockApi({
      ...shell(() => [weekly, review, planning]),
      "POST /api/v1/orgs/ORG1/rooms/R_MINE/start": { status: 200, body: { ...review, status: "open", started_at: "2026-03-10T01:58:00Z" } },
    });
    renderApp("/orgs/ORG1/meetings");
    await waitFor(() => expect(screen.getAllByTestId("meetings-row")).toHaveLength(3));
    expect(screen.getByTestId("nav-meetings").textContent).toBe("Meetings");
    expect(screen.getAllByTestId("meetings-row-title").map((el) => el.textContent)).toEqual(["Weekly sync", "Design review", "Planning"]);
    expect(within(rowOf("Weekly sync")).getByTestId("meetings-row-status").textContent).toBe("In progress");
    expect(within(rowOf("Design review")).getByTestId("meetings-row-status").textContent).toBe("Scheduled");
    expect(within(rowOf("Design review")).getByTestId("meetings-row-kind").textContent).toBe("Meeting");
    // Open: join. Scheduled and mine: start. Scheduled and not mine: nothing to do yet.
    expect(within(rowOf("Weekly sync")).getByTestId("meetings-join")).toBeTruthy();
    expect(within(rowOf("Weekly sync")).queryByTestId("meetings-start")).toBeNull();
    expect(within(rowOf("Planning")).queryByTestId("meetings-start")).toBeNull();
    expect(within(rowOf("Planning")).queryByTestId("meetings-join")).toBeNull();

    fireEvent.click(within(rowOf("Design review")).getByTestId("meetings-start"));
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/rooms/R_MINE"));
    expect(calls.filter((c) => c.method === "POST" && c.url.endsWith("/R_MINE/start"))).toHaveLength(1);
  });

  it("schedules a meeting with invitees, times, waiting room and guests, and follows the stream", async () => {
    setBrowserLanguages(["zh-CN"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    let list: Room[] = [weekly];
    const created: Call[] = [];
    const scheduled = meeting("R_NEW", {
      title: "客户来访",
      status: "scheduled",
      started_at: null,
      scheduled_start: "2026-03-10T02:00:00Z",
      host_member_id: ME,
      my_role: "host",
      guest_code: "GuestCode12",
      guest_passcode: "246810",
    });
    const { calls } = mockApi({
      ...shell(() => list),
      "POST /api/v1/orgs/ORG1/rooms": (call) => {
        created.push(call);
        list = [weekly, scheduled];
        return { status: 201, body: scheduled };
      },
    });
    renderApp("/orgs/ORG1/meetings");
    await waitFor(() => expect(screen.getAllByTestId("meetings-row")).toHaveLength(1));

    fireEvent.click(screen.getByTestId("meetings-schedule"));
    fireEvent.change(await screen.findByTestId("schedule-title"), { target: { value: " 客户来访 " } });
    // Pick an invitee from the organization's people.
    const picker = screen.getByTestId("schedule-invitees");
    fireEvent.mouseDown(picker.querySelector(".ant-select-selector") ?? picker);
    const option = await waitFor(() => {
      const found = document.querySelector(".ant-select-dropdown .ant-select-item-option[title='Li Lei · Designer']");
      expect(found).toBeTruthy();
      return found as HTMLElement;
    });
    fireEvent.click(option);
    fireEvent.change(screen.getByTestId("schedule-start"), { target: { value: "2026-03-10T10:00" } });
    fireEvent.change(screen.getByTestId("schedule-end"), { target: { value: "2026-03-10T11:30" } });
    fireEvent.click(screen.getByTestId("schedule-waiting-room"));
    fireEvent.click(screen.getByTestId("schedule-allow-guests"));
    expect(screen.getByTestId("schedule-submit").textContent).toBe("预约");
    fireEvent.click(screen.getByTestId("schedule-submit"));

    await waitFor(() => expect(created).toHaveLength(1));
    expect(created[0].body).toEqual({
      kind: "meeting",
      title: "客户来访",
      invitee_ids: [PEER],
      scheduled_start: dayjs("2026-03-10T10:00").format(),
      scheduled_end: dayjs("2026-03-10T11:30").format(),
      waiting_room: true,
      allow_guests: true,
    });
    // ISO 8601 with the offset, e.g. 2026-03-10T10:00:00+08:00.
    expect((created[0].body as { scheduled_start: string }).scheduled_start).toMatch(/^2026-03-10T10:00:00[+-]\d\d:\d\d$/);
    // A scheduled meeting stays on this page, listed, with its guest link for the host.
    await waitFor(() => expect(screen.getAllByTestId("meetings-row")).toHaveLength(2));
    expect(location()).toBe("/orgs/ORG1/meetings");
    fireEvent.click(within(rowOf("客户来访")).getByTestId("meetings-guest-link"));
    expect((await screen.findByTestId("room-guest-link")).textContent).toBe(`${window.location.origin}/guest/GuestCode12`);
    expect(screen.getByTestId("room-guest-passcode").textContent).toBe("246810");

    // Invited to another meeting: the stream says so and the list is fetched again.
    await waitFor(() => expect(net.sockets.length).toBeGreaterThan(0));
    const socket = net.last();
    act(() => {
      socket.open();
      socket.receive({ type: "ready", orgs: { ORG1: { position: 10, epoch: "e1", member_id: ME } }, ping_interval: 20 });
      socket.receive({ type: "live", positions: { ORG1: 10 } });
    });
    const listed = calls.filter((c) => c.method === "GET" && c.url.startsWith("/api/v1/orgs/ORG1/rooms")).length;
    list = [weekly, scheduled, planning];
    act(() =>
      socket.receive({
        type: "event",
        org_id: "ORG1",
        position: 11,
        channel: `member:${ME}`,
        kind: "room.invited",
        data: { room_id: "R_LATER", join_channel: "room:R_LATER" },
      }),
    );
    await waitFor(() => expect(screen.getAllByTestId("meetings-row")).toHaveLength(3));
    expect(calls.filter((c) => c.method === "GET" && c.url.startsWith("/api/v1/orgs/ORG1/rooms")).length).toBe(listed + 1);
  });
});
