/** Rooms data the tests share: a class of 三年级二班 with its teacher and two students. */
import type { Participant, Room, RoomSnapshot, RoomTicket } from "../api/types";
import type { StreamEvent } from "../stream/StreamClient";

export const ROOM = "R1";
export const CLASS_CONV = "C_CLASS";

export function room(extra: Partial<Room> = {}): Room {
  return {
    id: ROOM,
    org_id: "ORG1",
    kind: "class",
    title: "三年级二班 · 数学",
    conversation_id: CLASS_CONV,
    lesson_id: null,
    host_member_id: "M_TEACHER",
    status: "open",
    scheduled_start: null,
    scheduled_end: null,
    started_at: "2026-03-02T08:00:00Z",
    ended_at: null,
    locked: false,
    waiting_room: false,
    capacity: 300,
    seated: 2,
    my_role: null,
    ...extra,
  };
}

/** Participant `id` (member `M_<id>`), joined at 08:00 plus `n` seconds. */
export function participant(
  id: string,
  name: string,
  extra: Partial<Participant> & { member_id?: string } = {},
  n = 0,
): Participant & { member_id: string } {
  return {
    id,
    room_id: ROOM,
    member_id: `M_${id}`,
    display_name: name,
    role: "attendee",
    state: "joined",
    hand_raised: false,
    hand_raised_at: null,
    muted: false,
    joined_at: new Date(Date.UTC(2026, 2, 2, 8, 0, n)).toISOString(),
    left_at: null,
    ...extra,
  };
}

export const teacher = participant("P_T", "王老师", { role: "host", member_id: "M_TEACHER" });
export const studentA = participant("P_A", "李明", {}, 10);
export const studentB = participant("P_B", "张华", {}, 20);

export function snapshot(extra: Partial<RoomSnapshot> = {}): RoomSnapshot {
  return {
    room: room(),
    participants: [teacher, studentA],
    participant_count: 2,
    hands: [],
    position: 100,
    taken_at: "2026-03-02T08:01:00Z",
    ...extra,
  };
}

export function ticketFor(p: Participant, snap: RoomSnapshot = snapshot(), extra: Partial<RoomTicket> = {}): RoomTicket {
  return {
    ticket: `ticket-${p.id}`,
    expires_at: "2026-03-02T12:00:00Z",
    rejoined: false,
    participant: p,
    snapshot: snap,
    media: { available: false, server: null, room: 734201992, token: null, expires_at: null },
    ...extra,
  };
}

export function roomEvent(position: number, kind: string, data: Record<string, unknown>): StreamEvent {
  return { org_id: "ORG1", position, channel: `conv:${CLASS_CONV}`, kind, data };
}

export const joined = (position: number, p: Participant, seated: number) =>
  roomEvent(position, "room.participant_joined", { room_id: ROOM, participant: p, seated });
export const updated = (position: number, p: Participant) =>
  roomEvent(position, "room.participant_updated", { room_id: ROOM, participant: p });
export const left = (position: number, p: Participant, seated: number) =>
  roomEvent(position, "room.participant_left", { room_id: ROOM, participant: p, seated });
