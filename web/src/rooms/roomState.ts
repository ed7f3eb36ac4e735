/**
 * The state of one room as a participant sees it: the join's snapshot with the room's stream events
 * applied on top (docs/rooms.md). Pure functions, no React.
 *
 * - A snapshot is taken at an event-log `position` (and may be a few seconds old; its `events` bring it
 *   up to the answer): only events with
 *   a higher position are applied over it; an event at or below the last applied position is a
 *   replay and changes nothing.
 * - Answers of my own requests (raise a hand, mute someone) carry no position. One is applied only if
 *   no event about the same participant (or the room) came after the request was sent: such an event
 *   already holds the request's effect, or something newer.
 * - A later snapshot (a rejoin after a reconnect) is rebased: the events kept since are applied over it.
 */
import type { Participant, Room, RoomSnapshot } from "../api/types";
import type { StreamEvent } from "../stream/StreamClient";

export interface RoomState {
  room: Room;
  /** Participants by id: everyone the snapshot listed and everyone seen since, also those who left. */
  participants: Record<string, Participant>;
  /** Participant ids in the order they were first seen. */
  order: string[];
  /** Participant ids with a hand up, in the order the hands went up. */
  hands: string[];
  /** Everyone holding a seat or waiting, as the server counts them (the list may be capped). */
  participantCount: number;
  /** The last log position applied. */
  position: number;
  /** Per participant id, the position of the last event that changed them. */
  touched: Record<string, number>;
  /** The position of the last event that changed the room itself. */
  roomTouched: number;
}

export const ROOM_EVENT_KINDS = new Set([
  "room.opened",
  "room.updated",
  "room.ended",
  "room.participant_joined",
  "room.participant_updated",
  "room.participant_left",
  "room.muted_all",
]);

/** The room an event is about, or null when it is not a room event. */
export function roomIdOf(event: StreamEvent): string | null {
  if (!ROOM_EVENT_KINDS.has(event.kind)) return null;
  const data = event.data as { room_id?: unknown; room?: { id?: unknown }; participant?: { room_id?: unknown } };
  const id = data.room_id ?? data.room?.id ?? data.participant?.room_id;
  return typeof id === "string" ? id : null;
}

const isPresent = (p: Participant) => p.state === "joined" || p.state === "waiting";
const isHostRole = (role: string) => role === "host" || role === "cohost";

function withHand(hands: string[], p: Participant): string[] {
  const up = p.hand_raised && isPresent(p);
  const has = hands.includes(p.id);
  if (up && !has) return [...hands, p.id];
  if (!up && has) return hands.filter((id) => id !== p.id);
  return hands;
}

export function fromSnapshot(snapshot: RoomSnapshot): RoomState {
  const participants: Record<string, Participant> = {};
  const order: string[] = [];
  for (const p of snapshot.participants) {
    if (!(p.id in participants)) order.push(p.id);
    participants[p.id] = p;
  }
  // The server's order of hands; anyone it lists without a raised hand is left out.
  const hands = snapshot.hands.filter((id) => participants[id]?.hand_raised !== false);
  for (const p of snapshot.participants) if (p.hand_raised && isPresent(p) && !hands.includes(p.id)) hands.push(p.id);
  return {
    room: snapshot.room,
    participants,
    order,
    hands,
    participantCount: snapshot.participant_count,
    position: snapshot.position,
    touched: {},
    roomTouched: snapshot.position,
  };
}

function putParticipant(state: RoomState, p: Participant, position: number | null): RoomState {
  const known = state.participants[p.id];
  let count = state.participantCount;
  if (!known && isPresent(p)) count += 1;
  else if (known && isPresent(known) && !isPresent(p)) count = Math.max(0, count - 1);
  else if (known && !isPresent(known) && isPresent(p)) count += 1;
  return {
    ...state,
    participants: { ...state.participants, [p.id]: p },
    order: known ? state.order : [...state.order, p.id],
    hands: withHand(state.hands, p),
    participantCount: count,
    touched: position === null ? state.touched : { ...state.touched, [p.id]: position },
  };
}

