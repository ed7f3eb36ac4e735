import { CheckCircleFilled, PlusOutlined, StopOutlined } from "@ant-design/icons";
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Descriptions,
  Empty,
  Flex,
  Form,
  Input,
  InputNumber,
  Modal,
  Popconfirm,
  Select,
  Table,
  Tag,
  TreeSelect,
  Typography,
  type TableColumnsType,
} from "antd";
import { useMemo, useState } from "react";
import { orgs as orgsApi } from "../../api/endpoints";
import type { Invitation, InvitationIn, Role } from "../../api/types";
import { CopyText } from "../../components/CopyText";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { applyFieldErrors, blankToNull } from "../../lib/forms";
import { assignableRoles, useRoleLabel, useStatusLabel } from "../../lib/labels";
import { toTreeData } from "../../lib/tree";
import { useAsync } from "../../lib/useAsync";
import { useCurrentOrg } from "../../orgs/OrgsContext";
import { useDepartments } from "../../orgs/useDepartments";

const STATUS_COLORS: Record<string, string> = { active: "green", expired: "default", revoked: "red", used_up: "orange" };

export function invitationLink(invitation: Pick<Invitation, "url" | "code">, origin = window.location.origin): string {
  const path = invitation.url || `/join/${invitation.code}`;
  return /^https?:\/\//.test(path) ? path : `${origin}${path.startsWith("/") ? "" : "/"}${path}`;
}

export function InvitationsPage() {
  const { t, formatDate } = useI18n();
  const org = useCurrentOrg();
  const departments = useDepartments(org.id);
  const roleLabel = useRoleLabel();
  const statusLabel = useStatusLabel();
  const errorText = useErrorText();
  const { message } = AntApp.useApp();
  const list = useAsync(() => orgsApi.invitations(org.id), [org.id]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Invitation | null>(null);

  const revoke = async (invitation: Invitation) => {
    try {
      await orgsApi.revokeInvitation(org.id, invitation.id);
      message.success(t("invite.revokedDone"));
      setCreated((shown) => (shown?.id === invitation.id ? null : shown));
      list.reload();
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const columns: TableColumnsType<Invitation> = [
    {
      title: t("invite.code"),
      key: "code",
      render: (_, inv) => (
        <Typography.Text code copyable={inv.status === "active" ? { text: invitationLink(inv), tooltips: [t("invite.copyLink"), t("common.copied")] } : false}>
          {inv.code}
        </Typography.Text>
      ),
    },
    { title: t("invite.role"), key: "role", render: (_, inv) => roleLabel(inv.role) },
    {
      title: t("invite.department"),
      key: "department",
      render: (_, inv) => (inv.department_id ? departments.label(inv.department_id) : "—"),
    },
    { title: t("invite.invitee"), key: "invitee", render: (_, inv) => inv.invitee_name ?? inv.invitee_contact ?? "—" },
    {
      title: t("invite.uses"),
      key: "uses",
      render: (_, inv) => (inv.max_uses ? `${inv.uses} / ${inv.max_uses}` : t("invite.usesUnlimited", { uses: inv.uses })),
    },
    { title: t("invite.expires"), key: "expires", render: (_, inv) => formatDate(inv.expires_at, true) },
    {
      title: t("invite.status"),
      key: "status",
      render: (_, inv) => (
        <Tag color={STATUS_COLORS[inv.status] ?? "default"} data-testid="invite-status">
          {statusLabel(inv.status)}
        </Tag>
      ),
    },
    {
      title: t("common.actions"),
      key: "actions",
      width: 1,
      render: (_, inv) =>
        inv.status === "active" ? (
          <Popconfirm
            title={t("invite.revokeConfirm")}
            description={t("invite.revokeHint")}
            okText={t("invite.revoke")}
            cancelText={t("common.cancel")}
            okButtonProps={{ danger: true }}
            onConfirm={() => revoke(inv)}
          >
            <Button type="link" danger size="small" icon={<StopOutlined />} data-testid="invite-revoke">
              {t("invite.revoke")}
            </Button>
          </Popconfirm>
        ) : null,
    },
  ];

  return (
    <div>
      <div className="tack-page-header">
        <Typography.Title level={3}>{t("invite.title")}</Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="invite-create">
          {t("invite.create")}
        </Button>
      </div>
      {created ? (
        <Card
          style={{ marginBottom: 16, borderColor: "#b7eb8f", background: "#f6ffed" }}
          data-testid="invite-result"
          title={
            <Flex align="center" gap={8}>
              <CheckCircleFilled style={{ color: "#52c41a" }} />
              {t("invite.createdTitle")}
            </Flex>
          }
          extra={
            <Button onClick={() => setCreated(null)} data-testid="invite-done">
              {t("common.done")}
            </Button>
          }
        >
          <Typography.Paragraph>{t("invite.createdText")}</Typography.Paragraph>
          <Typography.Text type="secondary">{t("invite.link")}</Typography.Text>
          <div style={{ background: "#fff", border: "1px solid #d9f7be", borderRadius: 6, padding: "8px 12px", margin: "4px 0 16px" }}>
            <CopyText text={invitationLink(created)} testId="invite-link" />
          </div>
          <Flex gap={48} wrap>
            <div>
              <Typography.Text type="secondary">{t("invite.codeLabel")}</Typography.Text>
              <div style={{ marginTop: 4 }}>
                <CopyText text={created.code} testId="invite-code" code />
              </div>
            </div>
            <Descriptions size="small" column={1} colon={false} styles={{ label: { width: 110 } }} style={{ flex: 1, minWidth: 260 }}>
              <Descriptions.Item label={t("invite.role")}>{roleLabel(created.role)}</Descriptions.Item>
              {created.department_id ? (
                <Descriptions.Item label={t("invite.department")}>
                  {departments.label(created.department_id)}
                </Descriptions.Item>
              ) : null}
              <Descriptions.Item label={t("invite.expires")}>{formatDate(created.expires_at, true)}</Descriptions.Item>
              <Descriptions.Item label={t("invite.maxUses")}>
                {created.max_uses ? t("invite.maxUsesN", { n: created.max_uses }) : t("invite.unlimited")}
              </Descriptions.Item>
            </Descriptions>
          </Flex>
        </Card>
      ) : null}
      <Card>
        <Typography.Paragraph type="secondary">{t("invite.intro")}</Typography.Paragraph>
        {list.error ? <ErrorAlert error={list.error} onRetry={list.reload} style={{ marginBottom: 12 }} /> : null}
        <Table<Invitation>
          rowKey="id"
          columns={columns}
          dataSource={list.data ?? []}
          loading={list.loading}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: "max-content" }}
          onRow={() => ({ "data-testid": "invite-row" }) as React.HTMLAttributes<HTMLElement>}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("invite.empty")} /> }}
        />
      </Card>
      {creating ? (
        <CreateInvitationModal
          departments={departments}
          onClose={() => setCreating(false)}
          onCreated={(inv) => {
            setCreating(false);
            setCreated(inv);
            list.reload();
          }}
        />
      ) : null}
    </div>
  );
}

