import { Col, Empty, Popover, Row, Spin, Typography } from "antd";
import { useEffect, useMemo, useState } from "react";
import { chat as chatApi } from "../../api/endpoints";
import type { MemberBrief, Receipts } from "../../api/types";
import type { ChatMessage, Watermarks } from "../../chat/merge";
import { ErrorAlert } from "../../components/ErrorAlert";
import { MemberAvatar } from "../../components/MemberList";
import { useI18n } from "../../i18n";

/** "3 unread" / "All read" under my message; a click lists who has read it and who has not, and
 * the lists follow the read positions live while open. */
export function ReadReceipt({
  orgId,
  message,
  direct,
  marks,
}: {
  orgId: string;
  message: ChatMessage;
  direct: boolean;
  marks: Watermarks | null;
}) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const read = message.read_count ?? 0;
  const unread = message.unread_count ?? 0;
  if (message.read_count === undefined || message.read_count === null) return null;
  const label = direct ? (unread > 0 ? t("chat.unread") : t("chat.read")) : unread > 0 ? t("chat.unreadBy", { count: unread }) : t("chat.allRead");
  return (
    <Popover
      open={open}
      onOpenChange={setOpen}
      trigger="click"
      placement="leftBottom"
      title={t("chat.receiptsTitle")}
      content={open ? <ReceiptDetails orgId={orgId} message={message} marks={marks} /> : null}
      destroyOnHidden
    >
      <button
        type="button"
        className={`tack-read-count${unread > 0 ? "" : " is-all-read"}`}
        data-testid="read-count"
        data-read={read}
        data-unread={unread}
      >
        {label}
      </button>
    </Popover>
  );
}

function ReceiptDetails({ orgId, message, marks }: { orgId: string; message: ChatMessage; marks: Watermarks | null }) {
  const { t } = useI18n();
  const [receipts, setReceipts] = useState<Receipts | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The counts on the message move with the stream; the lists are fetched again when they do,
  // unless the read positions already tell who moved.
  const countsKey = `${message.read_count}/${message.unread_count}`;

  useEffect(() => {
    const abort = new AbortController();
    chatApi.receipts(orgId, message.conversation_id, message.id, abort.signal).then(
      (r) => setReceipts(r),
      (e: unknown) => {
        if (!(e instanceof DOMException && e.name === "AbortError")) setError(e);
      },
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId, message.conversation_id, message.id, marks ? "" : countsKey]);

  const lists = useMemo(() => {
    if (!receipts) return null;
    if (!marks) return { read: receipts.read, unread: receipts.unread };
    const moved = receipts.unread.filter((m) => (marks.get(m.member_id)?.read_seq ?? 0) >= message.seq);
    if (!moved.length) return { read: receipts.read, unread: receipts.unread };
    const ids = new Set(moved.map((m) => m.member_id));
    return { read: [...receipts.read, ...moved], unread: receipts.unread.filter((m) => !ids.has(m.member_id)) };
  }, [receipts, marks, message.seq]);

  return (
    <div data-testid="read-details" style={{ width: 360, maxWidth: "80vw" }}>
      {error ? <ErrorAlert error={error} /> : null}
      {!lists && !error ? <Spin size="small" /> : null}
      {lists ? (
        <Row gutter={16}>
          <Col span={12} data-testid="read-details-unread">
            <Typography.Text type="secondary">{t("chat.unreadList", { count: lists.unread.length })}</Typography.Text>
            <PeopleList people={lists.unread} emptyText={t("chat.nobody")} />
          </Col>
          <Col span={12} data-testid="read-details-read">
            <Typography.Text type="secondary">{t("chat.readList", { count: lists.read.length })}</Typography.Text>
            <PeopleList people={lists.read} emptyText={t("chat.nobody")} />
          </Col>
        </Row>
      ) : null}
    </div>
  );
}

function PeopleList({ people, emptyText }: { people: MemberBrief[]; emptyText: string }) {
  if (!people.length) return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={emptyText} style={{ margin: "8px 0" }} />;
  return (
    <div className="tack-receipt-list">
      {people.map((p) => (
        <div key={p.member_id} className="tack-receipt-person" data-testid="receipt-person" data-member-id={p.member_id}>
          <MemberAvatar name={p.display_name} id={p.member_id} size={24} />
          <span>{p.display_name}</span>
        </div>
      ))}
    </div>
  );
}
