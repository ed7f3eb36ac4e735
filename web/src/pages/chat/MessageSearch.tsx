import { Button, Empty, Flex, Skeleton } from "antd";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { chat as chatApi } from "../../api/endpoints";
import type { Message, SearchHit } from "../../api/types";
import { plainMarkdown, shortTime } from "../../chat/format";
import { Highlighted, snippetAround } from "../../chat/searchMatch";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";

const PAGE = 20;
/** The server accepts queries up to this length. */
export const MAX_QUERY = 100;

/** The address that opens a conversation at one of its messages (ChatPage reads it). */
export function messageLink(orgId: string, message: Pick<Message, "id" | "conversation_id" | "seq">): string {
  const params = new URLSearchParams({ message: message.id, seq: String(message.seq) });
  return `/orgs/${orgId}/chat/${message.conversation_id}?${params}`;
}

function messageText(message: Message): string {
  const body = message.body ?? "";
  if (message.kind === "markdown") return plainMarkdown(body);
  if (!body && message.file) return message.file.name;
  return body;
}

/** Messages of my conversations matching `query` (already debounced), newest first, paged. */
export function MessageSearchResults({
  orgId,
  me,
  query,
  pending = false,
  selectedMessageId,
}: {
  orgId: string;
  me: string;
  query: string;
  /** The box holds another query already, to be searched once typing stops. */
  pending?: boolean;
  selectedMessageId: string | null;
}) {
  const { t, lang } = useI18n();
  const [items, setItems] = useState<SearchHit[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const current = useRef<AbortController | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    current.current?.abort();
    current.current = abort;
    setLoading(true);
    setError(null);
    setItems([]);
    setCursor(null);
    chatApi.search(orgId, { q: query, limit: PAGE }, abort.signal).then(
      (page) => {
        if (abort.signal.aborted) return;
        setItems(page.items);
        setCursor(page.next_cursor ?? null);
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [orgId, query, attempt]);

  const loadMore = useCallback(() => {
    if (!cursor) return;
    const abort = current.current;
    setLoadingMore(true);
    chatApi
      .search(orgId, { q: query, cursor, limit: PAGE }, abort?.signal)
      .then(
        (page) => {
          if (abort?.signal.aborted) return;
          setItems((list) => {
            const known = new Set(list.map((hit) => hit.message.id));
            return [...list, ...page.items.filter((hit) => !known.has(hit.message.id))];
          });
          setCursor(page.next_cursor ?? null);
        },
        (e: unknown) => {
          if (!abort?.signal.aborted) setError(e);
        },
      )
      .finally(() => setLoadingMore(false));
  }, [orgId, query, cursor]);

  return (
    <div
      className={`tack-search-results${pending ? " is-pending" : ""}`}
      data-testid="search-results"
      aria-busy={loading || pending}
    >
      {error ? (
        <div data-testid="search-error" style={{ margin: 12 }}>
          <ErrorAlert error={error} onRetry={() => setAttempt((n) => n + 1)} />
        </div>
      ) : null}
      {loading ? (
        <div style={{ padding: 16 }}>
          <Skeleton active paragraph={{ rows: 1 }} />
          <Skeleton active paragraph={{ rows: 1 }} />
        </div>
      ) : !items.length && !error ? (
        <Empty
          image={Empty.PRESENTED_IMAGE_SIMPLE}
          description={<span data-testid="search-empty">{t("chat.search.empty", { q: query })}</span>}
          style={{ marginTop: 48 }}
        />
      ) : (
        items.map(({ message, conversation_name }) => {
          const snippet = snippetAround(messageText(message), query);
          const selected = message.id === selectedMessageId;
          return (
            <Link
              key={message.id}
              to={messageLink(orgId, message)}
              className={`tack-search-result${selected ? " is-selected" : ""}`}
              data-testid="search-result"
              data-message-id={message.id}
              data-conversation-id={message.conversation_id}
              aria-current={selected ? "true" : undefined}
            >
              <Flex justify="space-between" gap={8} align="baseline">
                <span className="tack-conversation-name" data-testid="search-result-conversation">
                  {conversation_name}
                </span>
                <span className="tack-conversation-time" data-testid="search-result-time">
                  {shortTime(message.created_at, lang, t)}
                </span>
              </Flex>
              <div className="tack-search-result-text">
                <span className="tack-search-result-sender" data-testid="search-result-sender">
                  {message.sender_id === me ? t("chat.you") : message.sender_name}
                </span>
                <span>: </span>
                <span data-testid="search-result-text">
                  <Highlighted text={snippet.text} ranges={snippet.ranges} />
                </span>
              </div>
            </Link>
          );
        })
      )}
      {cursor && !loading ? (
        <Flex justify="center" style={{ padding: 12 }}>
          <Button onClick={loadMore} loading={loadingMore} data-testid="search-load-more">
            {t("common.loadMore")}
          </Button>
        </Flex>
      ) : null}
    </div>
  );
}
