/**
 * A small client of Janus's WebSocket API (subprotocol "janus-protocol"): one session, plugin handles,
 * transactions with their acks, events routed to the handle they concern, keepalives, trickled ICE
 * candidates and a clean close. Every request carries the core token Tack handed out (docs/media.md).
 */

/** What the client needs of a WebSocket (the browser's, or a fake one in tests). */
export interface JanusSocket {
  readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}

export type JanusSocketFactory = (url: string, protocol: string) => JanusSocket;

let socketFactory: JanusSocketFactory = (url, protocol) => new WebSocket(url, protocol) as unknown as JanusSocket;

/** Tests hand in their own sockets. */
export function setJanusSocketFactory(factory: JanusSocketFactory): void {
  socketFactory = factory;
}

export const JANUS_PROTOCOL = "janus-protocol";
export const KEEPALIVE_MS = 25_000;
export const REQUEST_TIMEOUT_MS = 15_000;

/** Janus refused something: `code` is Janus's (e.g. 403 unauthorized) or the VideoRoom's error_code
 * (e.g. 433 the join token is not on the room's allow-list). */
export class JanusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "JanusError";
  }
}

/** The connection to Janus is gone (closed, timed out, never opened). */
export class JanusClosed extends Error {
  constructor(message = "The connection to the media server closed.") {
    super(message);
    this.name = "JanusClosed";
  }
}

export interface Jsep {
  type: "offer" | "answer";
  sdp: string;
  [key: string]: unknown;
}

export type PluginData = Record<string, unknown>;

/** A plugin's answer to a message: its data, and the JSEP that came with it. */
export interface PluginReply {
  data: PluginData;
  jsep?: Jsep;
}

/** What Janus says about a handle outside of answers: a plugin event, or the state of its
 * PeerConnection ("webrtcup", "hangup", "media", "slowlink", "detached"). */
export type HandleEvent =
  | { kind: "plugin"; data: PluginData; jsep?: Jsep }
  | { kind: "webrtcup" | "hangup" | "media" | "slowlink" | "detached"; raw: Record<string, unknown> };

type Frame = Record<string, unknown> & { janus?: string; transaction?: string; sender?: number; session_id?: number };

interface Pending {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  /** A plugin message: an "ack" means the answer comes later as an "event". */
  waitsForEvent: boolean;
  timer: ReturnType<typeof setTimeout>;
}

export interface JanusOptions {
  /** Janus's token_auth token, sent with every request. */
  token?: string | null;
  keepaliveMs?: number;
  timeoutMs?: number;
}

