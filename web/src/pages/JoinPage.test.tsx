import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { account, envelope, location, mockApi, renderApp, setBrowserLanguages, signedOut } from "../test/utils";

const preview = {
  code: "ABCD2345",
  org_name: "Acme Ltd.",
  org_kind: "company",
  role: "member",
  department_name: "Engineering",
  invitee_name: null,
  inviter_name: "Li Lei",
  expires_at: "2030-01-08T00:00:00Z",
};

describe("join page", () => {
  it("explains an expired invitation", async () => {
    setBrowserLanguages(["en-US"]);
    mockApi({
      "GET /api/v1/auth/session": signedOut,
      "GET /api/v1/invitations/OLDCODE1": {
        status: 410,
        body: envelope("invitation_expired", "This invitation expired on 1 March."),
      },
    });
    renderApp("/join/OLDCODE1");
    expect(await screen.findByText("This invitation has expired")).toBeTruthy();
    expect(screen.getByText("This invitation expired on 1 March.")).toBeTruthy();
  });

  it("signs up with the invitation code and opens the organization", async () => {
    setBrowserLanguages(["en-US"]);
    const { calls } = mockApi({
      "GET /api/v1/auth/session": signedOut,
      "GET /api/v1/invitations/ABCD2345": { status: 200, body: preview },
      "POST /api/v1/auth/sign-up": { status: 201, body: { account, csrf_token: "t", joined_org_id: "ORG1" } },
      "GET /api/v1/orgs": { status: 200, body: [] },
    });
    renderApp("/join/ABCD2345");
    expect((await screen.findByTestId("join-org-name")).textContent).toBe("Acme Ltd.");
    expect(screen.getByText("Li Lei")).toBeTruthy();
    fireEvent.change(screen.getByTestId("signup-name"), { target: { value: "Wang Fang" } });
    fireEvent.change(screen.getByTestId("signup-mobile"), { target: { value: "13800138000" } });
    fireEvent.change(screen.getByTestId("signup-password"), { target: { value: "a-long-password" } });
    fireEvent.click(screen.getByTestId("signup-submit"));
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/contacts"));
    const signUp = calls.find((c) => c.url === "/api/v1/auth/sign-up");
    expect(signUp?.body).toMatchObject({
      name: "Wang Fang",
      mobile: "13800138000",
      email: null,
      password: "a-long-password",
      invitation_code: "ABCD2345",
    });
  });

  it("lets a signed-in person join with one click", async () => {
    setBrowserLanguages(["en-US"]);
    const { calls } = mockApi({
      "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
      "GET /api/v1/invitations/ABCD2345": { status: 200, body: preview },
      "POST /api/v1/invitations/ABCD2345/accept": { status: 200, body: { org_id: "ORG1", member_id: "M1" } },
      "GET /api/v1/orgs": { status: 200, body: [] },
    });
    renderApp("/join/ABCD2345");
    fireEvent.click(await screen.findByTestId("join-accept"));
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/contacts"));
    expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/accept"))).toBe(true);
  });
});
