/**
 * My messages on their way to the server. Each send carries a client message id chosen once, so
 * every retry — automatic after a network failure, when the connection comes back, or by the
 * person's click — is answered with the same message: never two.
 *
 * Lives as long as the organization's chat (not a conversation view), so a message that failed
 * stays there, with its retry, when the person looks at another conversation meanwhile.
 */
import { ApiError } from "../api/client";
import type { Message, MessageIn, Upload } from "../api/types";
import { backoffDelay } from "../stream/StreamClient";
import { LOCAL_PREFIX, type ChatMessage } from "./merge";

export interface OutboxTransport {
  send: (conversationId: string, body: MessageIn) => Promise<Message>;
  upload: (file: File) => Promise<Upload>;
}

interface Entry {
  conversationId: string;
  input: MessageIn;
  file: File | null;
  message: ChatMessage;
  attempts: number;
  inFlight: boolean;
  /** Failed for a reason that may pass (network, server trouble): retried when back online. */
  transient: boolean;
}

export type OutboxUpdate =
  | { type: "pending"; conversationId: string; message: ChatMessage }
  | { type: "sent"; conversationId: string; clientMsgId: string; message: Message };

const AUTOMATIC_TRIES = 3;

export function isTransient(error: unknown): boolean {
  return error instanceof ApiError ? error.status === 0 || error.status === 429 || error.status >= 500 : true;
}

export class Outbox {
  private entries = new Map<string, Entry>();
  private listeners = new Set<(update: OutboxUpdate) => void>();

  constructor(
    private readonly transport: OutboxTransport,
    private readonly options: { random?: () => number; online?: () => boolean } = {},
  ) {}

  subscribe(listener: (update: OutboxUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** My unconfirmed messages of a conversation, in the order they were sent. */
  pendingFor(conversationId: string): ChatMessage[] {
    return [...this.entries.values()].filter((e) => e.conversationId === conversationId).map((e) => e.message);
  }

  /** Queue a message (its `message` is the local copy shown meanwhile) and send it. */
  add(conversationId: string, input: MessageIn, message: ChatMessage, file: File | null = null): void {
    const entry: Entry = { conversationId, input: { ...input }, file, message, attempts: 0, inFlight: false, transient: false };
    this.entries.set(input.client_msg_id, entry);
    this.emit({ type: "pending", conversationId, message });
    void this.dispatch(input.client_msg_id);
  }

  /** The person asked to try again. */
  retry(clientMsgId: string): void {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.inFlight) return;
    entry.attempts = 0;
    void this.dispatch(clientMsgId);
  }

  /** The connection is back: try again what failed only for want of it. */
  retryFailed(): void {
    for (const [id, entry] of this.entries) {
      if (!entry.inFlight && entry.message.status === "failed" && entry.transient) this.retry(id);
    }
  }

  /** The message arrived some other way (the stream was faster than the answer). */
  confirmed(message: Message): void {
    const entry = this.entries.get(message.client_msg_id);
    if (entry && entry.message.sender_id === message.sender_id && entry.conversationId === message.conversation_id) {
      this.entries.delete(message.client_msg_id);
    }
  }

  private async dispatch(clientMsgId: string): Promise<void> {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.inFlight) return;
    entry.inFlight = true;
    this.update(entry, { status: "sending", error: undefined });
    try {
      if (entry.file && !entry.input.upload_id) entry.input.upload_id = (await this.transport.upload(entry.file)).id;
      const message = await this.transport.send(entry.conversationId, entry.input);
      this.entries.delete(clientMsgId);
      this.emit({ type: "sent", conversationId: entry.conversationId, clientMsgId, message });
    } catch (error) {
      entry.inFlight = false;
      // Confirmed meanwhile through the stream (the answer was lost, the message was not).
      if (!this.entries.has(clientMsgId)) return;
      entry.transient = isTransient(error);
      const online = this.options.online?.() ?? true;
      if (entry.transient && online && entry.attempts < AUTOMATIC_TRIES - 1) {
        const wait = 500 + backoffDelay(entry.attempts, this.options.random, 1000, 8000);
        entry.attempts += 1;
        setTimeout(() => void this.dispatch(clientMsgId), wait);
        return;
      }
      this.update(entry, { status: "failed", error });
      return;
    }
  }

  private update(entry: Entry, change: Partial<ChatMessage>): void {
    entry.message = { ...entry.message, ...change };
    this.emit({ type: "pending", conversationId: entry.conversationId, message: entry.message });
  }

  private emit(update: OutboxUpdate): void {
    for (const listener of [...this.listeners]) listener(update);
  }
}

/** The local copy of a message I am sending, shown until the server confirms it. */
export function localMessage(
  conversationId: string,
  input: MessageIn,
  sender: { id: string; name: string },
  extra: Partial<ChatMessage> = {},
): ChatMessage {
  return {
    id: `${LOCAL_PREFIX}${input.client_msg_id}`,
    conversation_id: conversationId,
    seq: 0,
    sender_id: sender.id,
    sender_name: sender.name,
    client_msg_id: input.client_msg_id,
    kind: input.kind ?? "text",
    body: input.body ?? null,
    mentions: input.mentions ?? [],
    mention_all: input.mention_all ?? false,
    reactions: [],
    is_ding: false,
    created_at: new Date().toISOString(),
    status: "sending",
    ...extra,
  };
}
