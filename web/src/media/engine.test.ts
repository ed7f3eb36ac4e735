import { beforeEach, describe, expect, it, vi } from "vitest";
import type { MediaSession } from "../api/types";
import { MediaEngine, qualityOf, type EngineState } from "./engine";
import { fakeJanusSockets, type FakeJanusSocket, type Sent } from "./fakeJanus";
import { FakePeerConnection, installFakeWebrtc, type FakeTrack } from "./fakeWebrtc";
import { JanusError, setJanusSocketFactory } from "./janus";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await tick();
  }
  throw new Error(`never: ${what}`);
}

export function session(extra: Partial<MediaSession> = {}): MediaSession {
  return {
    mode: "interactive",
    reason: null,
    server: "ws://janus.test:8188",
    core_token: "core-token",
    room: 734201992,
    join_token: "join-token",
    feed_id: 8123456789,
    display: "李明",
    may_publish: false,
    ice_servers: [{ urls: "turn:turn.test", username: "u", credential: "c" }],
    generation: 1,
    broadcast: null,
    expires_at: "2026-03-02T12:00:00Z",
    ...extra,
  };
}

/** A VideoRoom that answers joins (with these publishers), configures and starts. */
function videoroom(socket: FakeJanusSocket, publishers: Record<string, unknown>[] = [], joinError?: number) {
  socket.onPluginMessage = (frame: Sent) => {
    const body = frame.body ?? {};
    if (body.request === "join" && body.ptype === "publisher") {
      if (joinError) socket.reply(frame, { videoroom: "event", error_code: joinError, error: "Unauthorized" });
      else socket.reply(frame, { videoroom: "joined", room: body.room, id: body.id, private_id: 4242, publishers });
    } else if (body.request === "join" && body.ptype === "subscriber") {
      socket.reply(frame, { videoroom: "attached", room: body.room, streams: [] }, { type: "offer", sdp: "remote offer" });
    } else if (body.request === "configure") {
      socket.reply(frame, { videoroom: "event", configured: "ok" }, { type: "answer", sdp: "janus answer" });
    } else if (body.request === "start") {
      socket.reply(frame, { videoroom: "event", started: "ok" });
    } else {
      socket.reply(frame, { videoroom: "event" });
    }
  };
}

function engineFor(s: MediaSession, prefs = { micOn: true, camOn: true }) {
  const states: EngineState[] = [];
  const trouble = vi.fn();
  const engine = new MediaEngine(s, { onState: (st) => states.push(st), onTrouble: trouble }, prefs);
  return { engine, states, trouble, last: () => engine.snapshot };
}

let net: ReturnType<typeof fakeJanusSockets>;
let devices: ReturnType<typeof installFakeWebrtc>;

beforeEach(() => {
  devices = installFakeWebrtc();
  net = fakeJanusSockets();
  setJanusSocketFactory((url, protocol) => {
    const socket = net.create(url, protocol);
    videoroom(socket, [{ id: 555, display: "王老师", streams: [{ type: "audio", mid: "0" }, { type: "video", mid: "1" }] }]);
    return socket;
  });
});

