import { ArrowDownOutlined, ArrowLeftOutlined, BellOutlined, NotificationOutlined, SettingOutlined } from "@ant-design/icons";
import { App as AntApp, Button, Divider, Empty, Flex, Skeleton, Tag, Tooltip, Typography } from "antd";
import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { chat as chatApi } from "../../api/endpoints";
import type { ConversationDetail, ConversationMember, Message, MessageIn } from "../../api/types";
import { useAuth } from "../../auth/AuthContext";
import { useChat } from "../../chat/ChatContext";
import { dayLabel, newClientMsgId } from "../../chat/format";
import { looksLikeMarkdown } from "../../chat/markdown";
import {
  addPending,
  applyReaction,
  applyReadToWatermarks,
  applyRecall,
  countReads,
  isLocal,
  mergeMessages,
  setReactions,
  watermarksOf,
  type ChatMessage,
  type Watermarks,
} from "../../chat/merge";
import { localMessage } from "../../chat/outbox";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { useResync, useStream, useStreamEvents } from "../../stream/StreamProvider";
import type { StreamEvent } from "../../stream/StreamClient";
import { Composer, type Draft } from "./Composer";
import { ConversationAvatar } from "./ConversationList";
import { DingModal } from "./DingModal";
import { GroupSettingsDrawer } from "./GroupSettingsDrawer";
import { MessageItem, type MessageActions } from "./MessageItem";
import { ReadReceipt } from "./ReadReceipts";
import { ChatRoomActions, OpenRoomsBanner } from "../rooms/ChatRoomBar";
import { useConversationRooms } from "../../rooms/useConversationRooms";

const PAGE = 50;
const MEMBER_PAGE = 200;
/** Read receipts are counted here from every member's read position up to this group size. */
const MAX_TRACKED_MEMBERS = 3000;
const TYPING_SHOWN_MS = 6000;
const TYPING_SENT_EVERY_MS = 4000;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"]);
/** History is paged backwards this many messages at a time when looking for a message to show. */
const JUMP_PAGE = 200;
/** Looking for a message stops after this many earlier messages: the view keeps everything it loads. */
const MAX_JUMP_MESSAGES = 5000;
const HIGHLIGHT_MS = 4000;

/** A message to bring into view when the conversation opens (from a search result). `key` changes on
 * every navigation, so choosing the same result again shows it again. */
export interface MessageFocus {
  messageId: string;
  seq: number | null;
  key: string;
}

