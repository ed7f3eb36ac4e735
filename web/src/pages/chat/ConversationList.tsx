import {
  ApartmentOutlined,
  PlusOutlined,
  ReadOutlined,
  SearchOutlined,
  TeamOutlined,
  UserAddOutlined,
  UsergroupAddOutlined,
} from "@ant-design/icons";
import { Avatar, Button, Dropdown, Empty, Flex, Input, Skeleton, Typography } from "antd";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import type { Conversation } from "../../api/types";
import { useChat } from "../../chat/ChatContext";
import { previewText, shortTime } from "../../chat/format";
import { ErrorAlert } from "../../components/ErrorAlert";
import { MemberAvatar } from "../../components/MemberList";
import { useI18n } from "../../i18n";
import { useDebounced } from "../../lib/useAsync";
import { MAX_QUERY, MessageSearchResults } from "./MessageSearch";

export function ConversationAvatar({ conversation, size = 40 }: { conversation: Conversation; size?: number }) {
  if (conversation.kind === "direct") {
    return <MemberAvatar name={conversation.name} id={conversation.peer_id ?? conversation.id} size={size} />;
  }
  const icon =
    conversation.kind === "department" ? <ApartmentOutlined /> : conversation.kind === "class" ? <ReadOutlined /> : <TeamOutlined />;
  return <Avatar size={size} shape="square" icon={icon} style={{ background: "#1677ff", flexShrink: 0, borderRadius: 8 }} />;
}

/** My conversations, most recently active first, with unread counts; while something is typed in
 * the search box, the messages matching it instead. */
export function ConversationList({
  selectedId,
  onNew,
}: {
  selectedId: string | null;
  onNew: (kind: "direct" | "group") => void;
}) {
  const { t, lang } = useI18n();
  const chat = useChat();
  const base = `/orgs/${chat.org.id}/chat`;
  const [search, setSearch] = useState("");
  const query = useDebounced(search.trim(), 300);
  // The results replace the list as soon as something is typed; they are fetched once typing stops.
  const searching = search.trim() !== "";
  const [params] = useSearchParams();

  return (
    <div className="tack-conversations">
      <Flex align="center" justify="space-between" className="tack-conversations-head">
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t("chat.title")}
        </Typography.Title>
        <Dropdown
          trigger={["click"]}
          menu={{
            items: [
              { key: "direct", icon: <UserAddOutlined />, label: <span data-testid="new-direct">{t("chat.newDirect")}</span> },
              { key: "group", icon: <UsergroupAddOutlined />, label: <span data-testid="new-group">{t("chat.newGroup")}</span> },
            ],
            onClick: ({ key }) => onNew(key as "direct" | "group"),
          }}
        >
          <Button type="primary" shape="circle" icon={<PlusOutlined />} aria-label={t("chat.newConversation")} title={t("chat.newConversation")} data-testid="new-conversation" />
        </Dropdown>
      </Flex>
      <div className="tack-conversations-search">
        <Input
          allowClear
          prefix={<SearchOutlined style={{ color: "rgba(0, 0, 0, 0.45)" }} />}
          placeholder={t("chat.search.placeholder")}
          aria-label={t("chat.search.placeholder")}
          maxLength={MAX_QUERY}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape") setSearch("");
          }}
          data-testid="message-search"
        />
      </div>
      <div className="tack-conversations-scroll">
        {searching ? (
          query ? (
            <MessageSearchResults
              orgId={chat.org.id}
              me={chat.me}
              query={query}
              pending={query !== search.trim()}
              selectedMessageId={params.get("message")}
            />
          ) : null
        ) : (
          <>
            {chat.error && !chat.conversations.length ? (
              <ErrorAlert error={chat.error} onRetry={() => chat.reload()} style={{ margin: 12 }} />
            ) : null}
            {chat.loading && !chat.conversations.length ? (
              <div style={{ padding: 16 }}>
                <Skeleton avatar active paragraph={{ rows: 1 }} />
                <Skeleton avatar active paragraph={{ rows: 1 }} />
              </div>
            ) : !chat.conversations.length && !chat.error ? (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("chat.noConversations")} style={{ marginTop: 48 }} />
            ) : (
              chat.conversations.map((c) => {
                const group = c.kind !== "direct";
                return (
                  <Link
                    key={c.id}
                    to={`${base}/${c.id}`}
                    className={`tack-conversation${c.id === selectedId ? " is-selected" : ""}`}
                    data-testid="conversation-item"
                    data-conversation-id={c.id}
                    aria-current={c.id === selectedId ? "page" : undefined}
                  >
                    <ConversationAvatar conversation={c} />
                    <div className="tack-conversation-main">
                      <Flex justify="space-between" gap={8} align="baseline">
                        <span className="tack-conversation-name" data-testid="conversation-name">
                          {c.name}
                        </span>
                        <span className="tack-conversation-time">{shortTime(c.last_message?.created_at ?? c.last_activity_at, lang, t)}</span>
                      </Flex>
                      <Flex justify="space-between" gap={8} align="center">
                        <span className="tack-conversation-preview">{previewText(c.last_message, t, chat.me, group)}</span>
                        {c.unread_count > 0 ? (
                          <span className="tack-unread-count" data-testid="conversation-unread" data-count={c.unread_count}>
                            {c.unread_count > 99 ? "99+" : c.unread_count}
                          </span>
                        ) : null}
                      </Flex>
                    </div>
                  </Link>
                );
              })
            )}
            {chat.hasMore ? (
              <Flex justify="center" style={{ padding: 12 }}>
                <Button onClick={chat.loadMore} data-testid="load-more">
                  {t("common.loadMore")}
                </Button>
              </Flex>
            ) : null}
          </>
        )}
      </div>
    </div>
  );
}
