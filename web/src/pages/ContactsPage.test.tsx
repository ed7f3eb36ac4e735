import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Department, Member, MemberDetail } from "../api/types";
import { account, envelope, location, mockApi, renderApp, setBrowserLanguages } from "../test/utils";
import { myOrg } from "../test/fixtures";

const org = myOrg({ member_id: "M0" });

const dept = (id: string, parent_id: string | null, name: string, member_count = 0): Department => ({
  id,
  parent_id,
  name,
  kind: "department",
  sort_order: 0,
  member_count,
});

const departments = [dept("D0", null, "Acme Ltd.", 1), dept("D1", "D0", "Engineering", 1)];

const member = (id: string, name: string, department: string): Member => ({
  id,
  account_id: `A${id}`,
  display_name: name,
  staff_id: null,
  title: "Engineer",
  mobile: "13800138000",
  email: null,
  department_ids: [department],
  roles: ["member"],
  manager_id: null,
  status: "active",
  joined_at: "2025-01-01T00:00:00Z",
});

const zhang = member("M1", "张三", "D1");

function signedInApi(extra: Parameters<typeof mockApi>[0] = {}) {
  return mockApi({
    "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
    "GET /api/v1/orgs": { status: 200, body: [org] },
    "GET /api/v1/orgs/ORG1/departments": { status: 200, body: departments },
    "GET /api/v1/orgs/ORG1/contacts": {
      status: 200,
      body: { department: departments[0], path: [], departments: [departments[1]], members: { items: [member("M0", "Wang Fang", "D0")], next_cursor: null } },
    },
    ...extra,
  });
}

describe("contacts", () => {
  it("searches people after typing stops and opens their card", async () => {
    setBrowserLanguages(["en-US"]);
    const detail: MemberDetail = {
      ...zhang,
      manager_name: "Wang Fang",
      departments: [departments[1]],
      parents: [],
      children: [],
    };
    const { calls } = signedInApi({
      "GET /api/v1/orgs/ORG1/members": { status: 200, body: { items: [zhang], next_cursor: null } },
      "GET /api/v1/orgs/ORG1/members/M1": { status: 200, body: detail },
    });
    renderApp("/");
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/contacts"));
    const listed = { selector: "[data-testid=member-name] strong" };
    expect(await screen.findByText("Wang Fang", listed)).toBeTruthy();
    // The admin menu is only for administrators.
    expect(screen.queryByTestId("nav-admin-members")).toBeNull();

    fireEvent.change(screen.getByTestId("contacts-search"), { target: { value: "zs" } });
    const name = await screen.findByText("张三", listed);
    const row = name.closest("[data-testid=member-row]") as HTMLElement;
    expect(row).toBeTruthy();
    // The department listing made way for the results.
    expect(screen.queryByText("Wang Fang", listed)).toBeNull();
    const searches = calls.filter((c) => c.url.startsWith("/api/v1/orgs/ORG1/members?"));
    expect(searches).toHaveLength(1);
    expect(new URL(searches[0].url, "http://x").searchParams.get("q")).toBe("zs");

    fireEvent.click(row);
    const card = await screen.findByTestId("member-detail");
    expect(within(card).getByText("Engineering")).toBeTruthy();
    expect(within(card).getByText("13800138000")).toBeTruthy();
    expect(within(card).getByText("Wang Fang")).toBeTruthy();
  });

  it("sends the person to sign in when the session has ended", async () => {
    setBrowserLanguages(["en-US"]);
    signedInApi({
      "GET /api/v1/orgs/ORG1/contacts": { status: 401, body: envelope("not_authenticated", "Sign in first.") },
    });
    renderApp("/orgs/ORG1/contacts");
    await screen.findByTestId("signin-login");
    expect(location()).toBe("/sign-in?next=%2Forgs%2FORG1%2Fcontacts");
  });
});
