import { StyleProvider } from "@ant-design/cssinjs";
import { render } from "@testing-library/react";
import { MemoryRouter, useLocation } from "react-router-dom";
import { vi } from "vitest";
import { AppFrame, AppRoutes } from "../App";
import { AuthProvider } from "../auth/AuthContext";

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };
type Handler = (call: Call) => Reply | Promise<Reply>;

export const envelope = (code: string, message: string, details: unknown = null) => ({ error: { code, message, details } });

/** Replaces fetch with a table of "METHOD /path" -> answer; unknown requests answer 404. */
export function mockApi(routes: Record<string, Reply | Handler>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = (init?.method ?? "GET").toUpperCase();
    const call: Call = {
      method,
      url,
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: typeof init?.body === "string" ? JSON.parse(init.body) : (init?.body ?? undefined),
    };
    calls.push(call);
    const path = url.split("?")[0];
    const entry = routes[`${method} ${path}`];
    const reply: Reply = entry
      ? typeof entry === "function"
        ? await entry(call)
        : entry
      : { status: 404, body: envelope("not_found", "There is nothing at this address.") };
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status,
      headers: { "Content-Type": "application/json", ...(reply.headers ?? {}) },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock };
}

export function setBrowserLanguages(languages: string[]) {
  vi.spyOn(window.navigator, "languages", "get").mockReturnValue(languages);
}

let currentPath = "";
function LocationProbe() {
  const location = useLocation();
  currentPath = `${location.pathname}${location.search}`;
  return null;
}
export const location = () => currentPath;

/** Renders the whole app (routes, auth, language) at `path`. Ant Design's styles are computed but not
 * written into jsdom (StyleProvider mock="server"): parsing them is most of what makes jsdom slow. */
export function renderApp(path: string) {
  return render(
    <StyleProvider mock="server">
      <AppFrame>
        <MemoryRouter initialEntries={[path]}>
          <AuthProvider>
            <AppRoutes />
            <LocationProbe />
          </AuthProvider>
        </MemoryRouter>
      </AppFrame>
    </StyleProvider>,
  );
}

export const account = {
  id: "01HACCOUNT00000000000000000",
  name: "Wang Fang",
  email: "fang@example.com",
  mobile: null,
  locale: null,
  created_at: "2025-01-01T00:00:00Z",
};

export const signedOut = { status: 401, body: envelope("not_authenticated", "Sign in first.") };
