import { BellFilled, CheckCircleFilled } from "@ant-design/icons";
import { App as AntApp, Button, Card, Drawer, Empty, Flex, List, Segmented, Skeleton, Tag, Typography } from "antd";
import { useState } from "react";
import { Link } from "react-router-dom";
import { chat as chatApi } from "../../api/endpoints";
import type { Ding, DingDetail } from "../../api/types";
import { useChat } from "../../chat/ChatContext";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { MemberAvatar } from "../../components/MemberList";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/useAsync";
import { useStreamEvents } from "../../stream/StreamProvider";

/** DINGs to me (those waiting for me first, each with its acknowledge button) and the ones I sent
 * (who has acknowledged). */
export function DingInboxPage() {
  const { t } = useI18n();
  const chat = useChat();
  const [box, setBox] = useState<"inbox" | "sent">("inbox");
  const sent = useAsync(() => (box === "sent" ? chatApi.dings(chat.org.id, "sent") : Promise.resolve([] as Ding[])), [chat.org.id, box]);
  const [openDing, setOpenDing] = useState<string | null>(null);

  // Acknowledgements of my DINGs arrive live.
  useStreamEvents(chat.org.id, (event) => {
    if (event.kind !== "ding.acknowledged" || box !== "sent") return;
    const data = event.data as { ding_id?: string };
    sent.setData((list) =>
      (list ?? []).map((d) => (d.id === data.ding_id ? { ...d, acknowledged_count: Math.min(d.recipient_count, d.acknowledged_count + 1) } : d)),
    );
  });

  const inbox = [...chat.dings].sort((a, b) => Number(!!a.acknowledged_at) - Number(!!b.acknowledged_at));

  return (
    <div data-testid="ding-inbox">
      <div className="tack-page-header">
        <div>
          <Typography.Title level={3}>{t("ding.title")}</Typography.Title>
          <Typography.Text type="secondary">{t("ding.intro")}</Typography.Text>
        </div>
        <Segmented
          value={box}
          onChange={(v) => setBox(v as "inbox" | "sent")}
          options={[
            { value: "inbox", label: t("ding.inbox") },
            { value: "sent", label: t("ding.sent") },
          ]}
          data-testid="ding-box"
        />
      </div>
      <Card>
        {box === "inbox" ? (
          <>
            {chat.dingsError ? <ErrorAlert error={chat.dingsError} onRetry={() => chat.reloadDings()} style={{ marginBottom: 12 }} /> : null}
            <List
              dataSource={inbox}
              locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("ding.empty")} /> }}
              renderItem={(ding) => <InboxItem ding={ding} />}
            />
          </>
        ) : sent.loading ? (
          <Skeleton active />
        ) : sent.error ? (
          <ErrorAlert error={sent.error} onRetry={sent.reload} />
        ) : (
          <List
            dataSource={sent.data ?? []}
            locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("ding.empty")} /> }}
            renderItem={(ding) => (
              <List.Item
                data-testid="ding-sent-row"
                actions={[
                  <Button key="details" size="small" onClick={() => setOpenDing(ding.id)}>
                    {t("ding.details")}
                  </Button>,
                ]}
              >
                <List.Item.Meta
                  title={ding.body}
                  description={
                    <Tag color={ding.acknowledged_count >= ding.recipient_count ? "success" : "warning"}>
                      {t("ding.ackCount", { acked: ding.acknowledged_count, total: ding.recipient_count })}
                    </Tag>
                  }
                />
              </List.Item>
            )}
          />
        )}
      </Card>
      <DingDrawer dingId={openDing} onClose={() => setOpenDing(null)} />
    </div>
  );
}

function InboxItem({ ding }: { ding: Ding }) {
  const { t, formatDate } = useI18n();
  const chat = useChat();
  const { message } = AntApp.useApp();
  const errorText = useErrorText();
  const [busy, setBusy] = useState(false);
  const waiting = !ding.acknowledged_at;
  return (
    <List.Item
      data-testid="ding-row"
      data-ding-id={ding.id}
      data-acknowledged={waiting ? "false" : "true"}
      className={waiting ? "tack-ding-waiting" : undefined}
      actions={[
        <Link key="open" to={`/orgs/${chat.org.id}/chat/${ding.conversation_id}`}>
          {t("ding.openConversation")}
        </Link>,
        waiting ? (
          <Button
            key="ack"
            type="primary"
            danger
            size="small"
            loading={busy}
            data-testid="ding-ack"
            onClick={() => {
              setBusy(true);
              chat
                .acknowledge(ding.id)
                .catch((e: unknown) => message.error(errorText(e)))
                .finally(() => setBusy(false));
            }}
          >
            {t("ding.ack")}
          </Button>
        ) : (
          <Typography.Text key="acked" type="success">
            <CheckCircleFilled /> {t("ding.acknowledgedAt", { time: formatDate(ding.acknowledged_at, true) })}
          </Typography.Text>
        ),
      ]}
    >
      <List.Item.Meta
        avatar={waiting ? <BellFilled style={{ fontSize: 24, color: "#f5222d" }} /> : <MemberAvatar name={ding.sender_name} id={ding.sender_id} size={32} />}
        title={
          <Flex gap={8} align="center" wrap="wrap">
            <span>{t("ding.from", { name: ding.sender_name })}</span>
            {waiting ? <Tag color="red">{t("ding.waiting")}</Tag> : null}
            <Typography.Text type="secondary" style={{ fontSize: 12, fontWeight: 400 }}>
              {formatDate(ding.created_at, true)}
            </Typography.Text>
          </Flex>
        }
        description={<span style={{ whiteSpace: "pre-wrap", color: "rgba(0,0,0,0.85)" }}>{ding.body}</span>}
      />
    </List.Item>
  );
}

function DingDrawer({ dingId, onClose }: { dingId: string | null; onClose: () => void }) {
  const { t, formatDate } = useI18n();
  const chat = useChat();
  const detail = useAsync<DingDetail | null>(() => (dingId ? chatApi.ding(chat.org.id, dingId) : Promise.resolve(null)), [chat.org.id, dingId]);
  useStreamEvents(chat.org.id, (event) => {
    if (event.kind === "ding.acknowledged" && (event.data as { ding_id?: string }).ding_id === dingId) detail.reload();
  });
  return (
    <Drawer open={!!dingId} onClose={onClose} title={t("ding.recipientsTitle")} width={400} destroyOnHidden>
      {detail.loading ? <Skeleton active /> : null}
      <ErrorAlert error={detail.error} onRetry={detail.reload} />
      {detail.data ? (
        <>
          <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{detail.data.body}</Typography.Paragraph>
          <List
            dataSource={detail.data.recipients}
            renderItem={(r) => (
              <List.Item data-testid="ding-recipient-row">
                <List.Item.Meta avatar={<MemberAvatar name={r.display_name} id={r.member_id} size={32} />} title={r.display_name} />
                {r.acknowledged_at ? (
                  <Typography.Text type="success">{t("ding.acknowledgedAt", { time: formatDate(r.acknowledged_at, true) })}</Typography.Text>
                ) : (
                  <Tag>{t("ding.notYet")}</Tag>
                )}
              </List.Item>
            )}
          />
        </>
      ) : null}
    </Drawer>
  );
}
