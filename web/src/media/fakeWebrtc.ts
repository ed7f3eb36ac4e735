/** Just enough of WebRTC and getUserMedia for jsdom: peer connections that record what they are
 * asked, tracks that can be stopped and disabled. */
import { vi } from "vitest";

let trackIds = 0;

export class FakeTrack {
  id = `track-${++trackIds}`;
  enabled = true;
  readyState: "live" | "ended" = "live";
  onended: (() => void) | null = null;
  constructor(readonly kind: "audio" | "video") {}
  stop() {
    this.readyState = "ended";
  }
}

export class FakeStream {
  private tracks: FakeTrack[];
  constructor(tracks: FakeTrack[] = []) {
    this.tracks = [...tracks];
  }
  getTracks() {
    return [...this.tracks];
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
  addTrack(track: FakeTrack) {
    this.tracks.push(track);
  }
}

export class FakeSender {
  constructor(public track: FakeTrack | null) {}
  replaceTrack = vi.fn(async (track: FakeTrack | null) => {
    this.track = track;
  });
}

export class FakePeerConnection {
  static all: FakePeerConnection[] = [];
  transceivers: { kind: string; sender: FakeSender; direction?: string }[] = [];
  local: RTCSessionDescriptionInit | null = null;
  remote: RTCSessionDescriptionInit | null = null;
  connectionState = "new";
  closed = false;
  onicecandidate: ((e: { candidate: { toJSON: () => RTCIceCandidateInit } | null }) => void) | null = null;
  ontrack: ((e: { track: FakeTrack }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  stats = new Map<string, Record<string, unknown>>();
  constructor(readonly config: RTCConfiguration) {
    FakePeerConnection.all.push(this);
  }
  addTransceiver(trackOrKind: FakeTrack | string, init?: { direction?: string }) {
    const kind = typeof trackOrKind === "string" ? trackOrKind : trackOrKind.kind;
    const sender = new FakeSender(typeof trackOrKind === "string" ? null : trackOrKind);
    const transceiver = { kind, sender, direction: init?.direction };
    this.transceivers.push(transceiver);
    return transceiver;
  }
  async createOffer() {
    return { type: "offer" as const, sdp: `offer ${this.transceivers.map((t) => t.kind).join(",")}` };
  }
  async createAnswer() {
    return { type: "answer" as const, sdp: "answer" };
  }
  async setLocalDescription(d: RTCSessionDescriptionInit) {
    this.local = d;
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit) {
    this.remote = d;
  }
  async getStats() {
    return this.stats;
  }
  close() {
    this.closed = true;
    this.connectionState = "closed";
  }
  // ---- the test's side ----
  fail() {
    this.connectionState = "failed";
    this.onconnectionstatechange?.();
  }
  remoteTrack(kind: "audio" | "video") {
    const track = new FakeTrack(kind);
    this.ontrack?.({ track });
    return track;
  }
}

/** Installs the fakes; getUserMedia gives a fake camera and microphone. */
export function installFakeWebrtc() {
  FakePeerConnection.all = [];
  const getUserMedia = vi.fn(async (c: MediaStreamConstraints) => {
    const tracks: FakeTrack[] = [];
    if (c.audio) tracks.push(new FakeTrack("audio"));
    if (c.video) tracks.push(new FakeTrack("video"));
    return new FakeStream(tracks);
  });
  const getDisplayMedia = vi.fn(async () => new FakeStream([new FakeTrack("video")]));
  const enumerateDevices = vi.fn(async () => [
    { kind: "videoinput", deviceId: "cam-1", label: "Front camera", groupId: "g" },
    { kind: "audioinput", deviceId: "mic-1", label: "Headset", groupId: "g" },
  ]);
  vi.stubGlobal("RTCPeerConnection", FakePeerConnection);
  vi.stubGlobal("MediaStream", FakeStream);
  Object.defineProperty(window.navigator, "mediaDevices", {
    configurable: true,
    value: { getUserMedia, getDisplayMedia, enumerateDevices },
  });
  // jsdom has no media playback.
  window.HTMLMediaElement.prototype.play = vi.fn(async () => undefined);
  return { getUserMedia, getDisplayMedia, enumerateDevices };
}
