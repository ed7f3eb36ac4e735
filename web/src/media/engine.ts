/**
 * One media connection to a Janus VideoRoom, for one media session Tack handed out (docs/media.md):
 * joins as a publisher, publishes the camera and microphone when allowed (audio first, so it is mid
 * "0", the one Tack mutes), subscribes to every other feed with a handle of its own, follows the
 * room's events (feeds coming and going, speaking, mutes by the host, being removed), and measures
 * the connection. Framework-free: the React side (useMediaSession) renders its state.
 */
import type { MediaSession } from "../api/types";
import { JanusClient, JanusError, type HandleEvent, type JanusHandle, type Jsep, type PluginData } from "./janus";

export const VIDEOROOM = "janus.plugin.videoroom";
/** VideoRoom error: the join token is not on the room's allow-list (expired, revoked, removed). */
export const JANUS_UNAUTHORIZED_TOKEN = 433;
/** How often the connection is measured. Tests make it shorter. */
export const engineTiming = { statsEveryMs: 2000 };

export interface RemoteFeed {
  id: number;
  display: string;
  stream: MediaStream | null;
  talking: boolean;
  /** The host muted their microphone on the media server (as far as this page heard). */
  audioMuted?: boolean;
}

export type QualityLevel = "good" | "fair" | "poor" | "unknown";
export interface Quality {
  level: QualityLevel;
  /** Round trip to the media server, milliseconds. */
  rtt: number | null;
  /** Packets lost lately, percent. */
  loss: number | null;
}

export interface EngineState {
  status: "connecting" | "connected" | "kicked" | "closed";
  publishing: boolean;
  localStream: MediaStream | null;
  micOn: boolean;
  camOn: boolean;
  sharing: boolean;
  /** I am speaking (the media server's audio level events). */
  talking: boolean;
  /** The media server muted my microphone (a host's mute). */
  moderated: boolean;
  feeds: RemoteFeed[];
  quality: Quality;
  deviceError: boolean;
  shareError: boolean;
}

export interface DevicePrefs {
  micOn: boolean;
  camOn: boolean;
  audioDeviceId?: string | null;
  videoDeviceId?: string | null;
}

export interface EngineEvents {
  onState: (state: EngineState) => void;
  /** The connection broke (the WebSocket closed, ICE failed, Janus hung up): reconnect. */
  onTrouble: (reason: string) => void;
}

export function qualityOf(rtt: number | null, loss: number | null): QualityLevel {
  if (rtt === null && loss === null) return "unknown";
  const r = rtt ?? 0;
  const l = loss ?? 0;
  if (r < 250 && l < 2) return "good";
  if (r < 500 && l < 8) return "fair";
  return "poor";
}

interface Subscription {
  feed: number;
  handle: JanusHandle | null;
  pc: RTCPeerConnection | null;
  closed: boolean;
}

export class MediaEngine {
  private janus: JanusClient | null = null;
  private publisher: JanusHandle | null = null;
  private pc: RTCPeerConnection | null = null;
  private audioSender: RTCRtpSender | null = null;
  private videoSender: RTCRtpSender | null = null;
  private audioTrack: MediaStreamTrack | null = null;
  private cameraTrack: MediaStreamTrack | null = null;
  private screenTrack: MediaStreamTrack | null = null;
  private privateId: number | null = null;
  private readonly subs = new Map<number, Subscription>();
  private readonly feeds = new Map<number, RemoteFeed>();
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private lastInbound: { lost: number; received: number } | null = null;
  private closing = false;
  private mayPublish: boolean;
  private state: EngineState;

  constructor(
    private readonly session: MediaSession,
    private readonly events: EngineEvents,
    private prefs: DevicePrefs,
  ) {
    this.mayPublish = session.may_publish;
    this.state = {
      status: "connecting",
      publishing: false,
      localStream: null,
      micOn: prefs.micOn,
      camOn: prefs.camOn,
      sharing: false,
      talking: false,
      moderated: false,
      feeds: [],
      quality: { level: "unknown", rtt: null, loss: null },
      deviceError: false,
      shareError: false,
    };
  }

