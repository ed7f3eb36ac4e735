import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, buildUrl, errorFromResponse, rememberCsrfToken, setUnauthorizedHandler } from "./client";

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function lastHeaders(fetchMock: ReturnType<typeof vi.fn>): Record<string, string> {
  const init = fetchMock.mock.calls.at(-1)?.[1] as RequestInit;
  return init.headers as Record<string, string>;
}

describe("api client", () => {
  let fetchMock: ReturnType<typeof vi.fn>;

  beforeEach(() => {
    fetchMock = vi.fn(async () => jsonResponse(200, { ok: true }));
    vi.stubGlobal("fetch", fetchMock);
    document.cookie = "tack_csrf=csrf-from-cookie; path=/";
  });

  afterEach(() => {
    rememberCsrfToken(null);
    setUnauthorizedHandler(null);
  });

  it("sends the tack_csrf cookie as X-CSRF-Token on every write", async () => {
    await api.post("/orgs", { name: "Acme" });
    expect(lastHeaders(fetchMock)["X-CSRF-Token"]).toBe("csrf-from-cookie");
    await api.patch("/me", { name: "A" });
    expect(lastHeaders(fetchMock)["X-CSRF-Token"]).toBe("csrf-from-cookie");
    fetchMock.mockResolvedValueOnce(new Response(null, { status: 204 }));
    await api.delete("/me/tokens/abc");
    expect(lastHeaders(fetchMock)["X-CSRF-Token"]).toBe("csrf-from-cookie");
  });

  it("sends no CSRF header on reads", async () => {
    await api.get("/orgs");
    expect(lastHeaders(fetchMock)).not.toHaveProperty("X-CSRF-Token");
  });

  it("uses the token the server returned when the cookie is missing", async () => {
    document.cookie = "tack_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
    rememberCsrfToken("csrf-from-session");
    await api.post("/auth/sign-out");
    expect(lastHeaders(fetchMock)["X-CSRF-Token"]).toBe("csrf-from-session");
  });

  it("sends JSON with the session cookie to /api/v1", async () => {
    await api.post("/orgs", { name: "Acme", kind: "company" });
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(url).toBe("/api/v1/orgs");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("same-origin");
    expect(JSON.parse(init.body as string)).toEqual({ name: "Acme", kind: "company" });
    expect(lastHeaders(fetchMock)["Content-Type"]).toBe("application/json");
  });

  it("turns the error envelope into an ApiError with the server's message", async () => {
    fetchMock.mockResolvedValueOnce(
      jsonResponse(409, {
        error: { code: "department_not_empty", message: "Move or remove the people in it first.", details: null },
      }),
    );
    const error = await api.delete("/orgs/o/departments/d").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: "department_not_empty", message: "Move or remove the people in it first." });
  });

  it("exposes the per-field messages of a 422", async () => {
    fetchMock.mockResolvedValueOnce(
      jsonResponse(422, {
        error: {
          code: "validation_error",
          message: "email: value is not a valid email address",
          details: { fields: [{ field: "email", message: "value is not a valid email address" }] },
        },
      }),
    );
    const error = (await api.post("/auth/sign-up", {}).catch((e: unknown) => e)) as ApiError;
    expect(error.message).toBe("email: value is not a valid email address");
    expect(error.fields).toEqual([{ field: "email", message: "value is not a valid email address" }]);
  });

  it("reads Retry-After on 429", async () => {
    fetchMock.mockResolvedValueOnce(
      jsonResponse(
        429,
        { error: { code: "rate_limited", message: "Too many attempts. Wait a little and try again.", details: { retry_after: 30 } } },
        { "Retry-After": "42" },
      ),
    );
    const error = (await api.post("/auth/sign-in", {}).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(429);
    expect(error.retryAfter).toBe(42);
    expect(error.message).toBe("Too many attempts. Wait a little and try again.");
  });

  it("gives a readable message when the answer is not an envelope", async () => {
    const error = await errorFromResponse(new Response("<html>Bad gateway</html>", { status: 502 }));
    expect(error.status).toBe(502);
    expect(error.message).toMatch(/went wrong/i);
  });

  it("reports a network failure as such", async () => {
    fetchMock.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    const error = (await api.get("/orgs").catch((e: unknown) => e)) as ApiError;
    expect(error.code).toBe("network_error");
    expect(error.message).toMatch(/could not be reached/i);
  });

  it("reports 401 to the handler unless told not to", async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    const body = { error: { code: "not_authenticated", message: "Sign in first.", details: null } };
    fetchMock.mockResolvedValueOnce(jsonResponse(401, body));
    await expect(api.get("/orgs")).rejects.toBeInstanceOf(ApiError);
    expect(handler).toHaveBeenCalledTimes(1);
    fetchMock.mockResolvedValueOnce(jsonResponse(401, body));
    await expect(api.get("/auth/session", { redirectOn401: false })).rejects.toMatchObject({ status: 401 });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("returns nothing for 204", async () => {
    fetchMock.mockResolvedValueOnce(new Response(null, { status: 204 }));
    await expect(api.delete("/me/sessions/x")).resolves.toBeUndefined();
  });

  it("leaves empty query values out of the URL", () => {
    expect(buildUrl("/orgs/o/members", { q: "zs", cursor: null, role: "", limit: 30 })).toBe("/api/v1/orgs/o/members?q=zs&limit=30");
  });
});
