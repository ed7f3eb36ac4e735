import { KeyOutlined } from "@ant-design/icons";
import { Alert, App as AntApp, Button, Card, Empty, Form, Input, Modal, Popconfirm, Space, Table, Typography, type TableColumnsType } from "antd";
import { useState } from "react";
import { me } from "../../api/endpoints";
import type { ApiToken, ApiTokenCreated } from "../../api/types";
import { CopyText } from "../../components/CopyText";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { applyFieldErrors } from "../../lib/forms";
import { useAsync } from "../../lib/useAsync";

/** Personal API tokens: for scripts and tools that act as you. */
export function TokensPage() {
  const { t, formatDate } = useI18n();
  const errorText = useErrorText();
  const { message } = AntApp.useApp();
  const list = useAsync(() => me.tokens(), []);
  const [form] = Form.useForm<{ name: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);

  const create = async ({ name }: { name: string }) => {
    setBusy(true);
    setError(null);
    try {
      const token = await me.createToken(name.trim());
      form.resetFields();
      setCreated(token);
      list.reload();
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (token: ApiToken) => {
    try {
      await me.revokeToken(token.id);
      message.success(t("tokens.revokedDone", { name: token.name }));
      list.reload();
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const columns: TableColumnsType<ApiToken> = [
    { title: t("tokens.name"), dataIndex: "name", key: "name", render: (name: string) => <Typography.Text strong>{name}</Typography.Text> },
    { title: t("tokens.startsWith"), dataIndex: "prefix", key: "prefix", render: (p: string) => <Typography.Text code>{p}…</Typography.Text> },
    { title: t("tokens.created"), dataIndex: "created_at", key: "created", render: (v: string) => formatDate(v, true) },
    {
      title: t("tokens.lastUsed"),
      dataIndex: "last_used_at",
      key: "used",
      render: (v: string | null) => (v ? formatDate(v, true) : t("tokens.never")),
    },
    {
      title: t("common.actions"),
      key: "actions",
      width: 1,
      render: (_, token) => (
        <Popconfirm
          title={t("tokens.revokeConfirm", { name: token.name })}
          description={t("tokens.revokeHint")}
          okText={t("tokens.revoke")}
          cancelText={t("common.cancel")}
          okButtonProps={{ danger: true }}
          onConfirm={() => revoke(token)}
        >
          <Button type="link" danger size="small" data-testid="token-revoke">
            {t("tokens.revoke")}
          </Button>
        </Popconfirm>
      ),
    },
  ];

  return (
    <div style={{ maxWidth: 960 }}>
      <div className="tack-page-header">
        <Typography.Title level={3}>{t("tokens.title")}</Typography.Title>
      </div>
      <Card style={{ marginBottom: 16 }}>
        <Typography.Paragraph type="secondary">{t("tokens.intro")}</Typography.Paragraph>
        {error ? <Alert type="error" showIcon role="alert" message={errorText(error)} style={{ marginBottom: 12 }} /> : null}
        <Form form={form} layout="inline" onFinish={create} requiredMark={false}>
          <Form.Item name="name" rules={[{ required: true, whitespace: true, message: t("tokens.nameRequired") }]} style={{ minWidth: 280 }}>
            <Input prefix={<KeyOutlined />} placeholder={t("tokens.namePlaceholder")} maxLength={100} data-testid="token-name" />
          </Form.Item>
          <Form.Item>
            <Button type="primary" htmlType="submit" loading={busy} data-testid="token-create">
              {t("tokens.create")}
            </Button>
          </Form.Item>
        </Form>
      </Card>
      <Card>
        {list.error ? <ErrorAlert error={list.error} onRetry={list.reload} style={{ marginBottom: 12 }} /> : null}
        <Table<ApiToken>
          rowKey="id"
          columns={columns}
          dataSource={list.data ?? []}
          loading={list.loading}
          pagination={false}
          scroll={{ x: "max-content" }}
          onRow={() => ({ "data-testid": "token-row" }) as React.HTMLAttributes<HTMLElement>}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("tokens.empty")} /> }}
        />
      </Card>
      <Modal
        open={!!created}
        title={t("tokens.createdTitle")}
        onCancel={() => setCreated(null)}
        maskClosable={false}
        footer={
          <Button type="primary" onClick={() => setCreated(null)} data-testid="token-done">
            {t("tokens.copiedDone")}
          </Button>
        }
      >
        {created ? (
          <Space direction="vertical" style={{ width: "100%" }}>
            <Alert type="warning" showIcon message={t("tokens.shownOnce")} />
            <Typography.Text type="secondary">{created.name}</Typography.Text>
            <div style={{ background: "#f5f7fa", borderRadius: 6, padding: "8px 12px" }}>
              <CopyText text={created.token} testId="token-value" code />
            </div>
            <Typography.Paragraph type="secondary" style={{ marginBottom: 0, fontSize: 12 }}>
              {t("tokens.usage")}
            </Typography.Paragraph>
          </Space>
        ) : null}
      </Modal>
    </div>
  );
}
