import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ConversationDetail, ConversationMember, ConversationRole } from "../../api/types";
import { account, envelope, mockApi, renderApp, setBrowserLanguages } from "../../test/utils";
import { groupPermissions } from "./GroupSettingsDrawer";
import { ME, myOrg } from "../../test/fixtures";

const org = myOrg();

const seat = (member_id: string, display_name: string, role: ConversationRole, source = "manual"): ConversationMember => ({
  member_id,
  display_name,
  role,
  source,
  read_seq: 0,
  joined_at: "2026-03-01T09:00:00Z",
});

function groupOf(myRole: ConversationRole, extra: Partial<ConversationDetail> = {}): ConversationDetail {
  return {
    id: "G1",
    kind: "group",
    name: "Project X",
    announcement: null,
    owner_id: myRole === "owner" ? ME : "M_OWNER",
    department_id: null,
    peer_id: null,
    member_count: 4,
    last_seq: 0,
    last_activity_at: "2026-03-01T09:00:00Z",
    created_at: "2026-03-01T09:00:00Z",
    my_role: myRole,
    read_seq: 0,
    unread_count: 0,
    last_message: null,
    admin_ids: ["M_ADMIN"],
    ...extra,
  };
}

function membersFor(myRole: ConversationRole): ConversationMember[] {
  return [
    seat(ME, "Wang Fang", myRole),
    ...(myRole === "owner" ? [] : [seat("M_OWNER", "Zhao Min", "owner")]),
    seat("M_ADMIN", "Chen Jie", "admin"),
    seat("M_B", "Li Lei", "member"),
    ...(myRole === "owner" ? [seat("M_C", "Sun Yu", "member")] : []),
  ];
}

function groupApi(detail: ConversationDetail, members: ConversationMember[], extra: Parameters<typeof mockApi>[0] = {}) {
  return mockApi({
    "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
    "GET /api/v1/orgs": { status: 200, body: [org] },
    "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [detail], next_cursor: null } },
    "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
    "GET /api/v1/orgs/ORG1/conversations/G1": { status: 200, body: detail },
    "GET /api/v1/orgs/ORG1/conversations/G1/messages": { status: 200, body: { items: [], has_more: false } },
    "GET /api/v1/orgs/ORG1/conversations/G1/members": { status: 200, body: { items: members, next_cursor: null } },
    ...extra,
  });
}

const rowOf = (memberId: string) =>
  screen.getAllByTestId("group-member-row").find((row) => row.getAttribute("data-member-id") === memberId) as HTMLElement;

async function openSettings() {
  await screen.findByTestId("chat-title");
  await waitFor(() => expect(screen.getByTestId("chat-title").textContent).toBe("Project X"));
  fireEvent.click(screen.getByTestId("group-settings"));
  const drawer = await screen.findByTestId("group-drawer");
  await waitFor(() => expect(within(drawer).getAllByTestId("group-member-row").length).toBeGreaterThan(1));
  return drawer;
}

