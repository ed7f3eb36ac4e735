/** A Janus server the tests drive, behind a fake WebSocket: it records what the client sends and
 * answers like Janus would (create, attach, acks), while the test decides the plugin's answers. */
import type { JanusSocket } from "./janus";

export type Sent = Record<string, unknown> & { janus: string; transaction?: string; body?: Record<string, unknown> };

export class FakeJanusSocket implements JanusSocket {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  sent: Sent[] = [];
  closedWith: number | null = null;
  /** Answer create/attach/keepalive/trickle/detach/destroy by themselves. */
  autoAnswer = true;
  private nextId = 1000;
  /** Called for every plugin message (after the ack): the test answers with reply(). */
  onPluginMessage: ((frame: Sent) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {}

  send(data: string): void {
    const frame = JSON.parse(data) as Sent;
    this.sent.push(frame);
    if (!this.autoAnswer) return;
    const t = frame.transaction;
    switch (frame.janus) {
      case "create":
        queueMicrotask(() => this.receive({ janus: "success", transaction: t, data: { id: 1 } }));
        break;
      case "attach":
        queueMicrotask(() => this.receive({ janus: "success", transaction: t, session_id: 1, data: { id: ++this.nextId } }));
        break;
      case "keepalive":
      case "trickle":
        queueMicrotask(() => this.receive({ janus: "ack", transaction: t, session_id: 1 }));
        break;
      case "detach":
      case "destroy":
        queueMicrotask(() => this.receive({ janus: "success", transaction: t, session_id: 1 }));
        break;
      case "message":
        queueMicrotask(() => {
          this.receive({ janus: "ack", transaction: t, session_id: 1 });
          this.onPluginMessage?.(frame);
        });
        break;
    }
  }

  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  // ---- the server's side ----

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The plugin's answer to a message (an event with its transaction). */
  reply(to: Sent, data: Record<string, unknown>, jsep?: Record<string, unknown>): void {
    this.receive({
      janus: "event",
      session_id: 1,
      sender: to.handle_id,
      transaction: to.transaction,
      plugindata: { plugin: "janus.plugin.videoroom", data },
      ...(jsep ? { jsep } : {}),
    });
  }

  /** An event the plugin sends by itself to a handle. */
  event(handleId: number, data: Record<string, unknown>, jsep?: Record<string, unknown>): void {
    this.receive({
      janus: "event",
      session_id: 1,
      sender: handleId,
      plugindata: { plugin: "janus.plugin.videoroom", data },
      ...(jsep ? { jsep } : {}),
    });
  }

  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  messages(request?: string): Sent[] {
    return this.sent.filter((f) => f.janus === "message" && (!request || f.body?.request === request));
  }
}

export function fakeJanusSockets(openAtOnce = true) {
  const sockets: FakeJanusSocket[] = [];
  const create = (url: string, protocol: string) => {
    const socket = new FakeJanusSocket(url, protocol);
    sockets.push(socket);
    if (openAtOnce) queueMicrotask(() => socket.open());
    return socket;
  };
  return { sockets, create, last: () => sockets[sockets.length - 1] };
}
