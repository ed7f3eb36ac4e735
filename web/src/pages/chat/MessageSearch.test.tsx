import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Conversation, ConversationMember, Message, SearchHit } from "../../api/types";
import { matchRanges, snippetAround } from "../../chat/searchMatch";
import { account, envelope, location, mockApi, renderApp, setBrowserLanguages, type Call } from "../../test/utils";
import { ME, PEER, myOrg, peerMessage } from "../../test/fixtures";

const org = myOrg();

const group: Conversation = {
  id: "C2",
  kind: "group",
  name: "Project X",
  announcement: null,
  owner_id: PEER,
  department_id: null,
  peer_id: null,
  member_count: 2,
  last_seq: 52,
  last_activity_at: "2026-03-02T10:00:00Z",
  created_at: "2026-03-01T09:00:00Z",
  my_role: "member",
  read_seq: 52,
  unread_count: 0,
  last_message: null,
};

const message = (seq: number, extra: Partial<Message> = {}): Message => peerMessage("C2", seq, extra);

const found = message(3, { body: "Report draft: reporting starts Monday, the report is due Friday" });

const members: ConversationMember[] = [
  { member_id: ME, display_name: "Wang Fang", role: "member", source: "manual", read_seq: 52, joined_at: "2026-03-01T09:00:00Z" },
  { member_id: PEER, display_name: "Li Lei", role: "owner", source: "manual", read_seq: 52, joined_at: "2026-03-01T09:00:00Z" },
];

function signedInApi(search: (call: Call) => { status: number; body: unknown }) {
  return mockApi({
    "GET /api/v1/auth/session": { status: 200, body: { account, csrf_token: "t" } },
    "GET /api/v1/orgs": { status: 200, body: [org] },
    "GET /api/v1/orgs/ORG1/conversations": { status: 200, body: { items: [group], next_cursor: null } },
    "GET /api/v1/orgs/ORG1/dings": { status: 200, body: [] },
    "GET /api/v1/orgs/ORG1/messages/search": search,
    "GET /api/v1/orgs/ORG1/conversations/C2": { status: 200, body: { ...group, admin_ids: [] } },
    "GET /api/v1/orgs/ORG1/conversations/C2/members": { status: 200, body: { items: members, next_cursor: null } },
    // The latest page holds 51 and 52; the found message (3) is on the page before it.
    "GET /api/v1/orgs/ORG1/conversations/C2/messages": (call) => {
      const before = new URL(call.url, "http://x").searchParams.get("before");
      if (before === "51") {
        return { status: 200, body: { items: Array.from({ length: 50 }, (_, i) => (i + 1 === 3 ? found : message(i + 1))), has_more: false } };
      }
      return { status: 200, body: { items: [message(51), message(52)], has_more: true } };
    },
    "POST /api/v1/orgs/ORG1/conversations/C2/read": { status: 200, body: { conversation_id: "C2", read_seq: 52, unread_count: 0 } },
  });
}

const query = (call: Call) => new URL(call.url, "http://x").searchParams;

describe("message search", () => {
  it("shows matching messages with the words highlighted, and opens the conversation at the one chosen", async () => {
    setBrowserLanguages(["en-US"]);
    const hits: SearchHit[] = [{ message: found, conversation_name: "Project X" }];
    const { calls } = signedInApi((call) =>
      query(call).get("q") === "report" ? { status: 200, body: { items: hits, next_cursor: null } } : { status: 200, body: { items: [], next_cursor: null } },
    );
    renderApp("/orgs/ORG1/chat");
    await screen.findByTestId("conversation-item");

    fireEvent.change(screen.getByTestId("message-search"), { target: { value: "  report " } });
    const result = await screen.findByTestId("search-result");
    // Typing stopped once: one request, with the trimmed query.
    const searches = calls.filter((c) => c.url.includes("/messages/search"));
    expect(searches).toHaveLength(1);
    expect(query(searches[0]).get("q")).toBe("report");
    // The results take the place of the conversation list.
    expect(screen.queryByTestId("conversation-item")).toBeNull();

    expect(within(result).getByTestId("search-result-conversation").textContent).toBe("Project X");
    expect(within(result).getByTestId("search-result-sender").textContent).toBe("Li Lei");
    expect(within(result).getByTestId("search-result-time").textContent).not.toBe("");
    expect(within(result).getByTestId("search-result-text").textContent).toBe(found.body);
    // Whole words, whatever their case, as the server matched them: not "reporting".
    expect(within(result).getAllByTestId("search-match").map((m) => m.textContent)).toEqual(["Report", "report"]);

    fireEvent.click(result);
    await waitFor(() => expect(location()).toBe("/orgs/ORG1/chat/C2?message=MSG3&seq=3"));
    expect((await screen.findByTestId("chat-view")).getAttribute("data-conversation-id")).toBe("C2");
    // The message is older than the latest page: earlier history is loaded until it is there, and
    // it is marked.
    await waitFor(() => {
      const item = document.querySelector('[data-testid="message-item"][data-message-id="MSG3"]');
      expect(item?.getAttribute("data-highlighted")).toBe("true");
    });
    expect(calls.some((c) => c.url.includes("/C2/messages") && query(c).get("before") === "51")).toBe(true);
    expect(screen.getAllByTestId("search-result")[0].getAttribute("aria-current")).toBe("true");

    // Nothing found: said so.
    fireEvent.change(screen.getByTestId("message-search"), { target: { value: "zebra" } });
    expect((await screen.findByTestId("search-empty")).textContent).toBe("No messages match “zebra”");

    // Clearing the box brings the conversations back.
    fireEvent.change(screen.getByTestId("message-search"), { target: { value: "" } });
    expect(await screen.findByTestId("conversation-item")).toBeTruthy();
  });

  it("shows a refused search in the error code's Chinese wording", async () => {
    setBrowserLanguages(["zh-CN"]);
    signedInApi(() => ({ status: 404, body: envelope("conversation_not_found", "There is no such conversation, or you are not in it.") }));
    renderApp("/orgs/ORG1/chat");
    await screen.findByTestId("conversation-item");
    fireEvent.change(screen.getByTestId("message-search"), { target: { value: "周报" } });
    const error = await screen.findByTestId("search-error");
    expect(error.textContent).toContain("会话不存在，或你不在该会话中。");
    expect(screen.queryByTestId("search-empty")).toBeNull();
  });
});

describe("search matches", () => {
  it("match whole words of a spaced query and substrings of a Chinese one", () => {
    expect(matchRanges("Report draft: reporting, the report.", "REPORT")).toEqual([
      [0, 6],
      [29, 35],
    ]);
    expect(matchRanges("weekly report sent", "sent weekly")).toEqual([
      [0, 6],
      [14, 18],
    ]);
    expect(matchRanges("本周周报已发，请查收周报", "周报")).toEqual([
      [2, 4],
      [10, 12],
    ]);
    expect(matchRanges("a+b (c)", "a+b")).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(matchRanges("anything", "  ")).toEqual([]);
  });

  it("start a long text shortly before its first match", () => {
    const text = `${"lorem ipsum ".repeat(10)}the budget is approved`;
    const snippet = snippetAround(text, "budget");
    expect(snippet.text.startsWith("…")).toBe(true);
    const [start, end] = snippet.ranges[0];
    expect(snippet.text.slice(start, end)).toBe("budget");
    expect(start).toBeLessThan(40);
  });
});
