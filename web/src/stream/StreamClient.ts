/**
 * The real-time stream: one WebSocket per browser tab at /api/v1/stream (docs/stream.md).
 *
 * - Opens with the session cookie (same origin) and sends `hello` with the last position seen in
 *   each organization (`{position, epoch}`), kept in memory and in sessionStorage, so the server
 *   replays exactly what was missed, also after a page reload.
 * - Hands events to listeners in position order and drops what it has already seen
 *   (position <= the organization's last position), so a replay never applies twice.
 * - `resync` (the gap is too large or too old, or the epoch changed): the organization's state is
 *   fetched again over REST through `onResync`; meanwhile the state is `catching_up`.
 * - Heartbeats: the server pings (with the positions it has delivered, so the cursors of quiet
 *   organizations move on) and the client answers pong; any frame proves the connection alive.
 *   Silence for about two ping intervals means it is dead: it is dropped and opened again.
 * - `signal` frames (typing) are passed on as they come: they have no position and are not kept.
 * - Reconnects with full-jitter exponential backoff (a random wait in [0, min(60 s, 1 s * 2^n))),
 *   reset once a connection has stayed up for a while; at once when the browser comes back online.
 * - A close with 4008 (this client fell too far behind) is an ordinary resume from the positions.
 *
 * Framework-free: the React side is StreamProvider.tsx.
 */
import { ApiError } from "../api/client";

export type StreamState = "connecting" | "live" | "catching_up" | "offline";

export interface StreamEvent<D = Record<string, unknown>> {
  org_id: string;
  position: number;
  channel: string;
  kind: string;
  data: D;
}

export interface Cursor {
  position: number;
  epoch: string | null;
}

export type Cursors = Record<string, Cursor>;

export interface ResyncInfo {
  reason: string;
  position: number;
  epoch: string | null;
}

/** The part of the browser's WebSocket the client uses (a fake one in unit tests). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

/** Close codes of the stream (tack/stream/errors.py). */
export const CLOSE_TOO_SLOW = 4008;
export const CLOSE_UNAUTHORIZED = 4401;
/** Closes after which trying again cannot help (a broken hello, a page of another site). */
export const CLOSE_FINAL = [4400, 4403];
/** Used by the client when it drops a connection itself. */
const CLOSE_BY_CLIENT = 4000;
/** How long a call over the stream waits for its result before it counts as lost. */
const CALL_TIMEOUT_MS = 15_000;

export const CURSOR_STORAGE_KEY = "tack.stream.cursors";

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface StreamClientOptions {
  url: string;
  createSocket?: SocketFactory;
  /** Where positions survive a page reload (sessionStorage: per tab). */
  storage?: StorageLike | null;
  storageKey?: string;
  /** Refetch an organization's state over REST; the state stays `catching_up` until it settles. */
  onResync?: (orgId: string, info: ResyncInfo) => Promise<unknown> | unknown;
  /** The server refused the session. */
  onUnauthorized?: () => void;
  /** The person no longer belongs to an organization (removed while connected). */
  onLeft?: (orgId: string) => void;
  /** Source of `online` / `offline` / `visibilitychange` (window); null in tests that do not need it. */
  environment?: EventTarget | null;
  /** Whether the browser believes it is online (navigator.onLine). */
  isOnline?: () => boolean;
  random?: () => number;
  /** The server's ping interval until `ready` says otherwise. */
  pingIntervalMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a connection must stay live before the backoff starts again from 1 s. */
  stableAfterMs?: number;
}

type Listener = (event: StreamEvent) => void;
type StateListener = (state: StreamState) => void;

