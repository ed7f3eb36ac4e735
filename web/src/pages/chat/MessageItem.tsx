import {
  DeleteOutlined,
  EditOutlined,
  EllipsisOutlined,
  ExclamationCircleFilled,
  FileOutlined,
  LoadingOutlined,
  RollbackOutlined,
  SmileOutlined,
} from "@ant-design/icons";
import { Button, Dropdown, Image, Popover, Tag, Tooltip } from "antd";
import { memo, useState, type ReactNode } from "react";
import type { MessageKey } from "../../i18n";
import { useI18n } from "../../i18n";
import { fileSize, messageTime } from "../../chat/format";
import { renderMessageText, safeUrl } from "../../chat/markdown";
import { isLocal, type ChatMessage } from "../../chat/merge";
import { MemberAvatar } from "../../components/MemberList";

export const QUICK_REACTIONS = ["👍", "❤️", "😄", "🎉", "👀", "🙏", "✅", "😂"];
const EDIT_WINDOW_MS = 24 * 60 * 60 * 1000;

export function withinEditWindow(message: ChatMessage, now = Date.now()): boolean {
  return now - Date.parse(message.created_at) < EDIT_WINDOW_MS;
}

export interface MessageActions {
  onReply: (message: ChatMessage) => void;
  onEdit: (message: ChatMessage) => void;
  onRecall: (message: ChatMessage) => void;
  onReact: (message: ChatMessage, emoji: string) => void;
  onRetry: (message: ChatMessage) => void;
  onJumpTo: (messageId: string) => void;
}

export const MessageItem = memo(function MessageItem({
  message,
  me,
  manages,
  names,
  receipt,
  actions,
  continued = false,
  highlighted = false,
}: {
  message: ChatMessage;
  /** The message a search result or a link pointed to: marked for a moment. */
  highlighted?: boolean;
  /** Follows a message of the same sender a moment ago: no avatar, name and time again. */
  continued?: boolean;
  me: string;
  /** I am a group owner or admin: I may recall anyone's message. */
  manages: boolean;
  /** Member id -> name, for mentions and reactions. */
  names: Map<string, string>;
  /** The read receipt of my message (rendered by the view). */
  receipt: ReactNode;
  actions: MessageActions;
}) {
  const { t, lang } = useI18n();
  const mine = message.sender_id === me;
  const local = isLocal(message);
  const [hover, setHover] = useState(false);
  const [picking, setPicking] = useState(false);

  if (message.recalled_at) {
    const byMe = (message.recalled_by ?? message.sender_id) === me;
    const who = message.recalled_by && message.recalled_by !== message.sender_id ? names.get(message.recalled_by) ?? "" : message.sender_name;
    return (
      <div
        className={`tack-recalled${highlighted ? " is-flash" : ""}`}
        data-testid="message-item"
        data-message-id={message.id}
        data-seq={message.seq}
        data-recalled="true"
        data-highlighted={highlighted ? "true" : undefined}
      >
        {byMe ? t("chat.recalledByMe") : t("chat.recalledBy", { name: who })}
      </div>
    );
  }

  const mentionNames = message.mention_all ? ["all", "所有人", "Everyone"] : [];
  for (const id of message.mentions ?? []) {
    const name = names.get(id);
    if (name) mentionNames.push(name);
  }
  const canEdit = mine && !local && (message.kind === "text" || message.kind === "markdown") && withinEditWindow(message);
  const canRecall = !local && ((mine && withinEditWindow(message)) || manages);
  const more = [
    ...(canEdit ? [{ key: "edit", icon: <EditOutlined />, label: <span data-testid="message-edit">{t("chat.edit")}</span> }] : []),
    ...(canRecall
      ? [{ key: "recall", icon: <DeleteOutlined />, danger: true, label: <span data-testid="message-recall">{t("chat.recall")}</span> }]
      : []),
  ];

  return (
    <div
      className={`tack-message${mine ? " is-mine" : ""}${continued ? " is-continued" : ""}${highlighted ? " is-flash" : ""}`}
      data-testid="message-item"
      data-highlighted={highlighted ? "true" : undefined}
      data-message-id={local ? undefined : message.id}
      data-seq={local ? undefined : message.seq}
      data-client-msg-id={message.client_msg_id}
      data-status={message.status ?? "sent"}
      onMouseEnter={() => setHover(true)}
      onMouseLeave={() => setHover(false)}
      onFocus={() => setHover(true)}
    >
      {!mine ? (
        continued ? <span className="tack-avatar-space" /> : <MemberAvatar name={message.sender_name} id={message.sender_id} size={36} />
      ) : null}
      <div className="tack-message-column">
        {!continued || message.edited_at ? (
          <div className="tack-message-meta">
            {!mine && !continued ? <span className="tack-message-sender">{message.sender_name}</span> : null}
            {!continued ? <span>{messageTime(message.created_at, lang, t)}</span> : null}
            {message.edited_at ? <span>{t("chat.edited")}</span> : null}
          </div>
        ) : null}
        <div className="tack-message-row">
          <div className={`tack-bubble${message.is_ding ? " is-ding" : ""}${message.kind === "image" ? " is-image" : ""}`}>
            {message.is_ding ? (
              <Tag color="red" style={{ marginBottom: 4 }}>
                {t("chat.dingTag")}
              </Tag>
            ) : null}
            {message.reply_to ? (
              <button type="button" className="tack-quote" onClick={() => actions.onJumpTo(message.reply_to!.id)}>
                <span className="tack-quote-sender">{message.reply_to.sender_name}</span>
                <span className="tack-quote-text">
                  {message.reply_to.recalled ? t("chat.quoteRecalled") : quoteSnippet(message.reply_to.snippet, message.reply_to.kind, t)}
                </span>
              </button>
            ) : null}
            <MessageBody message={message} mentionNames={mentionNames} />
          </div>
          {(hover || picking) && !local ? (
            <div className="tack-message-actions">
              <Tooltip title={t("chat.reply")}>
                <Button size="small" type="text" icon={<RollbackOutlined />} onClick={() => actions.onReply(message)} data-testid="message-reply" aria-label={t("chat.reply")} />
              </Tooltip>
              <Popover
                trigger="click"
                open={picking}
                onOpenChange={setPicking}
                content={
                  <div className="tack-emoji-grid">
                    {QUICK_REACTIONS.map((emoji) => (
                      <button
                        key={emoji}
                        type="button"
                        className="tack-emoji"
                        onClick={() => {
                          setPicking(false);
                          actions.onReact(message, emoji);
                        }}
                        data-testid="reaction-option"
                      >
                        {emoji}
                      </button>
                    ))}
                  </div>
                }
              >
                <Button size="small" type="text" icon={<SmileOutlined />} data-testid="message-react" aria-label={t("chat.react")} />
              </Popover>
              {more.length ? (
                <Dropdown
                  trigger={["click"]}
                  menu={{
                    items: more,
                    onClick: ({ key }) => (key === "edit" ? actions.onEdit(message) : actions.onRecall(message)),
                  }}
                >
                  <Button size="small" type="text" icon={<EllipsisOutlined />} data-testid="message-more" aria-label={t("chat.more")} />
                </Dropdown>
              ) : null}
            </div>
          ) : null}
        </div>
        {message.reactions?.length ? (
          <div className="tack-reactions">
            {message.reactions.map((r) => (
              <Tooltip key={r.emoji} title={r.member_ids.map((id) => (id === me ? t("chat.you") : names.get(id) ?? "")).filter(Boolean).join(", ")}>
                <button
                  type="button"
                  className={`tack-reaction${r.me ? " is-mine" : ""}`}
                  onClick={() => actions.onReact(message, r.emoji)}
                  data-testid="reaction"
                  data-emoji={r.emoji}
                  aria-pressed={r.me}
                >
                  {r.emoji} {r.count}
                </button>
              </Tooltip>
            ))}
          </div>
        ) : null}
        {mine ? (
          <div className="tack-message-status">
            {message.status === "sending" ? (
              <span data-testid="message-status" data-status="sending">
                <LoadingOutlined /> {t("chat.sending")}
              </span>
            ) : message.status === "failed" ? (
              <span data-testid="message-status" data-status="failed" className="tack-failed">
                <ExclamationCircleFilled /> {t("chat.failed")}
                <Button size="small" type="link" onClick={() => actions.onRetry(message)} data-testid="message-retry">
                  {t("chat.retry")}
                </Button>
              </span>
            ) : (
              receipt
            )}
          </div>
        ) : null}
      </div>
    </div>
  );
});