describe("a media connection", () => {
  it("joins with the session's tokens and, not allowed to publish, only watches: one subscription per feed", async () => {
    const { engine, last } = engineFor(session());
    await engine.start();
    const socket = net.last();
    expect(socket.url).toBe("ws://janus.test:8188");
    expect(socket.sent.every((f) => f.token === "core-token")).toBe(true);
    const [join] = socket.messages("join");
    expect(join.body).toEqual({ request: "join", ptype: "publisher", room: 734201992, id: 8123456789, display: "李明", token: "join-token" });
    expect(devices.getUserMedia).not.toHaveBeenCalled();
    expect(socket.messages("configure")).toHaveLength(0);

    // The teacher's feed: a subscriber handle of its own, with the publisher handle's private id.
    await until(() => socket.messages("start").length === 1, "start");
    const sub = socket.messages("join")[1];
    expect(sub.body).toEqual({
      request: "join",
      ptype: "subscriber",
      room: 734201992,
      streams: [{ feed: 555 }],
      private_id: 4242,
      token: "join-token",
    });
    expect(sub.handle_id).not.toBe(join.handle_id);
    const pc = FakePeerConnection.all[0];
    expect(pc.config.iceServers).toEqual([{ urls: "turn:turn.test", username: "u", credential: "c" }]);
    expect(pc.remote).toEqual({ type: "offer", sdp: "remote offer" });
    expect(socket.messages("start")[0].jsep).toEqual({ type: "answer", sdp: "answer" });
    expect(last().status).toBe("connected");
    expect(last().publishing).toBe(false);
    expect(last().feeds).toEqual([{ id: 555, display: "王老师", stream: null, talking: false }]);

    pc.remoteTrack("audio");
    pc.remoteTrack("video");
    expect(last().feeds[0].stream?.getTracks()).toHaveLength(2);

    // Speaking, another publisher arriving, the teacher's feed going away.
    socket.event(Number(join.handle_id), { videoroom: "talking", room: 734201992, id: 555, "audio-level-dBov-avg": -30 });
    expect(last().feeds[0].talking).toBe(true);
    socket.event(Number(join.handle_id), { videoroom: "event", room: 734201992, id: 555, mid: "0", moderation: "muted" });
    expect(last().feeds[0]).toMatchObject({ audioMuted: true, talking: false });
    expect(last().moderated).toBe(false);
    socket.event(Number(join.handle_id), { videoroom: "event", room: 734201992, publishers: [{ id: 777, display: "张华" }] });
    await until(() => socket.messages("start").length === 2, "second start");
    expect(last().feeds.map((f) => f.display)).toEqual(["王老师", "张华"]);
    socket.event(Number(join.handle_id), { videoroom: "event", room: 734201992, unpublished: 555 });
    expect(last().feeds.map((f) => f.id)).toEqual([777]);
    expect(pc.closed).toBe(true);
    expect(socket.sent.some((f) => f.janus === "detach" && f.handle_id === sub.handle_id)).toBe(true);
    await engine.close();
    expect(socket.sent[socket.sent.length - 1].janus).toBe("destroy");
  });

  it("publishes the microphone first (mid 0), then the camera, and follows the host's mute", async () => {
    const { engine, last } = engineFor(session({ may_publish: true }));
    await engine.start();
    const socket = net.last();
    const [configure] = socket.messages("configure");
    expect(configure.body).toEqual({ request: "configure", audio: true, video: true });
    expect(configure.jsep).toEqual({ type: "offer", sdp: "offer audio,video" });
    const pc = FakePeerConnection.all.find((p) => p.transceivers.length === 2)!;
    expect(pc.transceivers.map((t) => [t.kind, t.direction])).toEqual([
      ["audio", "sendonly"],
      ["video", "sendonly"],
    ]);
    expect(pc.remote).toEqual({ type: "answer", sdp: "janus answer" });
    expect(last()).toMatchObject({ publishing: true, micOn: true, camOn: true });
    expect(last().localStream?.getVideoTracks()).toHaveLength(1);
    const mic = pc.transceivers[0].sender.track as FakeTrack;

    await engine.setMic(false);
    expect(mic.enabled).toBe(false);
    expect(last().micOn).toBe(false);
    await engine.setMic(true);
    expect(mic.enabled).toBe(true);

    // The media server says the host muted me (mid 0): off, and it stays off.
    const handle = Number(socket.messages("join")[0].handle_id);
    socket.event(handle, { videoroom: "event", room: 734201992, id: 8123456789, mid: "0", moderation: "muted" });
    expect(mic.enabled).toBe(false);
    expect(last()).toMatchObject({ moderated: true, micOn: false });
    await engine.setMic(true);
    expect(mic.enabled).toBe(false);

    // Camera off releases it; on again asks for it.
    const camera = pc.transceivers[1].sender.track as FakeTrack;
    await engine.setCamera(false);
    expect(camera.readyState).toBe("ended");
    expect(pc.transceivers[1].sender.track).toBeNull();
    expect(last().camOn).toBe(false);
    await engine.setCamera(true);
    expect(pc.transceivers[1].sender.track?.readyState).toBe("live");

    // The screen replaces the camera, and the camera comes back after.
    await engine.shareScreen();
    expect(devices.getDisplayMedia).toHaveBeenCalled();
    expect(last().sharing).toBe(true);
    const screenTrack = pc.transceivers[1].sender.track as FakeTrack;
    screenTrack.onended?.();
    await tick();
    expect(last().sharing).toBe(false);
    expect(pc.transceivers[1].sender.track).not.toBe(screenTrack);
    await engine.close();
  });

  it("a camera that cannot be used: publishes the microphone alone, with audio still first", async () => {
    devices.getUserMedia.mockImplementation(async (c: MediaStreamConstraints) => {
      if (c.video) throw new DOMException("busy", "NotReadableError");
      const { FakeStream, FakeTrack } = await import("./fakeWebrtc");
      return new FakeStream([new FakeTrack("audio")]);
    });
    const { engine, last } = engineFor(session({ may_publish: true }));
    await engine.start();
    const pc = FakePeerConnection.all.find((p) => p.transceivers.length === 2)!;
    expect(pc.transceivers.map((t) => [t.kind, !!t.sender.track])).toEqual([
      ["audio", true],
      ["video", false],
    ]);
    expect(last()).toMatchObject({ publishing: true, micOn: true, camOn: false });
    await engine.close();
  });

  it("removed by the host: stops everything and says so, without reconnecting", async () => {
    const { engine, last, trouble } = engineFor(session({ may_publish: true }));
    await engine.start();
    const socket = net.last();
    const pc = FakePeerConnection.all.find((p) => p.transceivers.length === 2)!;
    const handle = Number(socket.messages("join")[0].handle_id);
    socket.event(handle, { videoroom: "event", room: 734201992, leaving: "ok", reason: "kicked" });
    expect(last().status).toBe("kicked");
    expect(last().publishing).toBe(false);
    expect(pc.closed).toBe(true);
    expect((pc.transceivers[0].sender.track as FakeTrack).readyState).toBe("ended");
    socket.receive({ janus: "hangup", session_id: 1, sender: handle, reason: "kicked" });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(trouble).not.toHaveBeenCalled();
  });

  it("asks to reconnect when the WebSocket drops or ICE fails", async () => {
    const first = engineFor(session());
    await first.engine.start();
    net.last().serverClose(1006);
    expect(first.trouble).toHaveBeenCalledTimes(1);

    const before = FakePeerConnection.all.length;
    const second = engineFor(session());
    await second.engine.start();
    await until(() => FakePeerConnection.all.length > before, "subscriber pc");
    FakePeerConnection.all[before].fail();
    expect(second.trouble).toHaveBeenCalledWith("subscriber ice failed");
    await second.engine.close();
  });

  it("refuses to start when Janus does not allow the join token (433)", async () => {
    setJanusSocketFactory((url, protocol) => {
      const socket = net.create(url, protocol);
      videoroom(socket, [], 433);
      return socket;
    });
    const { engine } = engineFor(session());
    const error = await engine.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JanusError);
    expect((error as JanusError).code).toBe(433);
    await engine.close();
  });

  it("starts publishing when the host lets me, and stops when that is taken back", async () => {
    const { engine, last } = engineFor(session());
    await engine.start();
    expect(last().publishing).toBe(false);
    await engine.setMayPublish(true);
    expect(last().publishing).toBe(true);
    expect(net.last().messages("configure")).toHaveLength(1);
    await engine.setMayPublish(false);
    expect(last().publishing).toBe(false);
    expect(net.last().messages("unpublish")).toHaveLength(1);
    await engine.close();
  });

  it("measures the connection: round trip and loss", async () => {
    expect(qualityOf(null, null)).toBe("unknown");
    expect(qualityOf(40, 0)).toBe("good");
    expect(qualityOf(300, 1)).toBe("fair");
    expect(qualityOf(80, 12)).toBe("poor");
  });
});
