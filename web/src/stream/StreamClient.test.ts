import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fakeSockets, memoryStorage } from "./fakeSocket";
import { backoffDelay, CURSOR_STORAGE_KEY, StreamClient, type StreamEvent, type StreamState } from "./StreamClient";

const event = (position: number, kind = "message.created", org_id = "ORG1") => ({
  type: "event",
  org_id,
  position,
  channel: "conv:C1",
  kind,
  data: { n: position },
});

function setup(options: Partial<ConstructorParameters<typeof StreamClient>[0]> = {}) {
  const net = fakeSockets();
  const storage = memoryStorage();
  const env = new EventTarget();
  const onResync = vi.fn(async () => undefined);
  const client = new StreamClient({
    url: "ws://test/api/v1/stream",
    createSocket: net.create,
    storage,
    environment: env,
    onResync,
    random: () => 0.5,
    pingIntervalMs: 10000,
    ...options,
  });
  const received: StreamEvent[] = [];
  const states: StreamState[] = [];
  client.subscribe((e) => received.push(e));
  client.onStateChange((s) => states.push(s));
  return { client, net, storage, env, onResync, received, states };
}

/** Open the latest socket and answer its hello with `ready` and (nothing to replay) `live`. */
function goLive(net: ReturnType<typeof fakeSockets>, orgs: Record<string, { position: number; epoch: string }> = { ORG1: { position: 0, epoch: "e1" } }) {
  const socket = net.last();
  socket.open();
  socket.receive({ type: "ready", orgs, ping_interval: 10 });
  socket.receive({ type: "live", positions: Object.fromEntries(Object.entries(orgs).map(([id, c]) => [id, c.position])) });
  return socket;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("StreamClient", () => {
  it("sends hello with its positions and becomes live on ready", async () => {
    const { client, net, states, onResync } = setup();
    client.start();
    expect(client.getState()).toBe("connecting");
    const socket = net.last();
    expect(socket.url).toBe("ws://test/api/v1/stream");
    socket.open();
    expect(socket.hello).toEqual({ type: "hello", cursors: {} });
    socket.receive({ type: "ready", orgs: { ORG1: { position: 7, epoch: "e1", member_id: "M1" } }, ping_interval: 20 });
    // An organization first seen in ready is fetched over REST once, from position 7 on.
    expect(onResync).toHaveBeenCalledWith("ORG1", { reason: "initial", position: 7, epoch: "e1" });
    expect(client.getState()).toBe("catching_up");
    await vi.advanceTimersByTimeAsync(0);
    // Fetched, but the replay is not over until the server says live.
    expect(client.getState()).toBe("catching_up");
    socket.receive({ type: "live", positions: { ORG1: 7 } });
    expect(client.getState()).toBe("live");
    expect(states).toEqual(["connecting", "catching_up", "live"]);
    expect(client.getCursors()).toEqual({ ORG1: { position: 7, epoch: "e1" } });
  });

  it("delivers events in position order, each once", async () => {
    const { client, net, received, storage } = setup();
    client.start();
    const socket = goLive(net);
    await vi.advanceTimersByTimeAsync(0);
    socket.receive(event(1));
    socket.receive(event(2));
    socket.receive(event(2)); // duplicate
    socket.receive(event(1)); // older than what was seen
    socket.receive({ type: "events", events: [event(5), event(3), event(4), event(3)] });
    socket.receive(event(2, "message.created", "ORG2")); // positions are per organization
    expect(received.map((e) => `${e.org_id}:${e.position}`)).toEqual([
      "ORG1:1",
      "ORG1:2",
      "ORG1:3",
      "ORG1:4",
      "ORG1:5",
      "ORG2:2",
    ]);
    expect(received[0]).toEqual({ org_id: "ORG1", position: 1, channel: "conv:C1", kind: "message.created", data: { n: 1 } });
    // The positions survive a page reload (sessionStorage).
    expect(JSON.parse(storage.data.get(CURSOR_STORAGE_KEY) ?? "{}")).toEqual({
      ORG1: { position: 5, epoch: "e1" },
      ORG2: { position: 2, epoch: null },
    });
  });

  it("resumes from the stored positions after a reload, replaying without duplicates", async () => {
    const net = fakeSockets();
    const storage = memoryStorage({ [CURSOR_STORAGE_KEY]: JSON.stringify({ ORG1: { position: 41, epoch: "e1" } }) });
    const client = new StreamClient({ url: "ws://x", createSocket: net.create, storage, random: () => 0 });
    const received: number[] = [];
    client.subscribe((e) => received.push(e.position));
    client.start();
    // With positions to resume from, the first connection is already catching up.
    expect(client.getState()).toBe("catching_up");
    const socket = net.last();
    socket.open();
    expect(socket.hello).toEqual({ type: "hello", cursors: { ORG1: { position: 41, epoch: "e1" } } });
    socket.receive({ type: "ready", orgs: { ORG1: { position: 41, epoch: "e1" } } });
    expect(client.getState()).toBe("catching_up");
    socket.receive(event(41));
    socket.receive(event(42));
    socket.receive({ type: "live", positions: { ORG1: 45 } });
    expect(client.getState()).toBe("live");
    expect(received).toEqual([42]);
    // Up to 45 was delivered (43 to 45 were not for us): the next hello starts there.
    expect(client.getCursors().ORG1.position).toBe(45);
  });

  it("calls the refetch callback on resync and stays catching up until it settles", async () => {
    let finish: () => void = () => undefined;
    const onResync = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const { client, net, states, received } = setup({ onResync });
    client.start();
    const socket = goLive(net, { ORG1: { position: 10, epoch: "e1" } });
    expect(client.getState()).toBe("catching_up");
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.getState()).toBe("live");
    onResync.mockClear();

    socket.receive({ type: "resync", org_id: "ORG1", reason: "epoch_changed", position: 3, epoch: "e2" });
    expect(onResync).toHaveBeenCalledWith("ORG1", { reason: "epoch_changed", position: 3, epoch: "e2" });
    expect(client.getState()).toBe("catching_up");
    // The new epoch's positions are followed from where the server said.
    expect(client.getCursors().ORG1).toEqual({ position: 3, epoch: "e2" });
    socket.receive(event(4));
    expect(received.map((e) => e.position)).toEqual([4]);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.getState()).toBe("live");
    expect(states.slice(-2)).toEqual(["catching_up", "live"]);
  });

  it("answers pings and treats two silent ping intervals as a dead connection", async () => {
    const { client, net } = setup();
    client.start();
    const socket = goLive(net);
    socket.receive({ type: "ping", positions: { ORG1: 12 } });
    expect(socket.sent.at(-1)).toEqual({ type: "pong" });
    // A ping carries the positions delivered so far: a quiet organization's cursor moves on.
    expect(client.getCursors().ORG1.position).toBe(12);
    // Frames keep it alive...
    await vi.advanceTimersByTimeAsync(15000);
    socket.receive({ type: "ping" });
    await vi.advanceTimersByTimeAsync(15000);
    socket.receive({ type: "ping" });
    expect(net.sockets).toHaveLength(1);
    expect(client.getState()).toBe("live");
    // ...silence for two intervals (10 s each here) does not.
    await vi.advanceTimersByTimeAsync(21001);
    expect(socket.closedWith).not.toBeNull();
    expect(client.getState()).toBe("offline");
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.sockets).toHaveLength(2);
  });

  it("resumes after a close with 4008 (too slow) from its last position", async () => {
    const { client, net, received } = setup();
    client.start();
    const first = goLive(net);
    first.receive(event(1));
    first.receive(event(2));
    first.serverClose(4008);
    expect(client.getState()).toBe("offline");
    expect(client.lastCloseCode).toBe(4008);
    await vi.advanceTimersByTimeAsync(1000);
    const second = net.last();
    expect(second).not.toBe(first);
    second.open();
    expect(second.hello).toEqual({ type: "hello", cursors: { ORG1: { position: 2, epoch: "e1" } } });
    second.receive({ type: "ready", orgs: { ORG1: { position: 2, epoch: "e1" } } });
    second.receive(event(2));
    second.receive(event(3));
    second.receive({ type: "live", positions: { ORG1: 3 } });
    expect(received.map((e) => e.position)).toEqual([1, 2, 3]);
    expect(client.getState()).toBe("live");
  });

  it("waits as long as a busy server asks before connecting again (4503)", async () => {
    const { client, net } = setup({ random: () => 0.5 });
    client.start();
    const first = net.last();
    first.open();
    first.receive({ type: "error", code: "busy", message: "busy", retry_after: 7 });
    first.serverClose(4503);
    expect(client.getState()).toBe("offline");
    await vi.advanceTimersByTimeAsync(7000);
    expect(net.sockets).toHaveLength(1); // not before 7 s, plus jitter
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.sockets).toHaveLength(2);
  });

  it("backs off with full jitter, 1 s doubling to 60 s, and starts over after a stable connection", async () => {
    const random = vi.fn(() => 0.999);
    const { client, net } = setup({ random });
    client.start();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      const before = net.sockets.length;
      net.last().serverClose(1006);
      let waited = 0;
      while (net.sockets.length === before) {
        await vi.advanceTimersByTimeAsync(100);
        waited += 100;
      }
      waits.push(waited);
    }
    // ceil(0.999 * cap) in 100 ms steps: 1 s, 2 s, 4 s, ... capped at 60 s.
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);

    // A connection that stays up resets the backoff.
    goLive(net);
    await vi.advanceTimersByTimeAsync(10000);
    const before = net.sockets.length;
    net.last().serverClose(1006);
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.sockets.length).toBe(before + 1);
  });

  it("computes full-jitter delays within their bounds", () => {
    expect(backoffDelay(0, () => 0)).toBe(0);
    expect(backoffDelay(0, () => 0.5)).toBe(500);
    expect(backoffDelay(3, () => 0.5)).toBe(4000);
    expect(backoffDelay(20, () => 0.5)).toBe(30000);
    for (let attempt = 0; attempt < 12; attempt++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(60000, 1000 * 2 ** attempt));
      }
    }
    // Jitter: many clients do not come back at the same moment.
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(6)));
    expect(spread.size).toBeGreaterThan(40);
  });

  it("goes offline with the browser and reconnects at once when it is back online", async () => {
    const { client, net, env, received } = setup({ random: () => 0.99 });
    client.start();
    const first = goLive(net);
    first.receive(event(1));
    // Several failed tries make the backoff long...
    env.dispatchEvent(new Event("offline"));
    expect(first.closedWith).not.toBeNull();
    expect(client.getState()).toBe("offline");
    for (let i = 0; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(60000);
      net.last().serverClose(1006);
    }
    const before = net.sockets.length;
    await vi.advanceTimersByTimeAsync(100);
    expect(net.sockets.length).toBe(before);
    // ...but coming back online does not wait for it.
    env.dispatchEvent(new Event("online"));
    expect(net.sockets.length).toBe(before + 1);
    expect(client.getState()).toBe("catching_up");
    const again = net.last();
    again.open();
    expect(again.hello).toEqual({ type: "hello", cursors: { ORG1: { position: 1, epoch: "e1" } } });
    again.receive({ type: "ready", orgs: { ORG1: { position: 1, epoch: "e1" } } });
    again.receive(event(2));
    again.receive({ type: "live", positions: { ORG1: 2 } });
    expect(client.getState()).toBe("live");
    expect(received.map((e) => e.position)).toEqual([1, 2]);
  });

  it("does not hear from a dropped socket again", async () => {
    const { client, net, received } = setup();
    client.start();
    const first = goLive(net);
    client.reconnectNow();
    first.receive(event(9));
    first.serverClose(1006);
    expect(received).toEqual([]);
    expect(net.sockets).toHaveLength(2);
    expect(client.getState()).toBe("catching_up");
  });

  it("passes signals on without touching positions, and forgets an organization it left", async () => {
    const onLeft = vi.fn();
    const { client, net, received, storage } = setup({ onLeft });
    client.start();
    const socket = goLive(net, { ORG1: { position: 3, epoch: "e1" }, ORG2: { position: 1, epoch: "e2" } });
    socket.receive({ type: "signal", org_id: "ORG1", channel: "conv:C1", kind: "typing", data: { member_id: "M2", typing: true } });
    expect(received).toEqual([{ org_id: "ORG1", position: 0, channel: "conv:C1", kind: "typing", data: { member_id: "M2", typing: true } }]);
    expect(client.getCursors().ORG1.position).toBe(3);
    socket.receive({ type: "left", org_id: "ORG2", reason: "membership_removed" });
    expect(onLeft).toHaveBeenCalledWith("ORG2");
    expect(Object.keys(JSON.parse(storage.data.get(CURSOR_STORAGE_KEY) ?? "{}"))).toEqual(["ORG1"]);
  });

  it("forgets organizations the server no longer lists, and does not retry what cannot work", async () => {
    const net = fakeSockets();
    const storage = memoryStorage({ [CURSOR_STORAGE_KEY]: JSON.stringify({ ORG1: { position: 4, epoch: "e1" }, GONE: { position: 9, epoch: "e9" } }) });
    const env = new EventTarget();
    const client = new StreamClient({ url: "ws://x", createSocket: net.create, storage, environment: env, random: () => 0.5 });
    client.start();
    net.last().open();
    net.last().receive({ type: "ready", orgs: { ORG1: { position: 4, epoch: "e1" } } });
    expect(client.getCursors()).toEqual({ ORG1: { position: 4, epoch: "e1" } });
    // A page of another site (4403): no retry loop...
    net.last().serverClose(4403);
    await vi.advanceTimersByTimeAsync(120000);
    expect(net.sockets).toHaveLength(1);
    expect(client.getState()).toBe("offline");
    // ...until something changes.
    env.dispatchEvent(new Event("online"));
    expect(net.sockets).toHaveLength(2);
    client.stop();
  });

  it("reports a refused session and stops cleanly", async () => {
    const onUnauthorized = vi.fn();
    const { client, net } = setup({ onUnauthorized });
    client.start();
    net.last().serverClose(4401);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    client.stop();
    expect(client.getState()).toBe("offline");
    await vi.advanceTimersByTimeAsync(120000);
    expect(net.sockets).toHaveLength(1);
  });
  it("answers calls with their results and fails them when the connection goes", async () => {
    const { client, net } = setup();
    await expect(client.call("chat.send", "ORG1", {})).rejects.toMatchObject({ status: 0, code: "stream_offline" });
    client.start();
    const socket = goLive(net);
    await vi.advanceTimersByTimeAsync(0); // the first ready's fetch settles; then live
    expect(client.getState()).toBe("live");
    const sent = client.call("chat.send", "ORG1", { conversation_id: "C1" });
    const call = socket.sent.find((f) => f.type === "call")!;
    expect(call).toMatchObject({ action: "chat.send", org_id: "ORG1", params: { conversation_id: "C1" } });
    socket.receive({ type: "result", id: call.id, ok: true, data: { created: true, message: { id: "M1" } } });
    await expect(sent).resolves.toEqual({ created: true, message: { id: "M1" } });

    const refused = client.call("chat.send", "ORG1", {});
    const second = socket.sent.filter((f) => f.type === "call")[1];
    socket.receive({ type: "result", id: second.id, ok: false, status: 422, error: { code: "empty_message", message: "A message needs some text.", details: null } });
    await expect(refused).rejects.toMatchObject({ status: 422, code: "empty_message" });

    const lost = client.call("chat.send", "ORG1", {});
    socket.serverClose(1006);
    await expect(lost).rejects.toMatchObject({ status: 0, code: "stream_closed" });
    client.stop();
  });
});
