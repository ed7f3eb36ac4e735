import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { chat } from "../api/endpoints";
import type { Conversation, Ding, Message, MyOrg, ReadState } from "../api/types";
import { useResync, useStream, useStreamEvents } from "../stream/StreamProvider";
import type { StreamEvent } from "../stream/StreamClient";
import {
  applyMessageToConversations,
  applyMyRead,
  applyRecallToConversations,
  mergeConversationLists,
  sortConversations,
  totalUnread,
} from "./merge";
import { Outbox } from "./outbox";

const PAGE_SIZE = 100;

interface ChatValue {
  org: MyOrg;
  /** My member id in this organization. */
  me: string;
  conversations: Conversation[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => Promise<void>;
  unreadTotal: number;
  /** A conversation created or opened here: put it in the list. */
  upsert: (conversation: Conversation) => void;
  /** A conversation I left: take it out of the list. */
  forget: (conversationId: string) => void;
  /** The server's answer to marking read. */
  markedRead: (state: ReadState) => void;
  /** One of my messages, confirmed. */
  sent: (message: Message) => void;
  /** DINGs to me: unacknowledged first. */
  dings: Ding[];
  dingsError: unknown;
  reloadDings: () => Promise<void>;
  acknowledge: (dingId: string) => Promise<void>;
  /** My messages on their way, with their retries. */
  outbox: Outbox;
  /** The conversation shown now (it is being read: its new messages do not count as unread). */
  setOpenConversation: (conversationId: string | null) => void;
}

const ChatContext = createContext<ChatValue | null>(null);

/** What the chat knows about one organization: the conversation list with unread counts, and the
 * DINGs waiting for me. Loaded over REST, kept current by the stream, fetched again on resync. */
export function ChatProvider({ org, children }: { org: MyOrg | null; children: ReactNode }) {
  const orgId = org?.id ?? null;
  const me = org?.member_id ?? "";
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [dings, setDings] = useState<Ding[]>([]);
  const [dingsError, setDingsError] = useState<unknown>(null);
  const generation = useRef(0);
  const openConversation = useRef<string | null>(null);
  const setOpenConversation = useCallback((id: string | null) => {
    openConversation.current = id;
  }, []);
  const latest = useRef({ conversations, dings, error, dingsError });
  latest.current = { conversations, dings, error, dingsError };

  const reload = useCallback(async () => {
    const run = ++generation.current;
    if (!orgId) return;
    setError(null);
    try {
      const page = await chat.conversations(orgId, { limit: PAGE_SIZE });
      if (run !== generation.current) return;
      setConversations((current) => mergeConversationLists(current, page.items));
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      if (run === generation.current) setError(e);
    } finally {
      if (run === generation.current) setLoading(false);
    }
  }, [orgId]);

  const loadMore = useCallback(() => {
    if (!cursor || !orgId) return;
    chat.conversations(orgId, { cursor, limit: PAGE_SIZE }).then(
      (page) => {
        setConversations((current) => {
          const known = new Set(current.map((c) => c.id));
          return sortConversations([...current, ...page.items.filter((c) => !known.has(c.id))]);
        });
        setCursor(page.next_cursor ?? null);
      },
      (e: unknown) => setError(e),
    );
  }, [orgId, cursor]);

  const dingsGeneration = useRef(0);
  const reloadDings = useCallback(async () => {
    const run = ++dingsGeneration.current;
    if (!orgId) return;
    setDingsError(null);
    try {
      const list = await chat.dings(orgId, "inbox");
      if (run === dingsGeneration.current) setDings(list);
    } catch (e) {
      if (run === dingsGeneration.current) setDingsError(e);
    }
  }, [orgId]);

  useEffect(() => {
    // Another organization: start from nothing.
    setConversations([]);
    setCursor(null);
    setDings([]);
    setLoading(true);
    reload().catch(() => undefined);
    reloadDings().catch(() => undefined);
  }, [reload, reloadDings]);

  // Changes that need the list fetched again come in bursts (a department group gains 30 people):
  // one request after the burst.
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const scheduleReload = useCallback(() => {
    if (reloadTimer.current) clearTimeout(reloadTimer.current);
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = null;
      reload().catch(() => undefined);
    }, 300);
  }, [reload]);
  useEffect(() => () => {
    if (reloadTimer.current) clearTimeout(reloadTimer.current);
  }, []);

  // Sent over the live connection when it is up (cheaper and faster than a request of its own),
  // else, or if it drops before answering, over REST: the same client_msg_id makes either one
  // answer with the same message.
  const stream = useStream();
  const streamRef = useRef(stream);
  streamRef.current = stream;
  const outbox = useMemo(
    () =>
      new Outbox(
        {
          send: async (conversationId, body) => {
            const org = orgId ?? "";
            if (streamRef.current.state === "live") {
              try {
                const data = (await streamRef.current.call("chat.send", org, {
                  conversation_id: conversationId,
                  message: body,
                })) as { message: Message };
                return data.message;
              } catch (error) {
                if (!(error instanceof ApiError) || error.status !== 0) throw error;
              }
            }
            return chat.send(org, conversationId, body);
          },
          upload: (file) => chat.upload(orgId ?? "", file),
        },
        { online: () => (typeof navigator === "undefined" ? true : navigator.onLine !== false) },
      ),
    [orgId],
  );
  const onEvent = useCallback(
    (event: StreamEvent) => {
      const data = event.data as Record<string, unknown>;
      switch (event.kind) {
        case "message.created":
        case "message.edited": {
          const message = data.message as Message | undefined;
          if (!message) return;
          if (message.sender_id === me) outbox.confirmed(message);
          if (!latest.current.conversations.some((c) => c.id === message.conversation_id)) {
            scheduleReload();
            return;
          }
          const reading =
            message.conversation_id === openConversation.current &&
            (typeof document === "undefined" || document.visibilityState !== "hidden");
          setConversations((list) => {
            const next = applyMessageToConversations(list, message, me).list;
            // Shown as it arrives, and marked read right after: no unread badge in between.
            return reading ? next.map((c) => (c.id === message.conversation_id ? { ...c, unread_count: 0 } : c)) : next;
          });
          return;
        }
        case "message.recalled":
          setConversations((list) =>
            applyRecallToConversations(list, String(data.conversation_id), String(data.message_id)),
          );
          return;
        case "read.updated":
          if (data.member_id === me) {
            setConversations((list) => applyMyRead(list, String(data.conversation_id), Number(data.read_seq)));
          }
          return;
        case "conversation.left":
          setConversations((list) => list.filter((c) => c.id !== data.conversation_id));
          return;
        case "conversation.updated":
          setConversations((list) =>
            list.map((c) =>
              c.id === data.conversation_id && c.kind !== "direct"
                ? {
                    ...c,
                    name: typeof data.name === "string" ? data.name : c.name,
                    announcement: (data.announcement as string | null | undefined) ?? null,
                  }
                : c,
            ),
          );
          return;
        case "conversation.joined":
        case "conversation.members_added":
        case "conversation.members_removed":
          scheduleReload();
          return;
        case "ding.created": {
          const ding = data.ding as Ding | undefined;
          if (!ding) return;
          setDings((list) => (list.some((d) => d.id === ding.id) ? list : [ding, ...list]));
          return;
        }
        case "ding.reminded":
          // Not acknowledged yet and sent again: it goes back to the top.
          if (!latest.current.dings.some((d) => d.id === data.ding_id)) {
            reloadDings().catch(() => undefined);
            return;
          }
          setDings((list) => {
            const ding = list.find((d) => d.id === data.ding_id);
            return !ding || ding.acknowledged_at ? list : [ding, ...list.filter((d) => d.id !== ding.id)];
          });
          return;
        case "ding.acknowledged":
          if (data.member_id === me) {
            setDings((list) =>
              list.map((d) =>
                d.id === data.ding_id && !d.acknowledged_at
                  ? { ...d, acknowledged_at: String(data.acknowledged_at ?? new Date().toISOString()) }
                  : d,
              ),
            );
          }
          return;
        default:
          return;
      }
    },
    [me, scheduleReload, reloadDings, outbox],
  );

  useEffect(
    () =>
      outbox.subscribe((update) => {
        if (update.type === "sent") setConversations((list) => applyMessageToConversations(list, update.message, me).list);
      }),
    [outbox, me],
  );
  // Back online: what failed for want of a connection is sent again (same client ids: no doubles),
  // and lists that could not be loaded are loaded.
  const streamState = stream.state;
  useEffect(() => {
    if (streamState !== "live") return;
    outbox.retryFailed();
    if (latest.current.error) reload().catch(() => undefined);
    if (latest.current.dingsError) reloadDings().catch(() => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [streamState, outbox]);
  useEffect(() => {
    const retry = () => outbox.retryFailed();
    window.addEventListener("online", retry);
    return () => window.removeEventListener("online", retry);
  }, [outbox]);

  useStreamEvents(orgId, onEvent);
  useResync(orgId, () => Promise.all([reload(), reloadDings()]));

  const upsert = useCallback((conversation: Conversation) => {
    setConversations((list) => sortConversations([conversation, ...list.filter((c) => c.id !== conversation.id)]));
  }, []);

  const forget = useCallback((conversationId: string) => {
    setConversations((list) => list.filter((c) => c.id !== conversationId));
  }, []);

  const markedRead = useCallback((state: ReadState) => {
    setConversations((list) => applyMyRead(list, state.conversation_id, state.read_seq, state.unread_count));
  }, []);

  const sent = useCallback(
    (message: Message) => setConversations((list) => applyMessageToConversations(list, message, me).list),
    [me],
  );

  const acknowledge = useCallback(
    async (dingId: string) => {
      if (!orgId) return;
      const detail = await chat.acknowledge(orgId, dingId);
      setDings((list) =>
        list.map((d) => (d.id === dingId ? { ...d, acknowledged_at: detail.acknowledged_at ?? new Date().toISOString() } : d)),
      );
    },
    [orgId],
  );

  const value = useMemo<ChatValue | null>(
    () => !org ? null : ({
      org,
      me,
      conversations,
      loading,
      error,
      hasMore: !!cursor,
      loadMore,
      reload,
      unreadTotal: totalUnread(conversations),
      upsert,
      forget,
      markedRead,
      sent,
      dings,
      dingsError,
      reloadDings,
      acknowledge,
      outbox,
      setOpenConversation,
    }),
    [org, me, conversations, loading, error, cursor, loadMore, reload, upsert, forget, markedRead, sent, dings, dingsError, reloadDings, acknowledge, outbox, setOpenConversation],
  );
  return <ChatContext.Provider value={value}>{children}</ChatContext.Provider>;
}

export function useChat(): ChatValue {
  const value = useContext(ChatContext);
  if (!value) throw new Error("useChat must be used inside ChatProvider");
  return value;
}

/** The chat of the organization shown, when there is one (the shell outside an organization). */
export function useOptionalChat(): ChatValue | null {
  return useContext(ChatContext);
}
