import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { account, envelope, location, mockApi, renderApp, setBrowserLanguages, signedOut } from "../test/utils";

function fillAndSubmit(login: string, password: string) {
  fireEvent.change(screen.getByTestId("signin-login"), { target: { value: login } });
  fireEvent.change(screen.getByTestId("signin-password"), { target: { value: password } });
  fireEvent.click(screen.getByTestId("signin-submit"));
}

describe("sign-in page", () => {
  it("shows the server's message when sign-in is refused", async () => {
    setBrowserLanguages(["en-US"]);
    const { calls } = mockApi({
      "GET /api/v1/auth/session": signedOut,
      "POST /api/v1/auth/sign-in": {
        status: 401,
        body: envelope("invalid_credentials", "The email, mobile number or password is not right."),
      },
    });
    renderApp("/sign-in");
    fillAndSubmit("fang@example.com", "wrong-password");
    expect(await screen.findByText("The email, mobile number or password is not right.")).toBeTruthy();
    // A refused sign-in stays on the page; it is not treated as an expired session.
    expect(location()).toBe("/sign-in");
    const signIn = calls.find((c) => c.url === "/api/v1/auth/sign-in");
    expect(signIn?.body).toEqual({ login: "fang@example.com", password: "wrong-password" });
  });

  it("words a refusal in Chinese for a Chinese interface", async () => {
    setBrowserLanguages(["zh-CN"]);
    mockApi({
      "GET /api/v1/auth/session": signedOut,
      "POST /api/v1/auth/sign-in": {
        status: 401,
        body: envelope("invalid_credentials", "The sign-in or the password is not right."),
      },
    });
    renderApp("/sign-in");
    fillAndSubmit("fang@example.com", "wrong-password");
    expect(await screen.findByText("账号或密码不正确。")).toBeTruthy();
  });

  it("goes back to the page that needed signing in", async () => {
    setBrowserLanguages(["en-US"]);
    mockApi({
      "GET /api/v1/auth/session": signedOut,
      "POST /api/v1/auth/sign-in": { status: 200, body: { account, csrf_token: "t" } },
      "GET /api/v1/orgs": { status: 200, body: [] },
    });
    renderApp("/account/tokens");
    // Signed out: sent to sign-in with the way back.
    await screen.findByTestId("signin-login");
    expect(location()).toBe("/sign-in?next=%2Faccount%2Ftokens");
    fillAndSubmit("fang@example.com", "correct-horse");
    await waitFor(() => expect(location()).toBe("/account/tokens"));
  });

  it("speaks Chinese to a browser that prefers it", async () => {
    setBrowserLanguages(["zh-CN", "en"]);
    mockApi({ "GET /api/v1/auth/session": signedOut });
    renderApp("/sign-in");
    expect(await screen.findByText("登录 Tack")).toBeTruthy();
    expect(screen.getByText("邮箱或手机号")).toBeTruthy();
  });
});
