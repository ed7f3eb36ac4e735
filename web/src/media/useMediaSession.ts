/**
 * The media of a room for React: asks Tack for a media session, connects to the media server, and
 * reconnects by itself after a network blip (the WebSocket closed, ICE failed) with a backoff and a
 * fresh media session. Stops for good when Tack refuses (403/409: removed, not in the room, ended)
 * or the media server removed us.
 *
 * Someone who does not publish may watch the broadcast instead of the live room: by choice, or by
 * itself when the connection has stayed poor (fallback.ts). The choice holds across reconnects and
 * moves until they go back to the live room.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/client";
import type { MediaSession } from "../api/types";
import { JanusError } from "./janus";
import { JANUS_UNAUTHORIZED_TOKEN, MediaEngine, type DevicePrefs, type EngineState } from "./engine";
import { PoorNetworkWatch } from "./fallback";

export type MediaPhase =
  /** Nothing asked yet (not seated). */
  | "idle"
  | "requesting"
  | "connecting"
  | "connected"
  | "reconnecting"
  | "broadcast"
  | "unavailable"
  /** The media server removed me (kicked). */
  | "kicked"
  /** Tack refused the media session: removed, left, the room ended. */
  | "refused";

/** Why I watch the broadcast although the live room would have me. */
export type WatchReason = "chosen" | "poor_network";

export interface MediaView {
  phase: MediaPhase;
  /** Set while I watch the broadcast by choice or because of my connection (not for a full room). */
  watching: WatchReason | null;
  session: MediaSession | null;
  engine: EngineState | null;
  /** Why media is unavailable: Tack's reason, or "error" when the media server failed. */
  reason: string | null;
}

export interface MediaActions {
  setMic: (on: boolean) => void;
  setCamera: (on: boolean) => void;
  shareScreen: () => void;
  stopShare: () => void;
  setDevice: (kind: "audioinput" | "videoinput", deviceId: string | null) => void;
  retry: () => void;
  /** Watch the broadcast instead of the live room (for people who do not publish). */
  watchBroadcast: () => void;
  /** Back to the live room from the broadcast I chose (or was switched to). */
  backToLive: () => void;
}

export interface UseMediaOptions {
  /** Asks Tack for a media session (the token of the join's ticket the first time); `watch`: the
   * broadcast instead of the live room. */
  request: (token: string | null, watch: boolean) => Promise<MediaSession>;
  /** The media token of the join's ticket. */
  token: string | null;
  /** Whether to have media at all (seated, the room open). */
  enabled: boolean;
  /** Whether a media server answered lately (the join's `media.available`); without one, nothing is
   * asked until retry() or a move. */
  available: boolean;
  /** Muted by a host (Tack's participant): the microphone goes off here too. */
  mutedByHost: boolean;
  /** Changes when my role changes: the media session is asked again (who may publish). */
  roleKey: string;
  /** Changes when the room's media moved to another server (`room.media_moved`): reconnect. */
  moveKey: number;
}

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];
const BROADCAST_POLL_MS = 5000;

export function backoff(attempt: number): number {
  const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
  return base + Math.floor(Math.random() * base * 0.3);
}

/** Tack's answer to a host or presenter asking to watch: they belong in the live room. */
export const WATCH_NOT_ALLOWED = "watch_not_allowed";

/** Refusals of a media session after which asking again cannot help. */
export function isFinalRefusal(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 403 || error.status === 404 || error.status === 409);
}

