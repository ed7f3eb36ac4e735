import { LaptopOutlined, MobileOutlined } from "@ant-design/icons";
import { App as AntApp, Button, Card, Empty, Popconfirm, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { me } from "../../api/endpoints";
import type { SignInSession } from "../../api/types";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { useAsync } from "../../lib/useAsync";

/** A short, readable name for a browser's user agent ("Chrome on Windows"). */
export function describeDevice(userAgent: string | null | undefined): { label: string; mobile: boolean } {
  const ua = userAgent ?? "";
  if (!ua) return { label: "", mobile: false };
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /OPR\/|Opera/.test(ua)
      ? "Opera"
      : /MicroMessenger/.test(ua)
        ? "WeChat"
        : /Firefox\//.test(ua)
          ? "Firefox"
          : /Chrome\/|Chromium\//.test(ua)
            ? "Chrome"
            : /Safari\//.test(ua)
              ? "Safari"
              : /python|curl|httpx|okhttp/i.test(ua)
                ? ua.split(/[/ ]/)[0]
                : "";
  const os = /iPhone|iPad|iPod/.test(ua)
    ? "iOS"
    : /Android/.test(ua)
      ? "Android"
      : /Windows/.test(ua)
        ? "Windows"
        : /Mac OS X|Macintosh/.test(ua)
          ? "macOS"
          : /Linux/.test(ua)
            ? "Linux"
            : "";
  const mobile = /Mobile|iPhone|Android/.test(ua);
  const label = browser && os ? `${browser} · ${os}` : browser || os || ua.slice(0, 60);
  return { label, mobile };
}

export function SessionsPage() {
  const { t, formatDate } = useI18n();
  const errorText = useErrorText();
  const { message } = AntApp.useApp();
  const list = useAsync(() => me.sessions(), []);

  const revoke = async (session: SignInSession) => {
    try {
      await me.revokeSession(session.id);
      message.success(t("sessions.revokedDone"));
      list.reload();
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const columns: TableColumnsType<SignInSession> = [
    {
      title: t("sessions.device"),
      key: "device",
      render: (_, s) => {
        const device = describeDevice(s.user_agent);
        return (
          <Space>
            {device.mobile ? <MobileOutlined /> : <LaptopOutlined />}
            <span>{device.label || t("sessions.unknownDevice")}</span>
            {s.current ? <Tag color="blue">{t("sessions.current")}</Tag> : null}
          </Space>
        );
      },
    },
    { title: t("sessions.address"), dataIndex: "ip_address", key: "ip", render: (v: string | null) => v ?? "—" },
    { title: t("sessions.signedIn"), dataIndex: "created_at", key: "created", render: (v: string) => formatDate(v, true) },
    { title: t("sessions.lastActive"), dataIndex: "last_seen_at", key: "seen", render: (v: string) => formatDate(v, true) },
    { title: t("sessions.expires"), dataIndex: "expires_at", key: "expires", render: (v: string) => formatDate(v) },
    {
      title: t("common.actions"),
      key: "actions",
      width: 1,
      render: (_, s) =>
        s.current ? (
          <Typography.Text type="secondary" style={{ whiteSpace: "nowrap" }}>
            {t("sessions.thisDevice")}
          </Typography.Text>
        ) : (
          <Popconfirm
            title={t("sessions.revokeConfirm")}
            okText={t("sessions.revoke")}
            cancelText={t("common.cancel")}
            okButtonProps={{ danger: true }}
            onConfirm={() => revoke(s)}
          >
            <Button type="link" danger size="small" data-testid="session-revoke">
              {t("sessions.revoke")}
            </Button>
          </Popconfirm>
        ),
    },
  ];

  return (
    <div style={{ maxWidth: 1080 }}>
      <div className="tack-page-header">
        <Typography.Title level={3}>{t("sessions.title")}</Typography.Title>
      </div>
      <Card>
        <Typography.Paragraph type="secondary">{t("sessions.intro")}</Typography.Paragraph>
        {list.error ? <ErrorAlert error={list.error} onRetry={list.reload} style={{ marginBottom: 12 }} /> : null}
        <Table<SignInSession>
          rowKey="id"
          columns={columns}
          dataSource={list.data ?? []}
          loading={list.loading}
          pagination={false}
          scroll={{ x: "max-content" }}
          onRow={() => ({ "data-testid": "session-row" }) as React.HTMLAttributes<HTMLElement>}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("sessions.empty")} /> }}
        />
      </Card>
    </div>
  );
}