/** Full jitter: a random wait in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = 1000, maxMs = 60000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

function toNumber(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function toEpoch(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return null;
}

export class StreamClient {
  private readonly options: Required<
    Pick<StreamClientOptions, "url" | "storageKey" | "random" | "baseDelayMs" | "maxDelayMs" | "stableAfterMs">
  > &
    StreamClientOptions;
  private readonly createSocket: SocketFactory;
  private socket: SocketLike | null = null;
  private state: StreamState = "offline";
  private cursors: Cursors = {};
  private listeners = new Set<Listener>();
  private stateListeners = new Set<StateListener>();
  private attempt = 0;
  /** How long a busy server asked us to wait before connecting again (ms), once. */
  private serverRetryMs = 0;
  private running = false;
  /** `ready` came: the positions are known (the replay follows). */
  private ready = false;
  /** `live` came: the replay is done. */
  private live = false;
  private pendingResyncs = 0;
  private pingIntervalMs: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdogTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private calls = new Map<string, { resolve: (data: unknown) => void; reject: (error: unknown) => void; timer: ReturnType<typeof setTimeout> }>();
  private callCount = 0;
  /** Connections opened so far (tests and the debugging hook read it). */
  connections = 0;
  /** The last close code seen, for debugging. */
  lastCloseCode: number | null = null;

  constructor(options: StreamClientOptions) {
    this.options = {
      storageKey: CURSOR_STORAGE_KEY,
      random: Math.random,
      baseDelayMs: 1000,
      maxDelayMs: 60000,
      stableAfterMs: 10000,
      ...options,
    };
    this.pingIntervalMs = options.pingIntervalMs ?? 25000;
    this.createSocket =
      options.createSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
    this.cursors = this.loadCursors();
  }

  // ---- public ---------------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    const env = this.options.environment;
    env?.addEventListener("online", this.handleOnline);
    env?.addEventListener("offline", this.handleOffline);
    env?.addEventListener("visibilitychange", this.handleVisible);
    this.connect();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    const env = this.options.environment;
    env?.removeEventListener("online", this.handleOnline);
    env?.removeEventListener("offline", this.handleOffline);
    env?.removeEventListener("visibilitychange", this.handleVisible);
    this.clearTimers();
    this.dropSocket();
    this.setState("offline");
  }

  getState(): StreamState {
    return this.state;
  }

  getCursors(): Cursors {
    return { ...this.cursors };
  }

  /** Listen to events (in position order, each once). Returns the way to stop listening. */
  /**
   * A request over the live connection (a `call` frame, answered by `result`; docs/stream.md).
   * Rejects with an ApiError: the server's refusal as it is, and status 0 (worth retrying, over
   * REST too) when the connection is not live or drops before the answer.
   */
  call(action: string, orgId: string, params: Record<string, unknown>, timeoutMs = CALL_TIMEOUT_MS): Promise<unknown> {
    if (this.state !== "live" || !this.socket) {
      return Promise.reject(new ApiError(0, "stream_offline", "The live connection is not up."));
    }
    const id = `call-${++this.callCount}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new ApiError(0, "stream_timeout", "The live connection did not answer in time."));
      }, timeoutMs);
      this.calls.set(id, { resolve, reject, timer });
      this.send({ type: "call", id, action, org_id: orgId, params });
    });
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStateChange(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Drop the current connection and open a new one now (resuming from the positions). */
  reconnectNow(): void {
    if (!this.running) return;
    this.attempt = 0;
    this.clearTimers();
    this.dropSocket();
    this.connect();
  }

  /** Drop the connection as if the network had cut it (test hook and `offline`). */
  disconnect(): void {
    if (!this.running) return;
    this.dropSocket();
    this.scheduleReconnect();
  }

  // ---- connection -----------------------------------------------------------------------------

  private connect(): void {
    if (!this.running) return;
    this.reconnectTimer = null;
    this.ready = false;
    this.live = false;
    this.pendingResyncs = 0;
    this.setState(this.hasCursors() ? "catching_up" : "connecting");
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.options.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.connections += 1;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.armWatchdog();
      socket.send(JSON.stringify({ type: "hello", cursors: this.getCursors() }));
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      this.armWatchdog();
      this.handleFrame(event.data);
    };
    socket.onerror = () => {
      /* a close follows; it is handled there */
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.lastCloseCode = event.code;
      this.handleClose(event.code);
    };
  }

  private handleClose(code: number): void {
    this.clearTimers();
    this.abandonCalls();
    this.ready = false;
    this.live = false;
    if (!this.running) return;
    if (code === CLOSE_UNAUTHORIZED) this.options.onUnauthorized?.();
    if (CLOSE_FINAL.includes(code)) {
      // Offline until something changes: the browser comes back online, or reconnectNow().
      this.setState("offline");
      return;
    }
    // 4008 (too slow) and every other close resume from the positions after a jittered wait.
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.setState("offline");
    let delay = backoffDelay(this.attempt, this.options.random, this.options.baseDelayMs, this.options.maxDelayMs);
    if (this.serverRetryMs > 0) {
      // Not before the server said (close 4503), plus up to a second of jitter so a crowd spreads out.
      delay = Math.max(delay, this.serverRetryMs + (this.options.random ?? Math.random)() * 1000);
      this.serverRetryMs = 0;
    }
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Forget the socket without hearing from it again. */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.abandonCalls();
    this.ready = false;
    this.live = false;
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.watchdogTimer = null;
    this.stableTimer = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    try {
      socket.close(CLOSE_BY_CLIENT, "reconnect");
    } catch {
      /* already closed */
    }
  }

  private armWatchdog(): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    // Two ping intervals of silence (plus a little for a slow network) and the connection is dead.
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = null;
      this.dropSocket();
      this.scheduleReconnect();
    }, this.pingIntervalMs * 2 + 1000);
  }

  private clearTimers(): void {
    for (const timer of [this.reconnectTimer, this.watchdogTimer, this.stableTimer]) if (timer) clearTimeout(timer);
    this.reconnectTimer = this.watchdogTimer = this.stableTimer = null;
  }

  private readonly handleOnline = () => {
    // Back online: try now rather than at the end of a long backoff.
    if (!this.running || this.socket) return;
    this.attempt = 0;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.connect();
  };

  private readonly handleOffline = () => {
    // The browser knows the network is gone; the socket may not notice for a long time.
    if (!this.running) return;
    this.dropSocket();
    this.scheduleReconnect();
  };

  private readonly handleVisible = () => {
    if (typeof document !== "undefined" && document.visibilityState !== "visible") return;
    if (this.running && !this.socket && (this.options.isOnline?.() ?? true)) this.handleOnline();
  };

  // ---- frames ---------------------------------------------------------------------------------

  private handleFrame(raw: unknown): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(String(raw)) as Record<string, unknown>;
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "ping":
        this.send({ type: "pong" });
        this.advance(frame.positions);
        return;
      case "result":
        this.answer(frame);
        return;
      case "pong":
        return;
      case "ready":
        this.handleReady(frame);
        return;
      case "live":
        this.advance(frame.positions);
        this.live = true;
        this.stableTimer = setTimeout(() => {
          this.stableTimer = null;
          this.attempt = 0;
        }, this.options.stableAfterMs);
        this.updateLiveState();
        return;
      case "event":
        this.handleEvent(frame);
        return;
      case "signal":
        this.handleSignal(frame);
        return;
      case "left":
        if (typeof frame.org_id === "string") {
          delete this.cursors[frame.org_id];
          this.saveCursors();
          this.options.onLeft?.(frame.org_id);
        }
        return;
      case "events":
        if (Array.isArray(frame.events)) {
          const events = (frame.events as Record<string, unknown>[]).slice();
          events.sort((a, b) => (toNumber(a.position) ?? 0) - (toNumber(b.position) ?? 0));
          for (const event of events) this.handleEvent(event);
        }
        return;
      case "resync":
        this.handleResync(frame);
        return;
      case "error":
        // The close that follows says what to do; a busy server also says when to come back.
        if (frame.code === "busy") this.serverRetryMs = (toNumber(frame.retry_after) ?? 0) * 1000;
        return;
      default:
        return;
    }
  }

  private handleReady(frame: Record<string, unknown>): void {
    const interval = toNumber(frame.ping_interval);
    if (interval && interval > 0) this.pingIntervalMs = interval * 1000;
    this.armWatchdog();
    // The server's positions for organizations this tab has not followed yet: start from them, and
    // fetch those organizations' state, which may be older than what the page loaded before.
    const fresh: [string, Cursor][] = [];
    const given = frame.orgs ?? frame.cursors;
    if (given && typeof given === "object") {
      // Organizations the person no longer belongs to: forget them.
      for (const orgId of Object.keys(this.cursors)) if (!(orgId in given)) delete this.cursors[orgId];
      for (const [orgId, value] of Object.entries(given as Record<string, Record<string, unknown>>)) {
        const position = toNumber(value?.position);
        if (position === null) continue;
        const known = this.cursors[orgId];
        const epoch = toEpoch(value?.epoch);
        if (!known) {
          this.cursors[orgId] = { position, epoch };
          fresh.push([orgId, { position, epoch }]);
        } else if (known.epoch === null && epoch !== null) {
          known.epoch = epoch;
        }
      }
      this.saveCursors();
    }
    this.ready = true;
    for (const [orgId, cursor] of fresh) this.runResync(orgId, { reason: "initial", ...cursor });
    this.updateLiveState();
  }

  /** Positions the server has delivered everything up to (ping, live): frames come in order, so
   * all of those events are here already, and the cursors may move on past what was not ours. */
  private advance(positions: unknown): void {
    if (!positions || typeof positions !== "object") return;
    let changed = false;
    for (const [orgId, value] of Object.entries(positions as Record<string, unknown>)) {
      const position = toNumber(value);
      const known = this.cursors[orgId];
      if (position === null || !known || position <= known.position) continue;
      known.position = position;
      changed = true;
    }
    if (changed) this.saveCursors();
  }

  private handleSignal(frame: Record<string, unknown>): void {
    if (typeof frame.org_id !== "string" || typeof frame.kind !== "string") return;
    this.deliver({
      org_id: frame.org_id,
      position: 0,
      channel: typeof frame.channel === "string" ? frame.channel : "",
      kind: frame.kind,
      data: (frame.data && typeof frame.data === "object" ? frame.data : {}) as Record<string, unknown>,
    });
  }

  private handleEvent(frame: Record<string, unknown>): void {
    const orgId = typeof frame.org_id === "string" ? frame.org_id : null;
    const position = toNumber(frame.position);
    if (!orgId || position === null) return;
    const known = this.cursors[orgId];
    if (known && position <= known.position) return; // seen already (a replay overlapping the live feed)
    const epoch = toEpoch(frame.epoch) ?? known?.epoch ?? null;
    this.cursors[orgId] = { position, epoch };
    this.saveCursors();
    this.deliver({
      org_id: orgId,
      position,
      channel: typeof frame.channel === "string" ? frame.channel : "",
      kind: typeof frame.kind === "string" ? frame.kind : "",
      data: (frame.data && typeof frame.data === "object" ? frame.data : {}) as Record<string, unknown>,
    });
  }

  private deliver(event: StreamEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        // One broken listener must not stop the others or the stream.
        console.error(error);
      }
    }
  }

  private handleResync(frame: Record<string, unknown>): void {
    const orgId = typeof frame.org_id === "string" ? frame.org_id : null;
    if (!orgId) return;
    const position = toNumber(frame.position) ?? this.cursors[orgId]?.position ?? 0;
    const epoch = toEpoch(frame.epoch) ?? null;
    this.cursors[orgId] = { position, epoch };
    this.saveCursors();
    this.runResync(orgId, { reason: typeof frame.reason === "string" ? frame.reason : "resync", position, epoch });
  }

  private runResync(orgId: string, info: ResyncInfo): void {
    const refetch = this.options.onResync;
    if (!refetch) return;
    this.pendingResyncs += 1;
    const socket = this.socket;
    this.updateLiveState();
    const done = () => {
      // A resync of a connection since replaced does not count for the new one.
      if (socket !== this.socket) return;
      this.pendingResyncs = Math.max(0, this.pendingResyncs - 1);
      this.updateLiveState();
    };
    let result: unknown;
    try {
      result = refetch(orgId, info);
    } catch {
      done();
      return;
    }
    Promise.resolve(result).then(done, done);
  }

  private updateLiveState(): void {
    if (!this.socket || !this.ready) return;
    if (this.live && this.pendingResyncs === 0) this.setState("live");
    // A first connection stays "connecting" through its (empty) replay.
    else if (this.live || this.pendingResyncs > 0 || this.state !== "connecting") this.setState("catching_up");
  }

  private answer(frame: Record<string, unknown>): void {
    const waiting = this.calls.get(String(frame.id));
    if (!waiting) return;
    this.calls.delete(String(frame.id));
    clearTimeout(waiting.timer);
    if (frame.ok === true) {
      waiting.resolve(frame.data);
      return;
    }
    const error = (frame.error ?? {}) as { code?: string; message?: string; details?: unknown };
    waiting.reject(new ApiError(Number(frame.status) || 0, error.code ?? "error", error.message ?? "", error.details ?? null));
  }

  /** The connection is gone: nothing waiting on it will be answered. */
  private abandonCalls(): void {
    for (const waiting of this.calls.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new ApiError(0, "stream_closed", "The live connection closed before answering."));
    }
    this.calls.clear();
  }

  private send(frame: Record<string, unknown>): void {
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch {
      /* the close handler takes over */
    }
  }

  private setState(state: StreamState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  // ---- positions ------------------------------------------------------------------------------

  private hasCursors(): boolean {
    return Object.keys(this.cursors).length > 0;
  }

  private loadCursors(): Cursors {
    try {
      const raw = this.options.storage?.getItem(this.options.storageKey);
      if (!raw) return {};
      const parsed = JSON.parse(raw) as Record<string, { position?: unknown; epoch?: unknown }>;
      const result: Cursors = {};
      for (const [orgId, value] of Object.entries(parsed ?? {})) {
        const position = toNumber(value?.position);
        if (position !== null && position >= 0) result[orgId] = { position, epoch: toEpoch(value?.epoch) };
      }
      return result;
    } catch {
      return {};
    }
  }

  private saveCursors(): void {
    try {
      this.options.storage?.setItem(this.options.storageKey, JSON.stringify(this.cursors));
    } catch {
      /* positions then last for this page only */
    }
  }
}

/** ws:// or wss:// address of the stream on this page's server. */
export function streamUrl(loc: { protocol: string; host: string } = window.location): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/api/v1/stream`;
}
