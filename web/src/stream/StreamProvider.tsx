import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { me as meApi } from "../api/endpoints";
import { useAuth } from "../auth/AuthContext";
import { useOrgs } from "../orgs/OrgsContext";
import {
  CURSOR_STORAGE_KEY,
  StreamClient,
  streamUrl,
  type ResyncInfo,
  type SocketFactory,
  type StreamEvent,
  type StreamState,
} from "./StreamClient";

type EventListener = (event: StreamEvent) => void;
/** Fetches an organization's state again; the stream stays "catching up" until it settles. */
type Refetcher = (orgId: string, info: ResyncInfo) => Promise<unknown> | unknown;

interface StreamValue {
  state: StreamState;
  /** Events of every organization, in position order, each once. */
  subscribe: (listener: EventListener) => () => void;
  /** Called when an organization's state must be fetched again over REST (resync). */
  onResync: (refetch: Refetcher) => () => void;
  reconnect: () => void;
  /** A request over the live connection; rejects with status 0 when it is not live (use REST). */
  call: (action: string, orgId: string, params: Record<string, unknown>) => Promise<unknown>;
}

let socketFactory: SocketFactory | undefined;

/** Unit tests hand in a fake WebSocket; the app uses the browser's. */
export function setStreamSocketFactory(factory: SocketFactory | undefined): void {
  socketFactory = factory;
}

function sessionStore() {
  try {
    return typeof sessionStorage !== "undefined" ? sessionStorage : null;
  } catch {
    return null;
  }
}

const StreamContext = createContext<StreamValue | null>(null);

/** One stream per browser tab while signed in. */
export function StreamProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<StreamState>("connecting");
  const refetchers = useRef(new Set<Refetcher>());
  const listeners = useRef(new Set<EventListener>());
  const clientRef = useRef<StreamClient | null>(null);
  const { reload: reloadOrgs } = useOrgs();
  const { account } = useAuth();
  const accountId = account?.id ?? "";
  const reloadOrgsRef = useRef(reloadOrgs);
  reloadOrgsRef.current = reloadOrgs;

  useEffect(() => {
    const client = new StreamClient({
      url: streamUrl(),
      createSocket: socketFactory,
      storage: sessionStore(),
      // Positions belong to the person: another account signing in in this tab starts afresh.
      storageKey: `${CURSOR_STORAGE_KEY}.${accountId}`,
      environment: typeof window !== "undefined" ? window : null,
      isOnline: () => (typeof navigator !== "undefined" ? navigator.onLine !== false : true),
      onResync: (orgId, info) => Promise.allSettled([...refetchers.current].map((refetch) => refetch(orgId, info))),
      // The stream refused the session: a REST call finds out whether it has really ended (a 401
      // there sends the person to sign in).
      onUnauthorized: () => void meApi.get().catch(() => undefined),
      // Removed from an organization while connected: the organization list changes.
      onLeft: () => void reloadOrgsRef.current().catch(() => undefined),
    });
    clientRef.current = client;
    const stopState = client.onStateChange(setState);
    const stopEvents = client.subscribe((event) => {
      for (const listener of [...listeners.current]) listener(event);
    });
    client.start();
    setState(client.getState());
    // For browser tests and troubleshooting: the connection's state and a way to drop it.
    (window as unknown as { tackStream?: unknown }).tackStream = {
      state: () => client.getState(),
      cursors: () => client.getCursors(),
      disconnect: () => client.disconnect(),
      reconnect: () => client.reconnectNow(),
    };
    return () => {
      stopState();
      stopEvents();
      client.stop();
      clientRef.current = null;
      delete (window as unknown as { tackStream?: unknown }).tackStream;
    };
  }, [accountId]);

  const subscribe = useCallback((listener: EventListener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);

  const onResync = useCallback((refetch: Refetcher) => {
    refetchers.current.add(refetch);
    return () => {
      refetchers.current.delete(refetch);
    };
  }, []);

  const reconnect = useCallback(() => clientRef.current?.reconnectNow(), []);

  const call = useCallback(
    (action: string, orgId: string, params: Record<string, unknown>) =>
      clientRef.current
        ? clientRef.current.call(action, orgId, params)
        : Promise.reject(new ApiError(0, "stream_offline", "The live connection is not up.")),
    [],
  );

  const value = useMemo(
    () => ({ state, subscribe, onResync, reconnect, call }),
    [state, subscribe, onResync, reconnect, call],
  );
  return <StreamContext.Provider value={value}>{children}</StreamContext.Provider>;
}

const offline: StreamValue = {
  state: "offline",
  subscribe: () => () => undefined,
  onResync: () => () => undefined,
  reconnect: () => undefined,
  call: () => Promise.reject(new ApiError(0, "stream_offline", "The live connection is not up.")),
};

export function useStream(): StreamValue {
  return useContext(StreamContext) ?? offline;
}

/** Calls `listener` with this organization's events while the component is shown. */
export function useStreamEvents(orgId: string | null | undefined, listener: (event: StreamEvent) => void): void {
  const { subscribe } = useStream();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => {
    if (!orgId) return;
    return subscribe((event) => {
      if (event.org_id === orgId) latest.current(event);
    });
  }, [orgId, subscribe]);
}

/** Calls `refetch` when this organization's state must be fetched again (resync). */
export function useResync(orgId: string | null | undefined, refetch: () => Promise<unknown> | unknown): void {
  const { onResync } = useStream();
  const latest = useRef(refetch);
  latest.current = refetch;
  useEffect(() => {
    if (!orgId) return;
    return onResync((id) => (id === orgId ? latest.current() : undefined));
  }, [orgId, onResync]);
}
