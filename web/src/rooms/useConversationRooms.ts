import { useCallback, useEffect, useRef, useState } from "react";
import { rooms as roomsApi } from "../api/endpoints";
import type { Room } from "../api/types";
import type { StreamEvent } from "../stream/StreamClient";
import { useResync, useStreamEvents } from "../stream/StreamProvider";

/** Rooms of a group chat that have not ended, soonest first. */
function sortRooms(list: Room[]): Room[] {
  const key = (r: Room) => r.started_at ?? r.scheduled_start ?? "";
  return [...list].sort((a, b) => key(a).localeCompare(key(b)));
}

export function applyConversationRoomEvent(list: Room[], conversationId: string, event: StreamEvent): Room[] {
  const data = event.data as { room?: Room; room_id?: unknown; seated?: unknown };
  switch (event.kind) {
    case "room.opened":
    case "room.scheduled":
    case "room.updated": {
      const room = data.room;
      if (!room || room.conversation_id !== conversationId) return list;
      if (room.status === "ended") return list.filter((r) => r.id !== room.id);
      return sortRooms([...list.filter((r) => r.id !== room.id), room]);
    }
    case "room.ended": {
      const id = data.room?.id ?? data.room_id;
      return list.some((r) => r.id === id) ? list.filter((r) => r.id !== id) : list;
    }
    case "room.participant_joined":
    case "room.participant_left":
      if (typeof data.seated !== "number") return list;
      return list.map((r) => (r.id === data.room_id ? { ...r, seated: data.seated as number } : r));
    default:
      return list;
  }
}

/** The open (and scheduled) rooms of one group chat: fetched over REST, kept current by the group's
 * stream channel (a class start reaches the whole class there), fetched again on resync. */
export function useConversationRooms(orgId: string, conversationId: string | null) {
  const [rooms, setRooms] = useState<Room[]>([]);
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const run = ++generation.current;
    if (!conversationId) {
      setRooms([]);
      return;
    }
    try {
      const list = await roomsApi.list(orgId, { conversation_id: conversationId });
      if (run === generation.current) setRooms(sortRooms(list.filter((r) => r.status !== "ended")));
    } catch {
      // Rooms are an extra of the chat: a server without them, or a failed fetch, shows none.
      if (run === generation.current) setRooms([]);
    }
  }, [orgId, conversationId]);

  useEffect(() => {
    setRooms([]);
    reload().catch(() => undefined);
  }, [reload]);

  useStreamEvents(orgId, (event) => {
    if (!conversationId || !event.kind.startsWith("room.")) return;
    setRooms((list) => applyConversationRoomEvent(list, conversationId, event));
  });
  useResync(orgId, reload);

  /** A room I just started: shown at once, before its event arrives. */
  const add = useCallback((room: Room) => {
    setRooms((list) => (room.status === "ended" ? list : sortRooms([...list.filter((r) => r.id !== room.id), room])));
  }, []);

  return { rooms, reload, add };
}