export function useMediaSession(options: UseMediaOptions): [MediaView, MediaActions] {
  const [view, setView] = useState<MediaView>({ phase: "idle", watching: null, session: null, engine: null, reason: null });
  const engineRef = useRef<MediaEngine | null>(null);
  const prefs = useRef<DevicePrefs>({ micOn: true, camOn: true, audioDeviceId: null, videoDeviceId: null });
  const opts = useRef(options);
  opts.current = options;
  const run = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const attempt = useRef(0);
  const tokenUsed = useRef(false);
  const refreshedAfter433 = useRef(false);
  /** Watching the broadcast by choice or for the connection: asked for with `watch` every time. */
  const watching = useRef<WatchReason | null>(null);
  /** The last answer was the broadcast (a role change then asks again). */
  const onBroadcast = useRef(false);
  const poorNetwork = useRef<PoorNetworkWatch | null>(null);

  const stopEngine = useCallback(() => {
    poorNetwork.current?.stop();
    poorNetwork.current = null;
    const engine = engineRef.current;
    engineRef.current = null;
    void engine?.close();
  }, []);

  const clearTimer = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
  };

  /** Asks for a media session and connects (`again`: after trouble, shown as reconnecting). */
  const connect = useCallback(
    async (again: boolean) => {
      clearTimer();
      stopEngine();
      const mine = ++run.current;
      const current = () => mine === run.current;
      setView((v) => ({ ...v, phase: again ? "reconnecting" : "requesting", engine: again ? v.engine : null }));
      let session: MediaSession;
      const watch = watching.current !== null;
      try {
        // The ticket's token the first time; a fresh one after that (the old one may be revoked).
        const token = tokenUsed.current ? null : opts.current.token;
        tokenUsed.current = true;
        session = await opts.current.request(token, watch);
      } catch (error) {
        if (!current()) return;
        if (watch && error instanceof ApiError && error.code === WATCH_NOT_ALLOWED) {
          // Made presenter meanwhile: the live room it is.
          watching.current = null;
          setView((v) => ({ ...v, watching: null }));
          void connect(again);
          return;
        }
        if (isFinalRefusal(error)) {
          setView({ phase: "refused", watching: null, session: null, engine: null, reason: error instanceof ApiError ? error.code : null });
          return;
        }
        // 503 media_unavailable, the network: try again after a while.
        setView((v) => ({ ...v, phase: again ? "reconnecting" : "unavailable", reason: "error" }));
        scheduleRetry();
        return;
      }
      if (!current()) return;
      onBroadcast.current = session.mode === "broadcast";
      const watchingNow = session.mode === "broadcast" && session.reason === "chosen" ? watching.current : null;
      if (session.mode === "unavailable") {
        setView({ phase: "unavailable", watching: null, session, engine: null, reason: session.reason });
        return;
      }
      if (session.mode === "broadcast") {
        attempt.current = 0;
        setView({ phase: "broadcast", watching: watchingNow, session, engine: null, reason: session.reason });
        if (!session.broadcast) {
          // The teacher does not publish yet: ask again in a while.
          timer.current = setTimeout(() => void connect(false), BROADCAST_POLL_MS);
        }
        return;
      }
      // Someone who does not publish goes to the broadcast once their connection stays poor.
      const poor = new PoorNetworkWatch(() => {
        if (current()) switchToBroadcast("poor_network");
      });
      poorNetwork.current = poor;
      const engine = new MediaEngine(
        session,
        {
          onState: (state) => {
            if (!current()) return;
            poor.observe(state.quality.level, state.status === "connected" && !state.publishing && !session.may_publish);
            setView((v) => ({
              ...v,
              engine: state,
              phase: state.status === "kicked" ? "kicked" : state.status === "connected" ? "connected" : v.phase,
            }));
          },
          onTrouble: () => {
            if (!current()) return;
            stopEngine();
            setView((v) => ({ ...v, phase: "reconnecting" }));
            scheduleRetry();
          },
        },
        { ...prefs.current },
      );
      engineRef.current = engine;
      setView({ phase: again ? "reconnecting" : "connecting", watching: null, session, engine: engine.snapshot, reason: null });
      if (opts.current.mutedByHost) engine.setMutedByHost(true);
      try {
        await engine.start();
        if (!current()) return;
        attempt.current = 0;
        refreshedAfter433.current = false;
      } catch (error) {
        if (!current()) return;
        stopEngine();
        if (error instanceof JanusError && error.code === JANUS_UNAUTHORIZED_TOKEN) {
          // The join token was refused (expired, revoked): ask Tack for a new session, once.
          if (!refreshedAfter433.current) {
            refreshedAfter433.current = true;
            void connect(true);
            return;
          }
          setView({ phase: "refused", watching: null, session: null, engine: null, reason: "janus_433" });
          return;
        }
        setView((v) => ({ ...v, phase: "reconnecting" }));
        scheduleRetry();
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [stopEngine],
  );

  const scheduleRetry = useCallback(() => {
    clearTimer();
    const wait = backoff(attempt.current);
    attempt.current += 1;
    timer.current = setTimeout(() => void connect(true), wait);
  }, [connect]);

  /** To the broadcast, or back to the live room (`null`): a new media session either way. */
  const switchToBroadcast = useCallback(
    (why: WatchReason | null) => {
      watching.current = why;
      attempt.current = 0;
      void connect(false);
    },
    [connect],
  );

  // Start, stop and restart with what the room says.
  const { enabled, available, roleKey, moveKey } = options;
  const started = useRef(false);
  useEffect(() => {
    if (!enabled) {
      run.current += 1;
      clearTimer();
      stopEngine();
      started.current = false;
      setView((v) =>
        v.phase === "kicked" || v.phase === "refused" ? v : { phase: "idle", watching: null, session: null, engine: null, reason: null },
      );
      return;
    }
    if (!available && !started.current && moveKey === 0) {
      setView({ phase: "unavailable", watching: null, session: null, engine: null, reason: "no_media_server" });
      return;
    }
    started.current = true;
    void connect(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, available, moveKey]);

  // A role change: ask again who may publish, and follow it without reconnecting when possible.
  const firstRole = useRef(roleKey);
  useEffect(() => {
    if (firstRole.current === roleKey) return;
    firstRole.current = roleKey;
    const engine = engineRef.current;
    if (!enabled) return;
    if (!engine) {
      // On the broadcast: made presenter, the live room has me now (a full room lets presenters in).
      if (onBroadcast.current) void connect(false);
      return;
    }
    opts.current
      .request(null, false)
      .then((session) => {
        if (engineRef.current === engine && session.mode === "interactive") void engine.setMayPublish(session.may_publish);
      })
      .catch(() => undefined);
  }, [roleKey, enabled]);

  // The host's mute: the microphone goes off here too.
  const { mutedByHost } = options;
  useEffect(() => {
    if (mutedByHost) prefs.current = { ...prefs.current, micOn: false };
    engineRef.current?.setMutedByHost(mutedByHost);
  }, [mutedByHost]);

  useEffect(
    () => () => {
      run.current += 1;
      clearTimer();
      stopEngine();
    },
    [stopEngine],
  );

  const actions: MediaActions = {
    setMic: (on) => {
      prefs.current = { ...prefs.current, micOn: on };
      void engineRef.current?.setMic(on);
    },
    setCamera: (on) => {
      prefs.current = { ...prefs.current, camOn: on };
      void engineRef.current?.setCamera(on);
    },
    shareScreen: () => void engineRef.current?.shareScreen(),
    stopShare: () => void engineRef.current?.stopShare(),
    setDevice: (kind, deviceId) => {
      prefs.current = kind === "audioinput" ? { ...prefs.current, audioDeviceId: deviceId } : { ...prefs.current, videoDeviceId: deviceId };
      void engineRef.current?.setDevice(kind, deviceId);
    },
    retry: () => {
      attempt.current = 0;
      started.current = true;
      void connect(false);
    },
    watchBroadcast: () => switchToBroadcast("chosen"),
    backToLive: () => switchToBroadcast(null),
  };
  return [view, actions];
}