function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => typeof document === "undefined" || document.visibilityState !== "hidden");
  useEffect(() => {
    const update = () => setVisible(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  return visible;
}

function conversationOf(event: StreamEvent): string | null {
  const data = event.data as { conversation_id?: unknown; message?: { conversation_id?: unknown } };
  const id = data.conversation_id ?? data.message?.conversation_id;
  return typeof id === "string" ? id : null;
}

/** One conversation: its messages (history paged backwards, new ones from the stream), read
 * receipts, replies, edits, recalls, reactions, files, DING, and the message box. */
export function ChatView({
  conversationId,
  onBack,
  focus = null,
}: {
  conversationId: string;
  onBack: () => void;
  focus?: MessageFocus | null;
}) {
  const { t, lang } = useI18n();
  const chat = useChat();
  const { account } = useAuth();
  const { message: toast, modal } = AntApp.useApp();
  const errorText = useErrorText();
  const stream = useStream();
  const orgId = chat.org.id;
  const me = chat.me;
  const conversationRooms = useConversationRooms(orgId, conversationId);

  const [detail, setDetail] = useState<ConversationDetail | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>(() => chat.outbox.pendingFor(conversationId));
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [loadingEarlier, setLoadingEarlier] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [members, setMembers] = useState<ConversationMember[]>([]);
  const [marks, setMarks] = useState<Watermarks | null>(null);
  const [replyTo, setReplyTo] = useState<ChatMessage | null>(null);
  const [editing, setEditing] = useState<ChatMessage | null>(null);
  const [typing, setTyping] = useState<Record<string, number>>({});
  const [dingOpen, setDingOpen] = useState(false);
  const [newBelow, setNewBelow] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [highlighted, setHighlighted] = useState<string | null>(null);
  const scrollTo = useRef<string | null>(null);
  const leaving = useRef(false);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const keepOffset = useRef<number | null>(null);
  const generation = useRef(0);
  const latest = useRef(messages);
  latest.current = messages;
  const hasMoreRef = useRef(hasMore);
  hasMoreRef.current = hasMore;

  // ---- loading ----------------------------------------------------------------------------------

  const loadMembers = useCallback(async () => {
    const all: ConversationMember[] = [];
    let cursor: string | null = null;
    do {
      const page = await chatApi.members(orgId, conversationId, { cursor, limit: MEMBER_PAGE });
      all.push(...page.items);
      cursor = page.next_cursor ?? null;
    } while (cursor && all.length < MAX_TRACKED_MEMBERS);
    setMembers(all);
    setMarks(cursor ? null : watermarksOf(all));
  }, [orgId, conversationId]);

  const load = useCallback(async () => {
    const run = ++generation.current;
    setError(null);
    try {
      const [conversation, page] = await Promise.all([
        chatApi.conversation(orgId, conversationId),
        chatApi.messages(orgId, conversationId, { limit: PAGE }),
      ]);
      if (run !== generation.current) return;
      setDetail(conversation);
      chat.upsert(conversation);
      setMessages((list) => mergeMessages(list, page.items));
      setHasMore(page.has_more);
      setLoading(false);
      await loadMembers();
    } catch (e) {
      if (run !== generation.current) return;
      setError(e);
      setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId, conversationId, loadMembers]);

  useEffect(() => {
    load().catch(() => undefined);
  }, [load]);

  const { setOpenConversation } = chat;
  useEffect(() => {
    setOpenConversation(conversationId);
    return () => setOpenConversation(null);
  }, [conversationId, setOpenConversation]);

  /** After a resync: fetch again everything shown (edits, recalls and reactions included) and
   * whatever came after it, page by page, so no gap is left between what we had and now. */
  const refresh = useCallback(async () => {
    setError(null);
    const confirmed = latest.current.filter((m) => !isLocal(m));
    if (!confirmed.length || confirmed.length > 600) {
      if (confirmed.length) setMessages((list) => list.filter(isLocal));
      return load();
    }
    try {
      setDetail(await chatApi.conversation(orgId, conversationId));
      let after = confirmed[0].seq - 1;
      for (;;) {
        const page = await chatApi.messages(orgId, conversationId, { after, limit: 200 });
        setMessages((list) => mergeMessages(list, page.items));
        if (!page.has_more || !page.items.length) break;
        after = page.items[page.items.length - 1].seq;
      }
      await loadMembers();
    } catch (e) {
      setError(e);
    }
  }, [orgId, conversationId, load, loadMembers]);

  useResync(orgId, refresh);

  // A load that failed for want of a connection is tried again once the stream is back.
  const failed = useRef(false);
  failed.current = !!error;
  useEffect(() => {
    if (stream.state === "live" && failed.current) (detail ? refresh() : load()).catch(() => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stream.state]);

  const loadEarlier = async () => {
    const first = messages.find((m) => !isLocal(m));
    if (!first) return;
    setLoadingEarlier(true);
    try {
      const page = await chatApi.messages(orgId, conversationId, { before: first.seq, limit: PAGE });
      const el = scroller.current;
      keepOffset.current = el ? el.scrollHeight - el.scrollTop : null;
      setMessages((list) => mergeMessages(list, page.items));
      setHasMore(page.has_more);
    } catch (e) {
      toast.error(errorText(e));
    } finally {
      setLoadingEarlier(false);
    }
  };

  // ---- showing one message (a search result) ----------------------------------------------------

  /** Pages back through history until the message is loaded, then scrolls to it and marks it.
   * History is only paged backwards here, so what is shown stays one unbroken run up to now. */
  const showMessage = useCallback(
    async (target: MessageFocus) => {
      const loaded = () => latest.current.some((m) => m.id === target.messageId && !isLocal(m));
      if (!loaded()) {
        let seq = target.seq;
        if (seq === null) seq = (await chatApi.message(orgId, conversationId, target.messageId)).seq;
        let first = latest.current.find((m) => !isLocal(m))?.seq ?? null;
        let more = hasMoreRef.current;
        let fetched = 0;
        let found = false;
        if (first !== null && first > seq && more) setLoadingEarlier(true);
        try {
          while (!found && more && first !== null && first > seq && fetched < MAX_JUMP_MESSAGES) {
            const page = await chatApi.messages(orgId, conversationId, { before: first, limit: JUMP_PAGE });
            if (!page.items.length) break;
            fetched += page.items.length;
            first = page.items[0].seq;
            more = page.has_more;
            found = page.items.some((m) => m.id === target.messageId);
            // The older messages go in above without the view following them to the bottom.
            atBottom.current = false;
            setMessages((list) => mergeMessages(list, page.items));
            setHasMore(page.has_more);
          }
        } finally {
          setLoadingEarlier(false);
        }
        if (!found && !loaded()) {
          toast.info(t("chat.search.tooFar"));
          return;
        }
      }
      atBottom.current = false;
      scrollTo.current = target.messageId;
      setHighlighted(target.messageId);
    },
    [orgId, conversationId, toast, t],
  );

  const shownFocus = useRef<string | null>(null);
  useEffect(() => {
    if (!focus || loading || !detail || shownFocus.current === focus.key) return;
    shownFocus.current = focus.key;
    showMessage(focus).catch((e: unknown) => toast.error(errorText(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focus, loading, detail, showMessage]);

  useEffect(() => {
    if (!highlighted) return;
    const timer = setTimeout(() => setHighlighted(null), HIGHLIGHT_MS);
    return () => clearTimeout(timer);
  }, [highlighted]);

  // ---- the stream -------------------------------------------------------------------------------

  useStreamEvents(orgId, (event) => {
    if (conversationOf(event) !== conversationId) return;
    const data = event.data as Record<string, unknown>;
    switch (event.kind) {
      case "message.created":
      case "message.edited": {
        const message = data.message as Message;
        setMessages((list) => mergeMessages(list, [message]));
        // Sending a message moves its sender's read position to it.
        if (event.kind === "message.created") {
          setMarks((current) => (current ? applyReadToWatermarks(current, message.sender_id, message.seq) : current));
        }
        if (event.kind === "message.created" && message.sender_id !== me) {
          setTyping((current) => {
            if (!(message.sender_id in current)) return current;
            const next = { ...current };
            delete next[message.sender_id];
            return next;
          });
          if (!atBottom.current) setNewBelow(true);
        }
        return;
      }
      case "message.recalled":
        setMessages((list) =>
          applyRecall(list, {
            message_id: String(data.message_id),
            recalled_at: data.recalled_at as string | undefined,
            recalled_by: data.recalled_by as string | undefined,
          }),
        );
        return;
      case "reaction.changed":
        setMessages((list) =>
          applyReaction(
            list,
            {
              message_id: String(data.message_id),
              emoji: String(data.emoji),
              member_id: String(data.member_id),
              added: data.added === true,
            },
            me,
          ),
        );
        return;
      case "read.updated":
        setMarks((current) => (current ? applyReadToWatermarks(current, String(data.member_id), Number(data.read_seq)) : current));
        if (!marks && data.member_id !== me) {
          // Too many members to follow one by one: fetch the counts of my recent messages again.
          scheduleCountsRefresh();
        }
        return;
      case "typing": {
        const who = String(data.member_id);
        if (who === me) return;
        setTyping((current) => {
          const next = { ...current };
          if (data.typing === false) delete next[who];
          else next[who] = Date.now() + TYPING_SHOWN_MS;
          return next;
        });
        return;
      }
      case "conversation.left":
        // Removed from the group, or left it here or elsewhere: nothing here is mine to see any more.
        if (!leaving.current) toast.info(t("chat.group.removedYou"));
        onBack();
        return;
      case "conversation.updated":
      case "conversation.members_added":
      case "conversation.members_removed":
      case "conversation.roles_changed":
        chatApi.conversation(orgId, conversationId).then(setDetail, () => undefined);
        loadMembers().catch(() => undefined);
        return;
      default:
        return;
    }
  });

  const countsTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const scheduleCountsRefresh = () => {
    if (countsTimer.current) return;
    countsTimer.current = setTimeout(() => {
      countsTimer.current = null;
      chatApi.messages(orgId, conversationId, { limit: PAGE }).then(
        (page) => setMessages((list) => mergeMessages(list, page.items)),
        () => undefined,
      );
    }, 1000);
  };
  useEffect(() => () => {
    if (countsTimer.current) clearTimeout(countsTimer.current);
  }, []);

  // Typing notices fade out on their own.
  useEffect(() => {
    const ids = Object.keys(typing);
    if (!ids.length) return;
    const soonest = Math.min(...Object.values(typing));
    const timer = setTimeout(() => {
      const now = Date.now();
      setTyping((current) => Object.fromEntries(Object.entries(current).filter(([, until]) => until > now)));
    }, Math.max(50, soonest - Date.now()));
    return () => clearTimeout(timer);
  }, [typing]);

  // My sends: the outbox tells how they are doing.
  useEffect(
    () =>
      chat.outbox.subscribe((update) => {
        if (update.conversationId !== conversationId) return;
        if (update.type === "pending") {
          setMessages((list) => addPending(list, update.message));
          return;
        }
        // The local preview of an image I sent is no longer needed.
        const local = latest.current.find((m) => m.client_msg_id === update.clientMsgId && isLocal(m));
        if (local?.file?.url.startsWith("blob:")) URL.revokeObjectURL(local.file.url);
        setMessages((list) => mergeMessages(list, [update.message]));
      }),
    [chat.outbox, conversationId],
  );

  // ---- reading ----------------------------------------------------------------------------------

  const visible = usePageVisible();
  const lastSeq = useMemo(() => messages.reduce((max, m) => (isLocal(m) ? max : Math.max(max, m.seq)), 0), [messages]);
  const readSent = useRef(0);
  useEffect(() => {
    if (!detail || !visible) return;
    const target = lastSeq;
    if (target <= Math.max(readSent.current, detail.read_seq)) return;
    const timer = setTimeout(() => {
      const before = readSent.current;
      readSent.current = target;
      chatApi.markRead(orgId, conversationId, target).then(
        (state) => chat.markedRead(state),
        // Not marked (offline): try again when something changes or the connection is back.
        () => {
          if (readSent.current === target) readSent.current = before;
        },
      );
    }, 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [detail, visible, lastSeq, orgId, conversationId, stream.state]);

  // ---- scrolling --------------------------------------------------------------------------------

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (keepOffset.current !== null) {
      el.scrollTop = el.scrollHeight - keepOffset.current;
      keepOffset.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [messages, loading]);

  // After the view has followed its own rules above: bring the message asked for into view.
  useLayoutEffect(() => {
    const id = scrollTo.current;
    const el = id
      ? [...(scroller.current?.querySelectorAll<HTMLElement>("[data-message-id]") ?? [])].find((item) => item.dataset.messageId === id)
      : null;
    if (!el) return;
    scrollTo.current = null;
    // jsdom (unit tests) has no layout and no scrollIntoView.
    el.scrollIntoView?.({ block: "center" });
  }, [messages, loading, highlighted]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (atBottom.current && newBelow) setNewBelow(false);
  };

  const toBottom = () => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setNewBelow(false);
  };

  // ---- sending ----------------------------------------------------------------------------------

  const sender = useMemo(() => ({ id: me, name: account?.name ?? "" }), [me, account]);

  const send = (draft: Draft) => {
    const input: MessageIn = {
      client_msg_id: newClientMsgId(),
      kind: looksLikeMarkdown(draft.text) ? "markdown" : "text",
      body: draft.text,
      mentions: draft.mentions,
      mention_all: draft.mentionAll,
      reply_to_id: replyTo?.id ?? null,
    };
    const local = localMessage(conversationId, input, sender, {
      reply_to: replyTo
        ? {
            id: replyTo.id,
            seq: replyTo.seq,
            sender_id: replyTo.sender_id,
            sender_name: replyTo.sender_name,
            kind: replyTo.kind,
            snippet: (replyTo.body ?? "").slice(0, 100),
            recalled: false,
          }
        : null,
    });
    setReplyTo(null);
    atBottom.current = true;
    chat.outbox.add(conversationId, input, local);
  };

  const sendFiles = (files: File[]) => {
    for (const file of files) {
      const kind = IMAGE_TYPES.has(file.type) ? "image" : "file";
      const input: MessageIn = { client_msg_id: newClientMsgId(), kind, body: null };
      const local = localMessage(conversationId, input, sender, {
        file: { upload_id: "", name: file.name, content_type: file.type, size: file.size, url: kind === "image" ? URL.createObjectURL(file) : "" },
      });
      atBottom.current = true;
      chat.outbox.add(conversationId, input, local, file);
    }
  };

  const saveEdit = (message: ChatMessage, draft: Draft) => {
    setEditing(null);
    chatApi.edit(orgId, conversationId, message.id, { body: draft.text, mentions: draft.mentions }).then(
      (updated) => setMessages((list) => mergeMessages(list, [updated])),
      (e: unknown) => toast.error(errorText(e)),
    );
  };

  const lastTyping = useRef(0);
  const onTyping = () => {
    const now = Date.now();
    if (now - lastTyping.current < TYPING_SENT_EVERY_MS) return;
    lastTyping.current = now;
    chatApi.typing(orgId, conversationId, true).catch(() => undefined);
  };

  const actions = useMemo<MessageActions>(
    () => ({
      onReply: (m) => {
        setEditing(null);
        setReplyTo(m);
      },
      onEdit: (m) => {
        setReplyTo(null);
        setEditing(m);
      },
      onRecall: (m) =>
        modal.confirm({
          title: t("chat.recallConfirm"),
          content: t("chat.recallHint"),
          okText: t("chat.recall"),
          okButtonProps: { danger: true, "data-testid": "recall-confirm" },
          cancelText: t("common.cancel"),
          onOk: () =>
            chatApi.recall(orgId, conversationId, m.id).then(
              (updated) => setMessages((list) => applyRecall(mergeMessages(list, [updated]), { message_id: updated.id, recalled_at: updated.recalled_at, recalled_by: updated.recalled_by })),
              (e: unknown) => toast.error(errorText(e)),
            ),
        }),
      onReact: (m, emoji) =>
        chatApi.react(orgId, conversationId, m.id, emoji).then(
          (result) => setMessages((list) => setReactions(list, result.message_id, result.reactions)),
          (e: unknown) => toast.error(errorText(e)),
        ),
      onRetry: (m) => chat.outbox.retry(m.client_msg_id),
      onJumpTo: (messageId) => {
        const el = scroller.current?.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(messageId)}"]`);
        if (!el) return;
        el.scrollIntoView({ block: "center", behavior: "smooth" });
        el.classList.add("is-flash");
        setTimeout(() => el.classList.remove("is-flash"), 1500);
      },
    }),
    [orgId, conversationId, modal, t, toast, errorText, chat.outbox],
  );

  // ---- showing ----------------------------------------------------------------------------------

  const shown = useMemo(() => (marks ? countReads(messages, marks, me) : messages), [messages, marks, me]);
  const names = useMemo(() => {
    const map = new Map(members.map((m) => [m.member_id, m.display_name]));
    for (const m of messages) if (!map.has(m.sender_id)) map.set(m.sender_id, m.sender_name);
    return map;
  }, [members, messages]);
  const manages = !!detail && detail.kind !== "direct" && (detail.my_role === "owner" || detail.my_role === "admin");
  const direct = detail?.kind === "direct";
  const typingNames = Object.keys(typing).map((id) => names.get(id) ?? "").filter(Boolean);

  if (error && !detail) {
    return (
      <div className="tack-chat-view" style={{ padding: 24 }}>
        <ErrorAlert error={error} onRetry={() => load()} />
      </div>
    );
  }

  return (
    <div className="tack-chat-view" data-testid="chat-view" data-conversation-id={conversationId}>
      <Flex className="tack-chat-head" align="center" gap={12}>
        <Button className="tack-chat-back" type="text" icon={<ArrowLeftOutlined />} onClick={onBack} aria-label={t("chat.back")} />
        {detail ? <ConversationAvatar conversation={detail} size={36} /> : null}
        <div style={{ flex: 1, minWidth: 0 }}>
          <Typography.Text strong className="tack-chat-title" data-testid="chat-title">
            {detail?.name ?? ""}
          </Typography.Text>
          {detail && !direct ? (
            <Typography.Text type="secondary" style={{ marginInlineStart: 8, fontSize: 13 }}>
              {t("chat.memberCount", { count: detail.member_count })}
            </Typography.Text>
          ) : null}
          {detail && detail.kind !== "direct" && detail.kind !== "group" ? (
            <Tag style={{ marginInlineStart: 8 }}>{t(detail.kind === "class" ? "chat.kind.class" : "chat.kind.department")}</Tag>
          ) : null}
        </div>
        {detail && !direct ? <ChatRoomActions org={chat.org} detail={detail} onStarted={conversationRooms.add} /> : null}
        {detail && !direct ? (
          <Tooltip title={t("chat.groupSettings")}>
            <Button
              icon={<SettingOutlined />}
              onClick={() => setSettingsOpen(true)}
              aria-label={t("chat.groupSettings")}
              data-testid="group-settings"
            />
          </Tooltip>
        ) : null}
        <Tooltip title={t("ding.sendTitle")}>
          <Button danger icon={<BellOutlined />} onClick={() => setDingOpen(true)} disabled={!detail} data-testid="ding-send">
            {t("chat.dingTag")}
          </Button>
        </Tooltip>
      </Flex>
      <OpenRoomsBanner orgId={orgId} rooms={conversationRooms.rooms} />
      {detail?.announcement ? (
        <Flex className="tack-announcement" gap={8} align="flex-start">
          <NotificationOutlined style={{ marginTop: 4 }} />
          <span>
            <strong>{t("chat.announcement")}: </strong>
            {detail.announcement}
          </span>
        </Flex>
      ) : null}
      <div className="tack-messages" ref={scroller} onScroll={onScroll} data-testid="message-list">
        {loading ? (
          <div style={{ padding: 24 }}>
            <Skeleton avatar active />
            <Skeleton avatar active />
          </div>
        ) : (
          <>
            {hasMore ? (
              <Flex justify="center" style={{ padding: 8 }}>
                <Button size="small" onClick={loadEarlier} loading={loadingEarlier} data-testid="load-earlier">
                  {t("chat.loadEarlier")}
                </Button>
              </Flex>
            ) : null}
            {error ? <ErrorAlert error={error} onRetry={() => refresh()} style={{ margin: 12 }} /> : null}
            {!shown.length ? <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("chat.noMessages")} style={{ marginTop: 64 }} /> : null}
            {shown.map((m, i) => {
              const previous = shown[i - 1];
              const day = new Date(m.created_at).toDateString();
              const newDay = !previous || new Date(previous.created_at).toDateString() !== day;
              const continued =
                !newDay &&
                !!previous &&
                previous.sender_id === m.sender_id &&
                !previous.recalled_at &&
                !m.recalled_at &&
                !m.reply_to &&
                Date.parse(m.created_at) - Date.parse(previous.created_at) < 3 * 60 * 1000;
              return (
                <Fragment key={m.id}>
                  {newDay ? (
                    <Divider plain className="tack-day">
                      {dayLabel(m.created_at, lang, t)}
                    </Divider>
                  ) : null}
                  <MessageItem
                    message={m}
                    continued={continued}
                    me={me}
                    manages={manages}
                    names={names}
                    actions={actions}
                    highlighted={m.id === highlighted}
                    receipt={m.sender_id === me ? <ReadReceipt orgId={orgId} message={m} direct={direct} marks={marks} /> : null}
                  />
                </Fragment>
              );
            })}
          </>
        )}
      </div>
      {newBelow ? (
        <Button className="tack-new-below" type="primary" shape="round" size="small" icon={<ArrowDownOutlined />} onClick={toBottom} data-testid="new-below">
          {t("chat.newBelow")}
        </Button>
      ) : null}
      <div className="tack-typing" data-testid="typing-indicator" aria-live="polite">
        {typingNames.length === 1 ? t("chat.typing", { name: typingNames[0] }) : typingNames.length > 1 ? t("chat.typingMany") : ""}
      </div>
      <Composer
        members={members}
        me={me}
        canMentionAll={manages}
        replyTo={replyTo}
        editing={editing}
        disabled={!detail}
        onSend={send}
        onSaveEdit={saveEdit}
        onCancel={() => {
          setReplyTo(null);
          setEditing(null);
        }}
        onFiles={sendFiles}
        onTyping={onTyping}
      />
      {detail && !direct ? (
        <GroupSettingsDrawer
          open={settingsOpen}
          onClose={() => setSettingsOpen(false)}
          detail={detail}
          members={members}
          onDetail={(updated) => setDetail(updated)}
          onMembers={(update) => setMembers(update)}
          reloadMembers={loadMembers}
          onLeaving={(value) => {
            leaving.current = value;
          }}
          onLeft={() => {
            setSettingsOpen(false);
            onBack();
          }}
        />
      ) : null}
      <DingModal
        open={dingOpen}
        orgId={orgId}
        conversationId={conversationId}
        members={members}
        me={me}
        onClose={() => setDingOpen(false)}
        onSent={(m) => {
          setMessages((list) => mergeMessages(list, [m]));
          chat.sent(m);
        }}
      />
    </div>
  );
}