/** Applies one stream event of this room; anything else (another room, a replay) changes nothing. */
export function applyRoomEvent(state: RoomState, event: StreamEvent): RoomState {
  if (event.position <= state.position) return state;
  if (roomIdOf(event) !== state.room.id) return state;
  const next: RoomState = { ...state, position: event.position };
  const data = event.data as {
    room?: Room;
    participant?: Participant;
    seated?: number;
    muted?: number;
  };
  switch (event.kind) {
    case "room.opened":
    case "room.updated":
    case "room.ended": {
      if (!data.room) return next;
      return { ...next, room: { ...data.room }, roomTouched: event.position };
    }
    case "room.participant_joined":
    case "room.participant_updated":
    case "room.participant_left": {
      if (!data.participant) return next;
      const after = putParticipant(next, data.participant, event.position);
      if (typeof data.seated === "number") return { ...after, room: { ...after.room, seated: data.seated } };
      return after;
    }
    case "room.muted_all": {
      const participants: Record<string, Participant> = {};
      const touched = { ...next.touched };
      for (const [id, p] of Object.entries(next.participants)) {
        if (!isHostRole(p.role) && p.state === "joined" && !p.muted) {
          participants[id] = { ...p, muted: true };
          touched[id] = event.position;
        } else {
          participants[id] = p;
        }
      }
      return { ...next, participants, touched };
    }
    default:
      return next;
  }
}

export function applyRoomEvents(state: RoomState, events: readonly StreamEvent[]): RoomState {
  return [...events].sort((a, b) => a.position - b.position).reduce(applyRoomEvent, state);
}

/** A new snapshot (after a rejoin), with the events seen since it was taken applied on top. */
export function rebase(snapshot: RoomSnapshot, events: readonly StreamEvent[]): RoomState {
  // The answer's own events first make a shared (older) snapshot current; replays change nothing.
  return applyRoomEvents(fromSnapshot(snapshot), [...(snapshot.events ?? []), ...events]);
}

/** A participant as my own request's answer has it: kept only if no event changed them since `sentAt`. */
export function applyParticipantAnswer(state: RoomState, p: Participant, sentAt: number): RoomState {
  if ((state.touched[p.id] ?? 0) > sentAt) return state;
  return putParticipant(state, p, null);
}

/** The room as my own request's answer has it (lock, end): kept unless an event changed it since. */
export function applyRoomAnswer(state: RoomState, room: Room, sentAt: number): RoomState {
  if (state.roomTouched > sentAt) return state;
  return { ...state, room: { ...state.room, ...room } };
}

const ROLE_RANK: Record<string, number> = { host: 0, cohost: 1, presenter: 2, attendee: 3 };

/** Who is in the room now: hosts first, then by the time they came in. */
export function joinedParticipants(state: RoomState): Participant[] {
  return state.order
    .map((id) => state.participants[id])
    .filter((p) => p.state === "joined")
    .sort((a, b) => (ROLE_RANK[a.role] ?? 9) - (ROLE_RANK[b.role] ?? 9) || (a.joined_at ?? "").localeCompare(b.joined_at ?? ""));
}

/** Who waits to be let in, first come first. */
export function waitingParticipants(state: RoomState): Participant[] {
  return state.order.map((id) => state.participants[id]).filter((p) => p.state === "waiting");
}

/** Raised hands in the order they went up. */
export function raisedHands(state: RoomState): Participant[] {
  return state.hands.map((id) => state.participants[id]).filter((p): p is Participant => !!p && p.hand_raised);
}

export function isHost(role: string | null | undefined): boolean {
  return !!role && isHostRole(role);
}

/** Everyone but the hosts muted, as my "mute all" did (unless an event changed them since). */
export function applyMuteAllAnswer(state: RoomState, sentAt: number): RoomState {
  let changed = false;
  const participants: Record<string, Participant> = {};
  for (const [id, p] of Object.entries(state.participants)) {
    if (!isHostRole(p.role) && p.state === "joined" && !p.muted && (state.touched[id] ?? 0) <= sentAt) {
      participants[id] = { ...p, muted: true };
      changed = true;
    } else {
      participants[id] = p;
    }
  }
  return changed ? { ...state, participants } : state;
}
