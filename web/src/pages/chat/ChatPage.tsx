import { MessageOutlined } from "@ant-design/icons";
import { Empty } from "antd";
import { useMemo, useState } from "react";
import { useLocation, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { useChat } from "../../chat/ChatContext";
import { useI18n } from "../../i18n";
import { ChatView, type MessageFocus } from "./ChatView";
import { ConversationList } from "./ConversationList";
import { NewConversationModal } from "./NewConversationModal";

/** Messages: the conversation list (or message search results) on the left, the open conversation on
 * the right (one at a time on a phone). `?message=ID&seq=N` opens the conversation at that message. */
export function ChatPage() {
  const { conversationId } = useParams();
  const { t } = useI18n();
  const chat = useChat();
  const navigate = useNavigate();
  const [creating, setCreating] = useState<"direct" | "group" | null>(null);
  const [params] = useSearchParams();
  const { key: navigationKey } = useLocation();
  const focusId = params.get("message");
  const focusSeq = Number(params.get("seq"));
  const focus = useMemo<MessageFocus | null>(
    () =>
      focusId
        ? { messageId: focusId, seq: Number.isInteger(focusSeq) && focusSeq > 0 ? focusSeq : null, key: navigationKey }
        : null,
    [focusId, focusSeq, navigationKey],
  );

  return (
    <div className={`tack-chat${conversationId ? " has-open" : ""}`} data-testid="chat-page">
      <ConversationList selectedId={conversationId ?? null} onNew={setCreating} />
      {conversationId ? (
        <ChatView
          key={conversationId}
          conversationId={conversationId}
          focus={focus}
          onBack={() => navigate(`/orgs/${chat.org.id}/chat`)}
        />
      ) : (
        <div className="tack-chat-view tack-chat-placeholder">
          <Empty image={<MessageOutlined style={{ fontSize: 56, color: "#bfbfbf" }} />} description={t("chat.pickConversation")} />
        </div>
      )}
      <NewConversationModal kind={creating} onKind={setCreating} onClose={() => setCreating(null)} />
    </div>
  );
}