  get snapshot(): EngineState {
    return this.state;
  }

  private set(patch: Partial<EngineState>): void {
    if (this.closing && patch.status === undefined) return;
    this.state = { ...this.state, ...patch };
    this.events.onState(this.state);
  }

  private trouble(reason: string): void {
    if (this.closing || this.state.status === "kicked") return;
    this.events.onTrouble(reason);
  }

  private get iceServers(): RTCIceServer[] {
    return this.session.ice_servers ?? [];
  }

  /** Connects and joins; rejects with a JanusError (433: the join token was refused) or JanusClosed. */
  async start(): Promise<void> {
    const s = this.session;
    const janus = new JanusClient(s.server ?? "", { token: s.core_token });
    this.janus = janus;
    await janus.connect();
    if (this.closing) return;
    janus.onClose((reason) => this.trouble(reason));
    const publisher = await janus.attach(VIDEOROOM);
    this.publisher = publisher;
    publisher.onEvent((event) => this.onPublisherEvent(event));
    const joined = await publisher.message({
      request: "join",
      ptype: "publisher",
      room: s.room,
      id: s.feed_id,
      display: s.display ?? "",
      token: s.join_token,
    });
    if (this.closing) return;
    this.privateId = typeof joined.data.private_id === "number" ? joined.data.private_id : null;
    this.set({ status: "connected" });
    this.addPublishers(joined.data.publishers);
    this.statsTimer = setInterval(() => void this.measure(), engineTiming.statsEveryMs);
    if (this.mayPublish) await this.publish();
  }

  // ---- publishing --------------------------------------------------------------------------------