interface InviteValues {
  role: Role;
  department_id?: string;
  expires_in_days: number;
  max_uses?: number | null;
  invitee_name?: string;
  invitee_contact?: string;
}

function CreateInvitationModal({
  departments,
  onClose,
  onCreated,
}: {
  departments: ReturnType<typeof useDepartments>;
  onClose: () => void;
  onCreated: (invitation: Invitation) => void;
}) {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const roleLabel = useRoleLabel();
  const errorText = useErrorText();
  const [form] = Form.useForm<InviteValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const deptTree = useMemo(() => toTreeData(departments.tree), [departments.tree]);

  const submit = async (values: InviteValues) => {
    setBusy(true);
    setError(null);
    try {
      const body: InvitationIn = {
        role: values.role,
        department_id: values.department_id || null,
        expires_in_days: values.expires_in_days,
        max_uses: values.max_uses || null,
        invitee_name: blankToNull(values.invitee_name),
        invitee_contact: blankToNull(values.invitee_contact),
      };
      onCreated(await orgsApi.createInvitation(org.id, body));
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open title={t("invite.create")} onCancel={onClose} footer={null} destroyOnHidden width={560}>
      <Form
        form={form}
        layout="vertical"
        onFinish={submit}
        requiredMark="optional"
        initialValues={{ role: org.kind === "school" ? "teacher" : "member", expires_in_days: 7 }}
      >
        {error ? <Alert type="error" showIcon role="alert" message={errorText(error)} style={{ marginBottom: 16 }} /> : null}
        <Flex gap={12}>
          <Form.Item name="role" label={t("invite.role")} style={{ flex: 1 }} rules={[{ required: true }]}>
            <Select data-testid="invite-role" options={assignableRoles(org.kind).map((r) => ({ value: r, label: roleLabel(r) }))} />
          </Form.Item>
          <Form.Item name="department_id" label={t("invite.department")} style={{ flex: 1 }}>
            <TreeSelect
              data-testid="invite-department"
              allowClear
              treeData={deptTree}
              treeDefaultExpandAll
              showSearch
              treeNodeFilterProp="title"
              treeNodeLabelProp="label"
              placeholder={t("invite.departmentPlaceholder")}
            />
          </Form.Item>
        </Flex>
        <Flex gap={12}>
          <Form.Item
            name="expires_in_days"
            label={t("invite.expiresInDays")}
            style={{ flex: 1 }}
            rules={[{ required: true, message: t("invite.expiresRequired") }]}
          >
            <InputNumber
              data-testid="invite-expires"
              min={1}
              max={90}
              precision={0}
              style={{ width: "100%" }}
              suffix={<Typography.Text type="secondary">{t("invite.days")}</Typography.Text>}
            />
          </Form.Item>
          <Form.Item name="max_uses" label={t("invite.maxUses")} style={{ flex: 1 }} extra={t("invite.maxUsesHint")}>
            <InputNumber data-testid="invite-max-uses" min={1} max={100000} precision={0} style={{ width: "100%" }} />
          </Form.Item>
        </Flex>
        <Flex gap={12}>
          <Form.Item name="invitee_name" label={t("invite.inviteeName")} style={{ flex: 1 }}>
            <Input data-testid="invite-invitee-name" maxLength={100} />
          </Form.Item>
          <Form.Item name="invitee_contact" label={t("invite.inviteeContact")} style={{ flex: 1 }}>
            <Input data-testid="invite-invitee-contact" maxLength={254} />
          </Form.Item>
        </Flex>
        <Flex justify="end" gap={8}>
          <Button onClick={onClose}>{t("common.cancel")}</Button>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="invite-submit">
            {t("invite.createSubmit")}
          </Button>
        </Flex>
      </Form>
    </Modal>
  );
}
