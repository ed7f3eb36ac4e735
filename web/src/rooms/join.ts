/**
 * Joining a room through the server's admission line (docs/rooms.md, "Admission").
 *
 * - 429 `busy` (503 from older servers or a proxy): the server says where we are in line (`details.position`) and when to come back
 *   (`details.retry_after`, also Retry-After). We wait that long plus a little random jitter (so a
 *   crowd that was turned away together does not come back together) and try again, until it works,
 *   fails for another reason, or the person cancels.
 * - The join's ticket is kept per room in sessionStorage (it survives a reload of the tab) and sent
 *   back with every later join of that room: it proves a seat is held and goes to the front of the line.
 * - A ticket the server no longer accepts (`ticket_expired`, `ticket_invalid`) is dropped and the join
 *   is made again without one.
 *
 * Framework-free; the room page shows the waiting state it reports.
 */
import { ApiError } from "../api/client";
import type { RoomTicket } from "../api/types";

export const TICKET_STORAGE_PREFIX = "tack.room.ticket.";
/** Guests' tickets, per guest code (the guest page). */
export const GUEST_TICKET_STORAGE_PREFIX = "tack.guest.ticket.";
/** Waited when the server asks us to wait but does not say how long. */
export const DEFAULT_RETRY_SECONDS = 2;
/** The jitter added to the server's wait: a random share of it up to this fraction, at least MIN. */
export const JITTER_FRACTION = 0.25;
export const MIN_JITTER_MS = 500;

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function sessionStore(): StorageLike | null {
  try {
    return typeof sessionStorage !== "undefined" ? sessionStorage : null;
  } catch {
    return null;
  }
}

/** Tickets kept per room, for rejoining after a reload or a dropped connection. */
export class TicketStore {
  constructor(
    private readonly storage: StorageLike | null = sessionStore(),
    private readonly prefix: string = TICKET_STORAGE_PREFIX,
  ) {}

  get(roomId: string): string | null {
    try {
      const raw = this.storage?.getItem(this.prefix + roomId);
      if (!raw) return null;
      const parsed = JSON.parse(raw) as { ticket?: unknown };
      return typeof parsed.ticket === "string" && parsed.ticket ? parsed.ticket : null;
    } catch {
      return null;
    }
  }

  set(roomId: string, ticket: string, expiresAt: string | null = null): void {
    try {
      this.storage?.setItem(this.prefix + roomId, JSON.stringify({ ticket, expires_at: expiresAt }));
    } catch {
      /* storage full or unavailable: the ticket lasts for this page only */
    }
  }

  clear(roomId: string): void {
    try {
      this.storage?.removeItem(this.prefix + roomId);
    } catch {
      /* nothing kept */
    }
  }
}

export interface JoinWaiting {
  /** Our place in line, as the server said (1 is next); null when it did not say. */
  position: number | null;
  /** How long until the next try (the server's wait plus jitter). */
  retryInMs: number;
  /** When the next try is made (Date.now() based). */
  retryAt: number;
  /** `queue_full` or `queue_timeout`, when the server said. */
  reason: string | null;
  /** How many times we have been turned away so far. */
  attempt: number;
}

export interface JoinOptions {
  roomId: string;
  /** The request itself: POST .../rooms/{room}/join with the ticket when there is one. */
  join: (ticket: string | null, signal: AbortSignal | undefined) => Promise<RoomTicket>;
  tickets?: TicketStore;
  /** Called each time the server turns us away with `busy`, before waiting. */
  onWaiting?: (waiting: JoinWaiting) => void;
  /** Called when a try starts (after a wait). */
  onAttempt?: (attempt: number) => void;
  /** Cancels the waiting and the request on its way; the promise then rejects with an AbortError. */
  signal?: AbortSignal;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function abortError(): DOMException {
  return new DOMException("The join was cancelled.", "AbortError");
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** Waits `ms`, or rejects with an AbortError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The wait before the next try after a `busy` answer: the server's Retry-After plus jitter. */
export function busyDelayMs(retryAfterSeconds: number | null, random: () => number = Math.random): number {
  const base = Math.max(0, retryAfterSeconds ?? DEFAULT_RETRY_SECONDS) * 1000;
  const spread = Math.max(MIN_JITTER_MS, base * JITTER_FRACTION);
  return Math.round(base + random() * spread);
}

function busyDetails(error: ApiError): { position: number | null; retryAfter: number | null; reason: string | null } {
  const details = (error.details ?? {}) as { position?: unknown; retry_after?: unknown; reason?: unknown };
  const position = typeof details.position === "number" ? details.position : null;
  const retryAfter = typeof details.retry_after === "number" ? details.retry_after : error.retryAfter;
  const reason = typeof details.reason === "string" ? details.reason : null;
  return { position, retryAfter, reason };
}

export const isBusy = (error: unknown): error is ApiError =>
  error instanceof ApiError && (error.status === 429 || error.status === 503) && error.code === "busy";

const TICKET_REFUSED = new Set(["ticket_expired", "ticket_invalid"]);

/** Joins the room, waiting in line as long as the server asks; keeps the ticket it gets. */
export async function joinRoom(options: JoinOptions): Promise<RoomTicket> {
  const tickets = options.tickets ?? new TicketStore();
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  const { roomId, signal } = options;
  let attempt = 0;
  let busyCount = 0;
  for (;;) {
    if (signal?.aborted) throw abortError();
    attempt += 1;
    options.onAttempt?.(attempt);
    const ticket = tickets.get(roomId);
    try {
      const answer = await options.join(ticket, signal);
      tickets.set(roomId, answer.ticket, answer.expires_at ?? null);
      return answer;
    } catch (error) {
      if (isAbort(error) || signal?.aborted) throw abortError();
      if (error instanceof ApiError && TICKET_REFUSED.has(error.code) && ticket) {
        // The seat it proved is gone (or it was never ours): join as a newcomer.
        tickets.clear(roomId);
        continue;
      }
      if (!isBusy(error)) throw error;
      busyCount += 1;
      const { position, retryAfter, reason } = busyDetails(error);
      const delay = busyDelayMs(retryAfter, random);
      options.onWaiting?.({ position, retryInMs: delay, retryAt: now() + delay, reason, attempt: busyCount });
      await wait(delay, signal);
    }
  }
}
