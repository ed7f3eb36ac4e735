import { describe, expect, it } from "vitest";
import {
  ROOM,
  joined,
  left,
  participant,
  room,
  roomEvent,
  snapshot,
  studentA,
  studentB,
  teacher,
  updated,
} from "../test/roomFixtures";
import {
  applyMuteAllAnswer,
  applyParticipantAnswer,
  applyRoomAnswer,
  applyRoomEvent,
  applyRoomEvents,
  fromSnapshot,
  joinedParticipants,
  raisedHands,
  rebase,
  roomIdOf,
  waitingParticipants,
} from "./roomState";

const names = (list: { display_name: string }[]) => list.map((p) => p.display_name);
const raised = (p: typeof studentA, at: string) => ({ ...p, hand_raised: true, hand_raised_at: at });

describe("room state: the join's snapshot with the room's events on top", () => {
  it("brings a shared, older snapshot up to date with the events its answer carries", () => {
    const late = snapshot({
      participants: [teacher],
      participant_count: 1,
      events: [joined(101, studentA, 2), updated(102, raised(studentA, "2026-03-02T08:01:10Z")), joined(103, studentB, 3)],
    });
    // The page's own copy of event 102 (from the stream) changes nothing a second time.
    const state = rebase(late, [updated(102, raised(studentA, "2026-03-02T08:01:10Z"))]);
    expect(names(joinedParticipants(state))).toEqual(["王老师", "李明", "张华"]);
    expect(names(raisedHands(state))).toEqual(["李明"]);
    expect(state.position).toBe(103);
  });

  it("starts from the snapshot: participants, hands in the server's order, count, position", () => {
    const c = participant("P_C", "赵六", { hand_raised: true, hand_raised_at: "2026-03-02T08:00:30Z" }, 30);
    const a = raised(studentA, "2026-03-02T08:00:40Z");
    const state = fromSnapshot(snapshot({ participants: [teacher, a, c], participant_count: 3, hands: ["P_C", "P_A"] }));
    expect(names(joinedParticipants(state))).toEqual(["王老师", "李明", "赵六"]);
    expect(names(raisedHands(state))).toEqual(["赵六", "李明"]);
    expect(state.participantCount).toBe(3);
    expect(state.position).toBe(100);
  });

  it("applies only events above the snapshot's position, each once, whatever order they arrive in", () => {
    let state = fromSnapshot(snapshot());
    // Already in the snapshot (position 100 and below): nothing changes.
    state = applyRoomEvent(state, joined(99, studentB, 3));
    state = applyRoomEvent(state, left(100, studentA, 1));
    expect(names(joinedParticipants(state))).toEqual(["王老师", "李明"]);

    state = applyRoomEvents(state, [updated(103, raised(studentB, "2026-03-02T08:02:00Z")), joined(101, studentB, 3)]);
    expect(names(joinedParticipants(state))).toEqual(["王老师", "李明", "张华"]);
    expect(names(raisedHands(state))).toEqual(["张华"]);
    expect(state.room.seated).toBe(3);
    expect(state.participantCount).toBe(3);
    expect(state.position).toBe(103);

    // A replay of what was applied changes nothing.
    const again = applyRoomEvents(state, [joined(101, studentB, 3), updated(103, raised(studentB, "x"))]);
    expect(again).toBe(state);
  });

  it("keeps raised hands in the order they went up, and takes them down when lowered or when people leave", () => {
    let state = fromSnapshot(snapshot({ participants: [teacher, studentA, studentB], participant_count: 3 }));
    state = applyRoomEvent(state, updated(101, raised(studentB, "2026-03-02T08:03:00Z")));
    state = applyRoomEvent(state, updated(102, raised(studentA, "2026-03-02T08:03:05Z")));
    expect(names(raisedHands(state))).toEqual(["张华", "李明"]);
    // The teacher lowers 张华's hand: 李明 is first now.
    state = applyRoomEvent(state, updated(103, { ...studentB, hand_raised: false }));
    expect(names(raisedHands(state))).toEqual(["李明"]);
    // 张华 raises again: behind 李明.
    state = applyRoomEvent(state, updated(104, raised(studentB, "2026-03-02T08:04:00Z")));
    expect(names(raisedHands(state))).toEqual(["李明", "张华"]);
    // 李明 leaves with the hand up: gone from the hands and from the room.
    state = applyRoomEvent(state, left(105, { ...raised(studentA, "x"), state: "left" }, 2));
    expect(names(raisedHands(state))).toEqual(["张华"]);
    expect(names(joinedParticipants(state))).toEqual(["王老师", "张华"]);
    expect(state.participantCount).toBe(2);
    expect(state.room.seated).toBe(2);
  });

  it("mutes everyone but the hosts on muted_all; single mutes follow participant_updated", () => {
    const cohost = participant("P_CO", "陈助教", { role: "cohost" });
    let state = fromSnapshot(snapshot({ participants: [teacher, cohost, studentA, studentB], participant_count: 4 }));
    state = applyRoomEvent(state, roomEvent(101, "room.muted_all", { room_id: ROOM, muted: 2 }));
    const muted = Object.fromEntries(Object.values(state.participants).map((p) => [p.display_name, p.muted]));
    expect(muted).toEqual({ 王老师: false, 陈助教: false, 李明: true, 张华: true });
    state = applyRoomEvent(state, updated(102, { ...studentA, muted: false }));
    expect(state.participants.P_A.muted).toBe(false);
  });

  it("follows the room: lock, title, end; a removed participant shows as removed", () => {
    let state = fromSnapshot(snapshot());
    state = applyRoomEvent(state, roomEvent(101, "room.updated", { room: room({ locked: true, title: "数学（补课）" }) }));
    expect(state.room.locked).toBe(true);
    expect(state.room.title).toBe("数学（补课）");
    state = applyRoomEvent(state, left(102, { ...studentA, state: "removed" }, 1));
    expect(state.participants.P_A.state).toBe("removed");
    expect(names(joinedParticipants(state))).toEqual(["王老师"]);
    state = applyRoomEvent(state, roomEvent(103, "room.ended", { room: room({ status: "ended", ended_at: "2026-03-02T08:45:00Z", seated: 0 }) }));
    expect(state.room.status).toBe("ended");
  });

  it("ignores events of other rooms and other kinds", () => {
    const state = fromSnapshot(snapshot());
    const other = { ...joined(101, { ...studentB, room_id: "R2" }, 1), data: { room_id: "R2", participant: { ...studentB, room_id: "R2" }, seated: 1 } };
    expect(applyRoomEvent(state, other).participants.P_B).toBeUndefined();
    expect(roomIdOf(roomEvent(101, "message.created", { room_id: ROOM }))).toBeNull();
    expect(roomIdOf(roomEvent(101, "room.ended", { room: room() }))).toBe(ROOM);
  });

  it("lists the waiting room first come first", () => {
    const w1 = participant("P_W1", "孙一", { state: "waiting" });
    const w2 = participant("P_W2", "孙二", { state: "waiting" });
    let state = fromSnapshot(snapshot({ participants: [teacher, w1], participant_count: 2 }));
    state = applyRoomEvent(state, updated(101, w2));
    expect(names(waitingParticipants(state))).toEqual(["孙一", "孙二"]);
    state = applyRoomEvent(state, joined(102, { ...w1, state: "joined" }, 2));
    expect(names(waitingParticipants(state))).toEqual(["孙二"]);
    expect(names(joinedParticipants(state))).toEqual(["王老师", "孙一"]);
  });

  it("applies my own request's answer unless an event about the same person came after it was sent", () => {
    let state = fromSnapshot(snapshot({ participants: [teacher, studentA, studentB], participant_count: 3 }));
    // I raise my hand at position 100; the answer comes before any event: applied.
    const sentAt = state.position;
    state = applyParticipantAnswer(state, raised(studentA, "2026-03-02T08:05:00Z"), sentAt);
    expect(names(raisedHands(state))).toEqual(["李明"]);
    // The event of the raise (101), then the teacher lowering it (102); a late answer of a second
    // request sent at 100 must not bring the hand back up.
    state = applyRoomEvent(state, updated(101, raised(studentA, "2026-03-02T08:05:00Z")));
    state = applyRoomEvent(state, updated(102, { ...studentA, hand_raised: false }));
    state = applyParticipantAnswer(state, raised(studentA, "2026-03-02T08:05:00Z"), sentAt);
    expect(raisedHands(state)).toEqual([]);
    // The room likewise: an answer older than the last room event is not applied.
    state = applyRoomEvent(state, roomEvent(103, "room.updated", { room: room({ locked: true }) }));
    expect(applyRoomAnswer(state, room({ locked: false }), 102).room.locked).toBe(true);
    expect(applyRoomAnswer(state, room({ locked: false }), 103).room.locked).toBe(false);
    // Mute all: everyone not changed since.
    const muted = applyMuteAllAnswer(state, 103);
    expect(muted.participants.P_A.muted).toBe(true);
    expect(applyMuteAllAnswer(state, 101).participants.P_A.muted).toBe(false);
  });

  it("rebases a later snapshot (a rejoin) on the events seen since it was taken", () => {
    const events = [joined(101, studentB, 3), updated(102, raised(studentB, "2026-03-02T08:06:00Z"))];
    let state = applyRoomEvents(fromSnapshot(snapshot()), events);
    // The rejoin's snapshot was taken at 101: it has 张华 but not the hand.
    const later = snapshot({ participants: [teacher, studentA, studentB], participant_count: 3, position: 101 });
    state = rebase(later, events);
    expect(names(raisedHands(state))).toEqual(["张华"]);
    expect(state.position).toBe(102);
    expect(names(joinedParticipants(state))).toEqual(["王老师", "李明", "张华"]);
  });
});
