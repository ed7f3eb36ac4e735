import { act, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { fakeSockets } from "../stream/fakeSocket";
import { setStreamSocketFactory } from "../stream/StreamProvider";
import { myOrg } from "../test/fixtures";
import { account, mockApi, renderApp, setBrowserLanguages } from "../test/utils";

describe("early warnings", () => {
  it("shows an administrator the surge the timetable forecasts, in their language", async () => {
    setBrowserLanguages(["zh-CN"]);
    const net = fakeSockets();
    setStreamSocketFactory(net.create);
    mockApi({
      "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
      "GET /api/v1/orgs": { status: 200, body: [myOrg({ kind: "school", roles: ["owner"] })] },
      "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
      "GET /api/v1/orgs/ORG1/contacts": { status: 200, body: { items: [], next_cursor: null } },
    });
    renderApp("/orgs/ORG1/chat");
    await waitFor(() => expect(net.sockets.length).toBeGreaterThan(0));
    const socket = net.last();
    act(() => {
      socket.open();
      socket.receive({ type: "ready", orgs: { ORG1: { position: 5, epoch: "e1", member_id: "M" } }, ping_interval: 20 });
      socket.receive({ type: "live", positions: { ORG1: 5 } });
      socket.receive({
        type: "event", org_id: "ORG1", position: 6, channel: "member:M", kind: "ops.warning", at: "2026-03-02T07:52:00Z",
        data: { kind: "forecast", value: 5000, threshold: 3000, people: 10000, message: "..." },
      });
    });
    expect(await screen.findByText("即将迎来入会高峰")).toBeTruthy();
    expect(screen.getByText(/未来 10 分钟约有 10000 人/)).toBeTruthy();
    expect(screen.getByText(/每分钟可接纳 3000 人/)).toBeTruthy();
  });
});
