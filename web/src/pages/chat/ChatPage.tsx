import { MessageOutlined } from "@ant-design/icons";
import { Empty } from "antd";
import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { useChat } from "../../chat/ChatContext";
import { useI18n } from "../../i18n";
import { ChatView } from "./ChatView";
import { ConversationList } from "./ConversationList";
import { NewConversationModal } from "./NewConversationModal";

/** Messages: the conversation list on the left, the open conversation on the right (one at a
 * time on a phone). */
export function ChatPage() {
  const { conversationId } = useParams();
  const { t } = useI18n();
  const chat = useChat();
  const navigate = useNavigate();
  const [creating, setCreating] = useState<"direct" | "group" | null>(null);

  return (
    <div className={`tack-chat${conversationId ? " has-open" : ""}`} data-testid="chat-page">
      <ConversationList selectedId={conversationId ?? null} onNew={setCreating} />
      {conversationId ? (
        <ChatView key={conversationId} conversationId={conversationId} onBack={() => navigate(`/orgs/${chat.org.id}/chat`)} />
      ) : (
        <div className="tack-chat-view tack-chat-placeholder">
          <Empty image={<MessageOutlined style={{ fontSize: 56, color: "#bfbfbf" }} />} description={t("chat.pickConversation")} />
        </div>
      )}
      <NewConversationModal kind={creating} onKind={setCreating} onClose={() => setCreating(null)} />
    </div>
  );
}
