import { createContext, useCallback, useContext, useEffect, useMemo, useRef, type ReactNode } from "react";
import type { StreamEvent } from "../stream/StreamClient";
import { useStream } from "../stream/StreamProvider";
import { roomIdOf } from "./roomState";

/** How many recent room events are kept, across rooms. */
const KEPT = 2000;

interface RoomEventsValue {
  /** The room's events seen lately, in position order (also from before its page was opened). */
  recent: (orgId: string, roomId: string) => StreamEvent[];
}

const RoomEventsContext = createContext<RoomEventsValue | null>(null);

/** Keeps the room events the stream delivered lately, whatever page is shown. A join's snapshot may
 * be up to a second old (docs/rooms.md): the events above its position may have arrived while the
 * person was still in the group chat, before the room's page was there to hear them. */
export function RoomEventsProvider({ children }: { children: ReactNode }) {
  const { subscribe } = useStream();
  const kept = useRef<StreamEvent[]>([]);

  useEffect(
    () =>
      subscribe((event) => {
        if (roomIdOf(event) === null) return;
        kept.current.push(event);
        if (kept.current.length > KEPT) kept.current.splice(0, kept.current.length - KEPT);
      }),
    [subscribe],
  );

  const recent = useCallback(
    (orgId: string, roomId: string) => kept.current.filter((e) => e.org_id === orgId && roomIdOf(e) === roomId),
    [],
  );
  const value = useMemo(() => ({ recent }), [recent]);
  return <RoomEventsContext.Provider value={value}>{children}</RoomEventsContext.Provider>;
}

const none: RoomEventsValue = { recent: () => [] };

export function useRoomEvents(): RoomEventsValue {
  return useContext(RoomEventsContext) ?? none;
}
