import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeJanusSockets, FakeJanusSocket } from "./fakeJanus";
import { JanusClient, JanusClosed, JanusError, setJanusSocketFactory, type HandleEvent } from "./janus";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  vi.useRealTimers();
});

async function connected(options: ConstructorParameters<typeof JanusClient>[1] = { token: "core" }) {
  const net = fakeJanusSockets();
  setJanusSocketFactory(net.create);
  const client = new JanusClient("ws://janus.test:8188", options);
  await client.connect();
  return { client, socket: net.last(), net };
}

describe("the Janus client", () => {
  it("opens with the janus-protocol subprotocol, creates a session and sends the core token with every request", async () => {
    const { client, socket } = await connected();
    expect(socket.url).toBe("ws://janus.test:8188");
    expect(socket.protocol).toBe("janus-protocol");
    expect(client.sessionId).toBe(1);
    const handle = await client.attach("janus.plugin.videoroom");
    expect(handle.id).toBeGreaterThan(1000);
    const [create, attach] = socket.sent;
    expect(create).toMatchObject({ janus: "create", token: "core" });
    expect(create.session_id).toBeUndefined();
    expect(attach).toMatchObject({ janus: "attach", plugin: "janus.plugin.videoroom", token: "core", session_id: 1 });
    expect(create.transaction).not.toBe(attach.transaction);
  });

  it("waits past the ack of a plugin message for its event, with the JSEP", async () => {
    const { client, socket } = await connected();
    const handle = await client.attach("janus.plugin.videoroom");
    socket.onPluginMessage = (frame) => {
      expect(frame).toMatchObject({ janus: "message", handle_id: handle.id, token: "core", body: { request: "configure" } });
      expect(frame.jsep).toEqual({ type: "offer", sdp: "v=0 offer" });
      socket.reply(frame, { videoroom: "event", configured: "ok" }, { type: "answer", sdp: "v=0 answer" });
    };
    const reply = await handle.message({ request: "configure", audio: true, video: true }, { type: "offer", sdp: "v=0 offer" });
    expect(reply.data).toEqual({ videoroom: "event", configured: "ok" });
    expect(reply.jsep).toEqual({ type: "answer", sdp: "v=0 answer" });
  });

  it("rejects with the VideoRoom's error code (433: the join token is not allowed) and Janus's own errors", async () => {
    const { client, socket } = await connected();
    const handle = await client.attach("janus.plugin.videoroom");
    socket.onPluginMessage = (frame) =>
      socket.reply(frame, { videoroom: "event", error_code: 433, error: "Unauthorized (not in the allowed list)" });
    const refused = await handle.message({ request: "join", ptype: "publisher", room: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JanusError);
    expect((refused as JanusError).code).toBe(433);

    socket.autoAnswer = false;
    const attaching = client.attach("janus.plugin.videoroom").catch((e: unknown) => e);
    const last = socket.sent[socket.sent.length - 1];
    socket.receive({ janus: "error", transaction: last.transaction, error: { code: 403, reason: "Unauthorized request" } });
    const error = (await attaching) as JanusError;
    expect(error.code).toBe(403);
    expect(error.message).toBe("Unauthorized request");
  });

  it("routes events to the handle they concern, also those that came before anyone listened", async () => {
    const { client, socket } = await connected();
    const a = await client.attach("janus.plugin.videoroom");
    const b = await client.attach("janus.plugin.videoroom");
    socket.event(b.id, { videoroom: "talking", id: 7 });
    const seenA: HandleEvent[] = [];
    const seenB: HandleEvent[] = [];
    a.onEvent((e) => seenA.push(e));
    b.onEvent((e) => seenB.push(e));
    socket.event(a.id, { videoroom: "event", publishers: [{ id: 9, display: "王老师" }] });
    socket.receive({ janus: "webrtcup", session_id: 1, sender: a.id });
    socket.receive({ janus: "hangup", session_id: 1, sender: b.id, reason: "DTLS alert" });
    expect(seenA.map((e) => e.kind)).toEqual(["plugin", "webrtcup"]);
    expect(seenA[0]).toMatchObject({ kind: "plugin", data: { publishers: [{ id: 9, display: "王老师" }] } });
    expect(seenB.map((e) => e.kind)).toEqual(["plugin", "hangup"]);
    expect(seenB[0]).toMatchObject({ data: { videoroom: "talking", id: 7 } });
  });

  it("trickles candidates and the end of gathering", async () => {
    const { client, socket } = await connected();
    const handle = await client.attach("janus.plugin.videoroom");
    handle.trickle({ candidate: "candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host", sdpMid: "0", sdpMLineIndex: 0 });
    handle.trickle(null);
    const trickles = socket.sent.filter((f) => f.janus === "trickle");
    expect(trickles).toEqual([
      expect.objectContaining({
        handle_id: handle.id,
        token: "core",
        candidate: { candidate: "candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host", sdpMid: "0", sdpMLineIndex: 0 },
      }),
      expect.objectContaining({ handle_id: handle.id, candidate: { completed: true } }),
    ]);
  });

  it("keeps the session alive every 25 seconds", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const { client, socket } = await connected();
    expect(socket.sent.filter((f) => f.janus === "keepalive")).toHaveLength(0);
    vi.advanceTimersByTime(25_000);
    vi.advanceTimersByTime(25_000);
    expect(socket.sent.filter((f) => f.janus === "keepalive")).toEqual([
      expect.objectContaining({ session_id: 1, token: "core" }),
      expect.objectContaining({ session_id: 1, token: "core" }),
    ]);
    await client.close();
    vi.advanceTimersByTime(50_000);
    expect(socket.sent.filter((f) => f.janus === "keepalive")).toHaveLength(2);
  });

  it("says when the connection drops, and fails what was waiting", async () => {
    const { client, socket } = await connected();
    const handle = await client.attach("janus.plugin.videoroom");
    const closed = vi.fn();
    client.onClose(closed);
    const waiting = handle.message({ request: "join" }).catch((e: unknown) => e);
    await tick();
    socket.serverClose(1006);
    expect(await waiting).toBeInstanceOf(JanusClosed);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(client.isOpen).toBe(false);
    await expect(client.attach("janus.plugin.videoroom")).rejects.toBeInstanceOf(JanusClosed);
  });

  it("treats the session's timeout as a drop", async () => {
    const { client, socket } = await connected();
    const closed = vi.fn();
    client.onClose(closed);
    socket.receive({ janus: "timeout", session_id: 1 });
    expect(closed).toHaveBeenCalledWith("session timed out");
  });

  it("closes cleanly: destroys the session, closes the socket, and does not report it as a drop", async () => {
    const { client, socket } = await connected();
    const closed = vi.fn();
    client.onClose(closed);
    await client.close();
    expect(socket.sent[socket.sent.length - 1]).toMatchObject({ janus: "destroy", session_id: 1, token: "core" });
    expect(socket.closedWith).toBe(1000);
    expect(closed).not.toHaveBeenCalled();
  });

  it("fails to connect when the media server cannot be reached", async () => {
    setJanusSocketFactory((url, protocol) => {
      const socket = new FakeJanusSocket(url, protocol);
      queueMicrotask(() => socket.serverClose(1006));
      return socket;
    });
    await expect(new JanusClient("ws://down.test").connect()).rejects.toBeInstanceOf(JanusClosed);
  });

  it("gives up on a request the server never answers", async () => {
    const { client, socket } = await connected({ token: "core", timeoutMs: 20 });
    socket.autoAnswer = false;
    const error = await client.attach("janus.plugin.videoroom").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JanusError);
    expect((error as JanusError).code).toBe(0);
  });
});
