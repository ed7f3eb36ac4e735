import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Department, Invitation } from "../../api/types";
import { account, envelope, mockApi, renderApp, setBrowserLanguages } from "../../test/utils";
import { myOrg } from "../../test/fixtures";

const org = myOrg({ member_id: "M0", roles: ["owner"], is_admin: true });

const departments: Department[] = [
  { id: "D0", parent_id: null, name: "Acme Ltd.", kind: "department", sort_order: 0, member_count: 1 },
  { id: "D1", parent_id: "D0", name: "Engineering", kind: "department", sort_order: 0, member_count: 3 },
];

const base = {
  "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
  "GET /api/v1/orgs": { status: 200, body: [org] },
  "GET /api/v1/orgs/ORG1/departments": { status: 200, body: departments },
};

describe("administration", () => {
  it("shows the server's reason when a department cannot be deleted", async () => {
    setBrowserLanguages(["en-US"]);
    mockApi({
      ...base,
      "DELETE /api/v1/orgs/ORG1/departments/D1": {
        status: 409,
        body: envelope("department_not_empty", "Only an empty department can be deleted."),
      },
    });
    renderApp("/orgs/ORG1/admin/departments");
    await screen.findByTestId("dept-detail-name");
    // Sub-departments are listed with the selected one; choosing one selects it.
    fireEvent.click(screen.getByText("Engineering", { selector: ".ant-descriptions a" }));
    await waitFor(() => expect(screen.getByTestId("dept-detail-name").textContent).toBe("Engineering"));
    fireEvent.click(screen.getByTestId("dept-delete"));
    await screen.findByText("Delete Engineering?");
    fireEvent.click(document.querySelector(".ant-popconfirm .ant-btn-dangerous") as HTMLElement);
    expect((await screen.findByTestId("dept-error")).textContent).toContain("Only an empty department can be deleted.");
  });

  it("creates an invitation and shows the full link", async () => {
    setBrowserLanguages(["en-US"]);
    const invitation: Invitation = {
      id: "I1",
      code: "ABCD2345",
      url: "/join/ABCD2345",
      role: "member",
      department_id: "D1",
      invitee_name: null,
      invitee_contact: null,
      max_uses: null,
      uses: 0,
      expires_at: "2030-01-08T00:00:00Z",
      revoked_at: null,
      created_at: "2030-01-01T00:00:00Z",
      status: "active",
    };
    const { calls } = mockApi({
      ...base,
      "GET /api/v1/orgs/ORG1/invitations": { status: 200, body: [] },
      "POST /api/v1/orgs/ORG1/invitations": { status: 201, body: invitation },
    });
    renderApp("/orgs/ORG1/admin/invitations");
    expect(await screen.findByText("No invitations yet")).toBeTruthy();
    fireEvent.click(screen.getByTestId("invite-create"));
    fireEvent.click(await screen.findByTestId("invite-submit"));
    const link = await screen.findByTestId("invite-link");
    expect(link.textContent).toBe(`${window.location.origin}/join/ABCD2345`);
    expect(screen.getByTestId("invite-code").textContent).toBe("ABCD2345");
    const create = calls.find((c) => c.method === "POST");
    expect(create?.body).toMatchObject({ role: "member", expires_in_days: 7, max_uses: null });
    expect(create?.headers["X-CSRF-Token"]).toBe("t"); // the session's token, as no cookie is set here
  });
});