let transactionCounter = 0;
function newTransaction(): string {
  transactionCounter = (transactionCounter + 1) % 1_000_000;
  return `t${Date.now().toString(36)}${transactionCounter.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** One Janus session over one WebSocket. */
export class JanusClient {
  sessionId: number | null = null;
  private socket: JanusSocket | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly handles = new Map<number, JanusHandle>();
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private closeListeners: ((reason: string) => void)[] = [];
  private readonly token: string | null;
  private readonly keepaliveMs: number;
  readonly timeoutMs: number;

  constructor(
    readonly url: string,
    options: JanusOptions = {},
  ) {
    this.token = options.token ?? null;
    this.keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** Opens the WebSocket and creates the session. */
  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let socket: JanusSocket;
      try {
        socket = socketFactory(this.url, JANUS_PROTOCOL);
      } catch (error) {
        reject(new JanusClosed(String(error)));
        return;
      }
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        resolve();
      };
      socket.onerror = () => {
        if (!opened) reject(new JanusClosed("The media server could not be reached."));
      };
      socket.onclose = (event) => {
        if (!opened) reject(new JanusClosed(`The media server closed the connection (${event.code}).`));
        this.shutdown(`socket closed (${event.code})`);
      };
      socket.onmessage = (event) => this.receive(event.data);
    });
    const created = await this.send({ janus: "create" });
    this.sessionId = Number((created.data as { id: number }).id);
    this.keepalive = setInterval(() => {
      this.send({ janus: "keepalive" }).catch(() => undefined);
    }, this.keepaliveMs);
  }

  get isOpen(): boolean {
    return !this.closed && this.sessionId !== null;
  }

  /** Called once when the session ends by itself (socket closed, session timed out); not after close(). */
  onClose(listener: (reason: string) => void): () => void {
    this.closeListeners.push(listener);
    return () => {
      this.closeListeners = this.closeListeners.filter((l) => l !== listener);
    };
  }

  async attach(plugin: string): Promise<JanusHandle> {
    const attached = await this.send({ janus: "attach", plugin });
    const handle = new JanusHandle(this, Number((attached.data as { id: number }).id));
    this.handles.set(handle.id, handle);
    return handle;
  }

  /** Destroys the session (politely, without waiting long) and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    const socket = this.socket;
    if (this.sessionId !== null && socket && socket.readyState === 1) {
      const destroyed = this.send({ janus: "destroy" }).catch(() => undefined);
      await Promise.race([destroyed, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
    this.closeListeners = [];
    this.shutdown("closed");
    try {
      socket?.close(1000);
    } catch {
      /* already closed */
    }
  }

  /** @internal Sends a request; resolves with the final answer ("success", or the event after an
   * "ack" for plugin messages). */
  send(body: Record<string, unknown>, handleId?: number): Promise<Frame> {
    if (this.closed || !this.socket || this.socket.readyState !== 1) {
      return Promise.reject(new JanusClosed());
    }
    const transaction = newTransaction();
    const frame: Record<string, unknown> = { ...body, transaction };
    if (this.token) frame.token = this.token;
    if (this.sessionId !== null && body.janus !== "create") frame.session_id = this.sessionId;
    if (handleId !== undefined) frame.handle_id = handleId;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusError(0, `The media server did not answer "${String(body.janus)}" in time.`));
      }, this.timeoutMs);
      this.pending.set(transaction, { resolve, reject, waitsForEvent: body.janus === "message", timer });
      try {
        this.socket!.send(JSON.stringify(frame));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(transaction);
        reject(new JanusClosed(String(error)));
      }
    });
  }

  /** @internal */
  forget(handle: JanusHandle): void {
    this.handles.delete(handle.id);
  }

  private receive(raw: unknown): void {
    let frame: Frame;
    try {
      frame = JSON.parse(String(raw)) as Frame;
    } catch {
      return;
    }
    const kind = frame.janus;
    const pending = frame.transaction ? this.pending.get(frame.transaction) : undefined;
    if (pending) {
      if (kind === "ack" && pending.waitsForEvent) return; // the answer comes as an event
      this.pending.delete(frame.transaction!);
      clearTimeout(pending.timer);
      if (kind === "error") {
        const error = (frame.error ?? {}) as { code?: number; reason?: string };
        pending.reject(new JanusError(error.code ?? 0, error.reason ?? "The media server refused."));
        return;
      }
      const data = (frame.plugindata as { data?: PluginData } | undefined)?.data;
      if (data && typeof data.error_code === "number") {
        pending.reject(new JanusError(data.error_code, String(data.error ?? "The media server refused.")));
        return;
      }
      pending.resolve(frame);
      return;
    }
    if (kind === "timeout") {
      this.shutdown("session timed out");
      return;
    }
    if (kind === "ack" || kind === "success" || kind === "error" || kind === "server_info") return;
    const handle = typeof frame.sender === "number" ? this.handles.get(frame.sender) : undefined;
    if (!handle) return;
    if (kind === "event") {
      const data = (frame.plugindata as { data?: PluginData } | undefined)?.data ?? {};
      handle.deliver({ kind: "plugin", data, jsep: frame.jsep as Jsep | undefined });
    } else if (kind === "webrtcup" || kind === "hangup" || kind === "media" || kind === "slowlink" || kind === "detached") {
      if (kind === "detached") this.handles.delete(handle.id);
      handle.deliver({ kind, raw: frame });
    }
  }

  private shutdown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new JanusClosed());
    }
    this.pending.clear();
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const listener of listeners) listener(reason);
    if (this.socket) {
      this.socket.onmessage = null;
      this.socket.onclose = null;
      this.socket.onerror = null;
      try {
        this.socket.close(1000);
      } catch {
        /* already closed */
      }
    }
  }
}

/** A plugin handle of a session. */
export class JanusHandle {
  private listeners: ((event: HandleEvent) => void)[] = [];
  private early: HandleEvent[] = [];

  constructor(
    private readonly client: JanusClient,
    readonly id: number,
  ) {}

  /** Sends a message to the plugin (with a JSEP offer or answer); resolves with its answer, rejects
   * with a JanusError carrying the plugin's error_code. */
  async message(body: Record<string, unknown>, jsep?: RTCSessionDescriptionInit | Jsep): Promise<PluginReply> {
    const request: Record<string, unknown> = { janus: "message", body };
    if (jsep) request.jsep = { type: jsep.type, sdp: jsep.sdp };
    const frame = await this.client.send(request, this.id);
    const data = (frame.plugindata as { data?: PluginData } | undefined)?.data ?? {};
    return { data, jsep: frame.jsep as Jsep | undefined };
  }

  /** One ICE candidate of this handle's PeerConnection, or null once gathering completed. */
  trickle(candidate: RTCIceCandidateInit | null): void {
    const body = candidate
      ? { candidate: { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex } }
      : { candidate: { completed: true } };
    this.client.send({ janus: "trickle", ...body }, this.id).catch(() => undefined);
  }

  async detach(): Promise<void> {
    this.listeners = [];
    this.client.forget(this);
    if (!this.client.isOpen) return;
    await this.client.send({ janus: "detach" }, this.id).catch(() => undefined);
  }

  /** Events for this handle; those that came before anyone listened are delivered at once. */
  onEvent(listener: (event: HandleEvent) => void): () => void {
    this.listeners.push(listener);
    const early = this.early;
    this.early = [];
    for (const event of early) listener(event);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** @internal */
  deliver(event: HandleEvent): void {
    if (!this.listeners.length) {
      this.early.push(event);
      return;
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}