  private async publish(): Promise<void> {
    if (!this.publisher || this.pc || this.closing) return;
    const { audio, video } = await this.openDevices(true, this.prefs.camOn);
    if (this.closing) {
      audio?.stop();
      video?.stop();
      return;
    }
    this.audioTrack = audio;
    this.cameraTrack = video;
    if (audio) audio.enabled = this.prefs.micOn && !this.state.moderated;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.watchIce(pc, "publisher");
    pc.onicecandidate = (e) => this.publisher?.trickle(e.candidate ? e.candidate.toJSON() : null);
    const stream = new MediaStream([audio, video].filter((t): t is MediaStreamTrack => !!t));
    // Audio first: mid "0" is the microphone, which Tack mutes on the media server.
    const audioTx = audio
      ? pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] })
      : pc.addTransceiver("audio", { direction: "sendonly", streams: [stream] });
    const videoTx = video
      ? pc.addTransceiver(video, { direction: "sendonly", streams: [stream] })
      : pc.addTransceiver("video", { direction: "sendonly", streams: [stream] });
    this.audioSender = audioTx.sender;
    this.videoSender = videoTx.sender;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const answer = await this.publisher.message({ request: "configure", audio: true, video: true }, offer);
    if (answer.jsep) await pc.setRemoteDescription(answer.jsep as RTCSessionDescriptionInit);
    this.set({
      publishing: true,
      localStream: this.previewStream(),
      micOn: !!audio && this.prefs.micOn && !this.state.moderated,
      camOn: !!video,
    });
  }

  private async unpublish(): Promise<void> {
    if (!this.pc) return;
    await this.publisher?.message({ request: "unpublish" }).catch(() => undefined);
    this.stopPublishing();
    this.set({ publishing: false, localStream: null, sharing: false });
  }

  private stopPublishing(): void {
    for (const track of [this.audioTrack, this.cameraTrack, this.screenTrack]) track?.stop();
    this.audioTrack = this.cameraTrack = this.screenTrack = null;
    this.audioSender = this.videoSender = null;
    this.pc?.close();
    this.pc = null;
  }

  /** The camera and microphone (either may be missing: then without it). */
  private async openDevices(wantAudio: boolean, wantVideo: boolean): Promise<{ audio: MediaStreamTrack | null; video: MediaStreamTrack | null }> {
    const media = navigator.mediaDevices;
    const audioC: MediaTrackConstraints | boolean = this.prefs.audioDeviceId ? { deviceId: { exact: this.prefs.audioDeviceId } } : true;
    const videoC: MediaTrackConstraints | boolean = this.prefs.videoDeviceId
      ? { deviceId: { exact: this.prefs.videoDeviceId }, width: { ideal: 640 }, height: { ideal: 360 } }
      : { width: { ideal: 640 }, height: { ideal: 360 } };
    const tries: MediaStreamConstraints[] = [];
    if (wantAudio && wantVideo) tries.push({ audio: audioC, video: videoC });
    if (wantAudio) tries.push({ audio: audioC });
    if (wantVideo) tries.push({ video: videoC });
    for (const constraints of tries) {
      try {
        const stream = await media.getUserMedia(constraints);
        return { audio: stream.getAudioTracks()[0] ?? null, video: stream.getVideoTracks()[0] ?? null };
      } catch {
        /* try with less */
      }
    }
    if (tries.length) this.set({ deviceError: true });
    return { audio: null, video: null };
  }

  private previewStream(): MediaStream | null {
    const video = this.screenTrack ?? this.cameraTrack;
    return video ? new MediaStream([video]) : null;
  }

  /** Microphone on or off (off sends silence; the host's mute wins). */
  async setMic(on: boolean): Promise<void> {
    this.prefs = { ...this.prefs, micOn: on };
    if (on && this.state.moderated) return;
    if (on && !this.audioTrack && this.audioSender) {
      const { audio } = await this.openDevices(true, false);
      if (!audio) return;
      this.audioTrack = audio;
      await this.audioSender.replaceTrack(audio);
    }
    if (this.audioTrack) this.audioTrack.enabled = on;
    this.set({ micOn: on && !!this.audioTrack });
  }

  /** Camera on or off (off releases the camera). */
  async setCamera(on: boolean): Promise<void> {
    this.prefs = { ...this.prefs, camOn: on };
    if (!on) {
      this.cameraTrack?.stop();
      this.cameraTrack = null;
      if (!this.screenTrack) await this.videoSender?.replaceTrack(null);
      this.set({ camOn: false, localStream: this.previewStream() });
      return;
    }
    if (this.cameraTrack || !this.videoSender) return;
    const { video } = await this.openDevices(false, true);
    if (!video) return;
    this.cameraTrack = video;
    if (!this.screenTrack) await this.videoSender.replaceTrack(video);
    this.set({ camOn: true, localStream: this.previewStream() });
  }

  /** Shares the screen in place of the camera, until stopped (here or in the browser's own bar). */
  async shareScreen(): Promise<void> {
    if (!this.videoSender || this.screenTrack) return;
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      track = stream.getVideoTracks()[0];
    } catch {
      this.set({ shareError: true });
      return;
    }
    if (!track) return;
    this.screenTrack = track;
    track.onended = () => void this.stopShare();
    await this.videoSender.replaceTrack(track);
    this.set({ sharing: true, shareError: false, localStream: this.previewStream() });
  }

  async stopShare(): Promise<void> {
    if (!this.screenTrack) return;
    this.screenTrack.onended = null;
    this.screenTrack.stop();
    this.screenTrack = null;
    await this.videoSender?.replaceTrack(this.cameraTrack);
    this.set({ sharing: false, localStream: this.previewStream() });
  }

  /** Another camera or microphone. */
  async setDevice(kind: "audioinput" | "videoinput", deviceId: string | null): Promise<void> {
    if (kind === "audioinput") {
      this.prefs = { ...this.prefs, audioDeviceId: deviceId };
      if (!this.audioSender || !this.audioTrack) return;
      const { audio } = await this.openDevices(true, false);
      if (!audio) return;
      audio.enabled = this.audioTrack.enabled;
      this.audioTrack.stop();
      this.audioTrack = audio;
      await this.audioSender.replaceTrack(audio);
    } else {
      this.prefs = { ...this.prefs, videoDeviceId: deviceId };
      if (!this.videoSender || !this.cameraTrack) return;
      const { video } = await this.openDevices(false, true);
      if (!video) return;
      this.cameraTrack.stop();
      this.cameraTrack = video;
      if (!this.screenTrack) await this.videoSender.replaceTrack(video);
      this.set({ localStream: this.previewStream() });
    }
  }

  /** The host muted (or unmuted) me in Tack: the microphone follows at once, here too. */
  setMutedByHost(muted: boolean): void {
    if (muted) this.prefs = { ...this.prefs, micOn: false };
    if (muted && this.audioTrack) this.audioTrack.enabled = false;
    this.set({ moderated: muted, micOn: muted ? false : this.state.micOn });
  }

  /** My role changed: start or stop publishing. */
  async setMayPublish(may: boolean): Promise<void> {
    if (may === this.mayPublish) return;
    this.mayPublish = may;
    if (this.state.status !== "connected") return;
    if (may) await this.publish();
    else await this.unpublish();
  }

  // ---- the room's events -----------------------------------------------------------------------

  private onPublisherEvent(event: HandleEvent): void {
    if (event.kind === "hangup") {
      // After a kick Janus hangs up too: give the kick's own event a moment to arrive first.
      setTimeout(() => {
        if (this.state.status === "connected" && this.pc) this.trouble("hangup");
      }, 500);
      return;
    }
    if (event.kind !== "plugin") return;
    const data = event.data;
    const me = this.session.feed_id;
    switch (data.videoroom) {
      case "talking":
      case "stopped-talking": {
        const talking = data.videoroom === "talking";
        if (data.id === me) this.set({ talking });
        else this.updateFeed(Number(data.id), { talking });
        return;
      }
      case "destroyed":
        this.set({ status: "closed" });
        return;
      case "event":
        break;
      default:
        return;
    }
    if (Array.isArray(data.publishers)) this.addPublishers(data.publishers);
    if (data.leaving === "ok" && data.reason === "kicked") this.kicked();
    if (data.kicked !== undefined) {
      if (data.kicked === me) this.kicked();
      else this.dropFeed(Number(data.kicked));
    }
    if (typeof data.leaving === "number") this.dropFeed(data.leaving);
    if (typeof data.unpublished === "number") this.dropFeed(data.unpublished);
    if (typeof data.moderation === "string" && (data.mid === undefined || data.mid === "0")) {
      const muted = data.moderation === "muted";
      if (data.id === undefined || data.id === me) this.setMutedByHost(muted);
      else this.updateFeed(Number(data.id), { audioMuted: muted, talking: muted ? false : this.feeds.get(Number(data.id))?.talking ?? false });
    }
  }

  private kicked(): void {
    if (this.state.status === "kicked") return;
    this.stopPublishing();
    for (const feed of [...this.subs.keys()]) this.dropFeed(feed);
    this.set({ status: "kicked", publishing: false, localStream: null, feeds: [], talking: false });
    void this.shutdown();
  }

  private addPublishers(list: unknown): void {
    if (!Array.isArray(list)) return;
    for (const item of list as PluginData[]) {
      const id = Number(item.id);
      if (!id || id === this.session.feed_id) continue;
      if (this.subs.has(id)) continue;
      this.feeds.set(id, { id, display: String(item.display ?? ""), stream: null, talking: Boolean(item.talking) });
      this.publishFeeds();
      void this.subscribe(id);
    }
  }

  private updateFeed(id: number, patch: Partial<RemoteFeed>): void {
    const feed = this.feeds.get(id);
    if (!feed) return;
    this.feeds.set(id, { ...feed, ...patch });
    this.publishFeeds();
  }

  private publishFeeds(): void {
    this.set({ feeds: [...this.feeds.values()] });
  }

  private dropFeed(id: number): void {
    const sub = this.subs.get(id);
    if (sub) {
      sub.closed = true;
      sub.pc?.close();
      void sub.handle?.detach();
      this.subs.delete(id);
    }
    if (this.feeds.delete(id)) this.publishFeeds();
  }

  private async subscribe(feed: number): Promise<void> {
    const janus = this.janus;
    if (!janus) return;
    const sub: Subscription = { feed, handle: null, pc: null, closed: false };
    this.subs.set(feed, sub);
    try {
      const handle = await janus.attach(VIDEOROOM);
      sub.handle = handle;
      if (sub.closed) {
        void handle.detach();
        return;
      }
      handle.onEvent((event) => {
        if (event.kind === "plugin" && event.jsep?.type === "offer") void this.answer(sub, event.jsep);
        else if (event.kind === "hangup" && !sub.closed) this.updateFeed(feed, { stream: null });
      });
      const body: Record<string, unknown> = {
        request: "join",
        ptype: "subscriber",
        room: this.session.room,
        streams: [{ feed }],
        token: this.session.join_token,
      };
      if (this.privateId !== null) body.private_id = this.privateId;
      const reply = await handle.message(body);
      if (reply.jsep?.type === "offer") await this.answer(sub, reply.jsep);
    } catch (error) {
      if (sub.closed || this.closing) return;
      // The feed went away meanwhile (428 no such feed), or we did: forget it quietly.
      if (error instanceof JanusError && error.code !== 0) this.dropFeed(feed);
    }
  }

  private async answer(sub: Subscription, offer: Jsep): Promise<void> {
    if (sub.closed || !sub.handle) return;
    let pc = sub.pc;
    if (!pc) {
      pc = new RTCPeerConnection({ iceServers: this.iceServers });
      sub.pc = pc;
      this.watchIce(pc, "subscriber");
      const handle = sub.handle;
      pc.onicecandidate = (e) => handle.trickle(e.candidate ? e.candidate.toJSON() : null);
      const stream = new MediaStream();
      pc.ontrack = (e) => {
        if (!stream.getTracks().includes(e.track)) stream.addTrack(e.track);
        this.updateFeed(sub.feed, { stream: new MediaStream(stream.getTracks()) });
      };
    }
    await pc.setRemoteDescription(offer as RTCSessionDescriptionInit);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (sub.closed) return;
    await sub.handle.message({ request: "start", room: this.session.room }, answer);
  }

  private watchIce(pc: RTCPeerConnection, which: string): void {
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.trouble(`${which} ice failed`);
    };
  }

  // ---- quality -----------------------------------------------------------------------------------

  private async measure(): Promise<void> {
    const pc = this.pc ?? [...this.subs.values()].find((s) => s.pc)?.pc ?? null;
    if (!pc || this.closing) return;
    let stats: RTCStatsReport;
    try {
      stats = await pc.getStats();
    } catch {
      return;
    }
    let rtt: number | null = null;
    let lost = 0;
    let received = 0;
    let remoteLoss: number | null = null;
    stats.forEach((report: Record<string, unknown> & { type: string }) => {
      if (report.type === "candidate-pair" && (report.nominated || report.selected) && report.state === "succeeded") {
        if (typeof report.currentRoundTripTime === "number") rtt = Math.round(report.currentRoundTripTime * 1000);
      } else if (report.type === "inbound-rtp") {
        lost += Number(report.packetsLost ?? 0);
        received += Number(report.packetsReceived ?? 0);
      } else if (report.type === "remote-inbound-rtp" && typeof report.fractionLost === "number") {
        remoteLoss = Math.max(remoteLoss ?? 0, report.fractionLost * 100);
      }
    });
    let loss: number | null = remoteLoss;
    if (received > 0 || lost > 0) {
      const before = this.lastInbound ?? { lost: 0, received: 0 };
      const dLost = Math.max(0, lost - before.lost);
      const dReceived = Math.max(0, received - before.received);
      this.lastInbound = { lost, received };
      if (dLost + dReceived > 0) loss = Math.max(loss ?? 0, (100 * dLost) / (dLost + dReceived));
    }
    const rounded = loss === null ? null : Math.round(loss * 10) / 10;
    this.set({ quality: { level: qualityOf(rtt, rounded), rtt, loss: rounded } });
  }

  // ---- the end -----------------------------------------------------------------------------------

  /** Stops everything: media, handles, the Janus session. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
    this.stopPublishing();
    for (const sub of this.subs.values()) {
      sub.closed = true;
      sub.pc?.close();
    }
    this.subs.clear();
    const janus = this.janus;
    this.janus = null;
    this.publisher = null;
    await janus?.close();
  }
}