describe("group settings", () => {
  it("shows a plain member the members and their roles, without the controls of owners and admins", async () => {
    setBrowserLanguages(["en-US"]);
    groupApi(groupOf("member"), membersFor("member"));
    renderApp("/orgs/ORG1/chat/G1");
    const drawer = await openSettings();

    expect(within(drawer).getByTestId("group-name").textContent).toBe("Project X");
    // Owner first, then admins, then members.
    expect(within(drawer).getAllByTestId("group-member-row").map((row) => row.getAttribute("data-member-id"))).toEqual([
      "M_OWNER",
      "M_ADMIN",
      ME,
      "M_B",
    ]);
    expect(within(rowOf("M_OWNER")).getByTestId("group-member-role").textContent).toBe("Owner");
    expect(within(rowOf("M_ADMIN")).getByTestId("group-member-role").textContent).toBe("Admin");
    expect(within(rowOf("M_B")).getByTestId("group-member-role").textContent).toBe("Member");

    expect(within(drawer).queryByTestId("group-rename")).toBeNull();
    expect(within(drawer).queryByTestId("group-announcement-edit")).toBeNull();
    expect(within(drawer).queryByTestId("group-add-members")).toBeNull();
    expect(within(drawer).queryAllByTestId("group-member-actions")).toHaveLength(0);
    // Anyone but the owner may leave.
    expect(screen.getByTestId("group-leave")).toBeTruthy();
  });

  it("lets the owner remove a member, and shows a refusal in the error code's wording", async () => {
    setBrowserLanguages(["zh-CN"]);
    const removed: string[] = [];
    const { calls } = groupApi(groupOf("owner"), membersFor("owner"), {
      "DELETE /api/v1/orgs/ORG1/conversations/G1/members/M_B": () => {
        removed.push("M_B");
        return { status: 204 };
      },
      "DELETE /api/v1/orgs/ORG1/conversations/G1/members/M_C": {
        status: 403,
        body: envelope("group_admin_required", "Only the group's owner and admins can do this."),
      },
    });
    renderApp("/orgs/ORG1/chat/G1");
    const drawer = await openSettings();
    expect(within(drawer).getByTestId("group-rename")).toBeTruthy();
    expect(within(drawer).getByTestId("group-add-members")).toBeTruthy();
    // The owner hands the group over before leaving.
    expect(screen.queryByTestId("group-leave")).toBeNull();
    expect(screen.getByTestId("group-owner-leave-hint")).toBeTruthy();
    // No actions on myself.
    expect(within(rowOf(ME)).queryByTestId("group-member-actions")).toBeNull();

    fireEvent.click(within(rowOf("M_B")).getByTestId("group-member-actions"));
    fireEvent.click(await screen.findByTestId("group-member-remove"));
    fireEvent.click(await screen.findByTestId("group-remove-confirm"));

    await waitFor(() => expect(within(drawer).queryAllByTestId("group-member-row").map((row) => row.getAttribute("data-member-id"))).not.toContain("M_B"));
    expect(removed).toEqual(["M_B"]);
    const deletes = calls.filter((c) => c.method === "DELETE");
    expect(deletes.map((c) => c.url)).toEqual(["/api/v1/orgs/ORG1/conversations/G1/members/M_B"]);
    expect(deletes[0].headers["X-CSRF-Token"]).toBe("t");
    expect(screen.getByTestId("chat-view").textContent).toContain("3 人");

    // The server refuses the next one: its code's Chinese wording is shown, the person stays.
    fireEvent.click(within(rowOf("M_C")).getByTestId("group-member-actions"));
    const removeItems = await screen.findAllByTestId("group-member-remove");
    fireEvent.click(removeItems[removeItems.length - 1]);
    const confirms = await screen.findAllByTestId("group-remove-confirm");
    fireEvent.click(confirms[confirms.length - 1]);
    expect((await screen.findByTestId("group-error")).textContent).toContain("只有群主和群管理员可以执行此操作。");
    expect(rowOf("M_C")).toBeTruthy();
  });
});

describe("group permissions", () => {
  const members = {
    owner: seat("M_OWNER", "Zhao Min", "owner"),
    admin: seat("M_ADMIN", "Chen Jie", "admin"),
    member: seat("M_B", "Li Lei", "member"),
  };

  it("follow the server's rules for each role", () => {
    const asAdmin = groupPermissions(groupOf("admin"), ME, seat(ME, "Wang Fang", "admin"));
    expect(asAdmin.rename && asAdmin.addMembers && asAdmin.leave).toBe(true);
    expect(asAdmin.remove(members.member)).toBe(true);
    // Only the owner removes admins; nobody removes the owner.
    expect(asAdmin.remove(members.admin)).toBe(false);
    expect(asAdmin.remove(members.owner)).toBe(false);
    expect(asAdmin.setRole(members.member)).toBe(false);

    const asOwner = groupPermissions(groupOf("owner"), ME, seat(ME, "Wang Fang", "owner"));
    expect(asOwner.remove(members.admin)).toBe(true);
    expect(asOwner.setRole(members.admin)).toBe(true);
    expect(asOwner.setRole(seat(ME, "Wang Fang", "owner"))).toBe(false);
    expect(asOwner.leave).toBe(false);

    const asMember = groupPermissions(groupOf("member"), ME, seat(ME, "Wang Fang", "member"));
    expect(asMember.rename || asMember.addMembers || asMember.remove(members.member) || asMember.setRole(members.member)).toBe(false);
  });

  it("keep the members of department and class groups as the department has them", () => {
    const department = groupOf("owner", { kind: "department", department_id: "D1" });
    const asOwner = groupPermissions(department, ME, seat(ME, "Wang Fang", "owner"));
    expect(asOwner.rename).toBe(true);
    expect(asOwner.addMembers).toBe(false);
    expect(asOwner.remove(members.member)).toBe(false);
    // Roles are the group's own, not the department's.
    expect(asOwner.setRole(members.member)).toBe(true);

    const classGroup = groupOf("member", { kind: "class", department_id: "D2" });
    expect(groupPermissions(classGroup, ME, seat(ME, "Wang Fang", "member", "department")).leave).toBe(false);
    // Someone added by hand rather than through the class may leave.
    expect(groupPermissions(classGroup, ME, seat(ME, "Wang Fang", "member", "manual")).leave).toBe(true);
  });
});
