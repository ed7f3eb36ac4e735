import { CloseOutlined, PaperClipOutlined, SendOutlined } from "@ant-design/icons";
import { Button, Flex, Mentions, Tooltip } from "antd";
import { useEffect, useMemo, useRef, useState } from "react";
import type { ConversationMember } from "../../api/types";
import type { ChatMessage } from "../../chat/merge";
import { useI18n } from "../../i18n";

export interface Draft {
  text: string;
  mentions: string[];
  mentionAll: boolean;
}

const ALL = "__all__";

/** Which of the people picked with @ are still mentioned in the text. */
export function mentionsIn(text: string, picked: Map<string, string>, allLabel: string): Draft {
  const mentions: string[] = [];
  for (const [memberId, name] of picked) {
    if (memberId !== ALL && text.includes(`@${name}`)) mentions.push(memberId);
  }
  return { text, mentions, mentionAll: picked.has(ALL) && text.includes(`@${allLabel}`) };
}

/** The message box: Enter sends, Shift+Enter breaks the line, @ opens a picker of the members. */
export function Composer({
  members,
  me,
  canMentionAll,
  replyTo,
  editing,
  disabled,
  onSend,
  onSaveEdit,
  onCancel,
  onFiles,
  onTyping,
}: {
  members: ConversationMember[];
  me: string;
  canMentionAll: boolean;
  replyTo: ChatMessage | null;
  editing: ChatMessage | null;
  disabled?: boolean;
  onSend: (draft: Draft) => void;
  onSaveEdit: (message: ChatMessage, draft: Draft) => void;
  onCancel: () => void;
  onFiles: (files: File[]) => void;
  onTyping: () => void;
}) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const picked = useRef(new Map<string, string>());
  const fileInput = useRef<HTMLInputElement>(null);
  const box = useRef<{ focus: () => void } | null>(null);
  const allLabel = t("chat.mentionAll");

  // Editing starts from the message's text; replying keeps what was typed.
  useEffect(() => {
    if (editing) {
      setText(editing.body ?? "");
      picked.current = new Map();
    }
    box.current?.focus();
  }, [editing]);
  useEffect(() => {
    if (replyTo) box.current?.focus();
  }, [replyTo]);

  const names = useMemo(() => new Map(members.map((m) => [m.member_id, m.display_name])), [members]);
  // The people of an edited message are mentioned already.
  useEffect(() => {
    if (editing) for (const id of editing.mentions ?? []) if (names.has(id)) picked.current.set(id, names.get(id) as string);
  }, [editing, names]);

  const options = useMemo(() => {
    const list = members
      .filter((m) => m.member_id !== me)
      .map((m) => ({ key: m.member_id, value: m.display_name, label: m.display_name }));
    if (canMentionAll) list.unshift({ key: ALL, value: allLabel, label: `${allLabel} (@all)` });
    return list;
  }, [members, me, canMentionAll, allLabel]);

  const submit = () => {
    const draft = mentionsIn(text, picked.current, allLabel);
    if (!draft.text.trim()) return;
    if (editing) onSaveEdit(editing, draft);
    else onSend(draft);
    setText("");
    picked.current = new Map();
  };

  const context = editing
    ? { title: t("chat.editing"), text: editing.body ?? "" }
    : replyTo
      ? { title: t("chat.replyingTo", { name: replyTo.sender_name }), text: replyTo.body ?? "" }
      : null;

  return (
    <div className="tack-composer">
      {context ? (
        <Flex className="tack-composer-context" align="center" gap={8} data-testid={editing ? "composer-editing" : "composer-reply"}>
          <div style={{ flex: 1, minWidth: 0 }}>
            <strong>{context.title}</strong>
            <div className="tack-composer-context-text">{context.text}</div>
          </div>
          <Button
            size="small"
            type="text"
            icon={<CloseOutlined />}
            aria-label={t("common.cancel")}
            onClick={() => {
              if (editing) setText("");
              onCancel();
            }}
          />
        </Flex>
      ) : null}
      <Flex gap={8} align="flex-end">
        <Tooltip title={t("chat.attach")}>
          <Button
            icon={<PaperClipOutlined />}
            onClick={() => fileInput.current?.click()}
            disabled={disabled || !!editing}
            aria-label={t("chat.attach")}
            data-testid="message-attach"
          />
        </Tooltip>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          data-testid="message-file-input"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = "";
            if (files.length) onFiles(files);
          }}
        />
        <Mentions
          ref={box as never}
          value={text}
          onChange={(value) => {
            setText(value);
            if (value.trim()) onTyping();
          }}
          onSelect={(option) => {
            if (option.key) picked.current.set(String(option.key), String(option.value));
          }}
          options={options}
          filterOption={(input, option) =>
            String(option?.value ?? "").toLowerCase().includes(input.toLowerCase())
          }
          autoSize={{ minRows: 1, maxRows: 6 }}
          placeholder={t("chat.inputPlaceholder")}
          onPressEnter={(e) => {
            const native = e.nativeEvent as KeyboardEvent;
            // Enter while an input method is composing picks the characters; it does not send.
            if (e.shiftKey || native.isComposing || native.keyCode === 229) return;
            e.preventDefault();
            submit();
          }}
          onPaste={(e) => {
            const files = [...e.clipboardData.files];
            if (files.length && !editing) {
              e.preventDefault();
              onFiles(files);
            }
          }}
          disabled={disabled}
          maxLength={10000}
          data-testid="message-input"
          aria-label={t("chat.inputPlaceholder")}
          style={{ flex: 1 }}
          placement="top"
        />
        <Button type="primary" icon={<SendOutlined />} onClick={submit} disabled={disabled || !text.trim()} data-testid="message-send">
          {t("chat.send")}
        </Button>
      </Flex>
    </div>
  );
}