function quoteSnippet(snippet: string, kind: string, t: (key: MessageKey, vars?: Record<string, string>) => string): string {
  if (kind === "image") return t("chat.preview.image");
  if (kind === "file") return t("chat.preview.file", { name: snippet.replace(/^\[File\]\s*/, "") });
  return snippet;
}

function MessageBody({ message, mentionNames }: { message: ChatMessage; mentionNames: string[] }) {
  const { t } = useI18n();
  const text = message.body ?? "";
  const rendered = text ? renderMessageText(text, { plain: message.kind !== "markdown", mentionNames }) : null;
  if (message.kind === "image" && message.file) {
    return (
      <>
        <Image
          src={message.file.url}
          alt={message.file.name || t("chat.image")}
          className="tack-image"
          style={{ maxWidth: 260, maxHeight: 260, objectFit: "contain" }}
          data-testid="message-image"
        />
        {rendered}
      </>
    );
  }
  if (message.kind === "file" && message.file) {
    return (
      <>
        <a className="tack-file" href={message.file.url} download={message.file.name} data-testid="message-file" title={t("chat.download")}>
          <FileOutlined style={{ fontSize: 28, color: "#1677ff" }} />
          <span className="tack-file-text">
            <span className="tack-file-name">{message.file.name}</span>
            <span className="tack-file-size">{fileSize(message.file.size)}</span>
          </span>
        </a>
        {rendered}
      </>
    );
  }
  if (message.kind === "link" && message.link) {
    const href = safeUrl(message.link.url);
    const image = message.link.image_url ? safeUrl(message.link.image_url) : null;
    return (
      <>
        {rendered}
        <a className="tack-link-card" href={href ?? undefined} target="_blank" rel="noopener noreferrer" data-testid="message-link-card">
          <span className="tack-link-text">
            <span className="tack-link-title">{message.link.title}</span>
            {message.link.description ? <span className="tack-link-description">{message.link.description}</span> : null}
            <span className="tack-link-host">{hostOf(message.link.url)}</span>
          </span>
          {image ? <img src={image} alt="" className="tack-link-image" referrerPolicy="no-referrer" loading="lazy" /> : null}
        </a>
      </>
    );
  }
  return <div className="tack-message-text" data-testid="message-text">{rendered}</div>;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
