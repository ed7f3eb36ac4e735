import { DeleteOutlined, EditOutlined, PlusOutlined, SearchOutlined, TeamOutlined } from "@ant-design/icons";
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Empty,
  Flex,
  Form,
  Input,
  Modal,
  Popconfirm,
  Select,
  Space,
  Switch,
  Table,
  Tag,
  TreeSelect,
  Typography,
  type TableColumnsType,
} from "antd";
import { useMemo, useState } from "react";
import { orgs as orgsApi } from "../../api/endpoints";
import type { Member, MemberDetail, MemberIn, MemberUpdate, Role } from "../../api/types";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { MemberDrawer } from "../../components/MemberDrawer";
import { MemberAvatar } from "../../components/MemberList";
import { MemberPicker } from "../../components/MemberPicker";
import { useI18n } from "../../i18n";
import { applyFieldErrors, blankToNull } from "../../lib/forms";
import { assignableRoles, useRoleLabel } from "../../lib/labels";
import { toTreeData } from "../../lib/tree";
import { useAsync, useDebounced } from "../../lib/useAsync";
import { usePaged } from "../../lib/usePaged";
import { useCurrentOrg } from "../../orgs/OrgsContext";
import { useDepartments, type DepartmentsState } from "../../orgs/useDepartments";

const PAGE_SIZE = 50;

type Dialog = { kind: "add" } | { kind: "edit"; member: Member } | { kind: "guardians"; member: Member } | null;

export function MembersPage() {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const departments = useDepartments(org.id);
  const roleLabel = useRoleLabel();
  const errorText = useErrorText();
  const { message } = AntApp.useApp();
  const [search, setSearch] = useState("");
  const q = useDebounced(search.trim(), 300);
  const [role, setRole] = useState<Role | "">("");
  const [departmentId, setDepartmentId] = useState<string | undefined>(undefined);
  const [includeRemoved, setIncludeRemoved] = useState(false);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [viewing, setViewing] = useState<string | null>(null);

  const members = usePaged<Member>(
    async (cursor, signal) => ({
      page: await orgsApi.members(
        org.id,
        { q: q || undefined, role, department_id: departmentId, include_removed: includeRemoved || undefined, cursor, limit: PAGE_SIZE },
        signal,
      ),
    }),
    [org.id, q, role, departmentId, includeRemoved],
  );

  const remove = async (member: Member) => {
    try {
      await orgsApi.removeMember(org.id, member.id);
      message.success(t("member.removedDone", { name: member.display_name }));
      members.reload();
      departments.reload();
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const deptTree = useMemo(() => toTreeData(departments.tree), [departments.tree]);
  const isSchool = org.kind === "school";

  const columns: TableColumnsType<Member> = [
    {
      title: t("member.name"),
      key: "name",
      render: (_, m) => (
        <Flex gap={10} align="center">
          <MemberAvatar name={m.display_name} id={m.id} size={32} />
          <div>
            <Typography.Link onClick={() => setViewing(m.id)} data-testid="member-name">
              {m.display_name}
            </Typography.Link>
            {m.title ? (
              <div>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {m.title}
                </Typography.Text>
              </div>
            ) : null}
          </div>
        </Flex>
      ),
    },
    { title: t("member.staffId"), dataIndex: "staff_id", key: "staff_id", render: (v: string | null) => v ?? "—", responsive: ["lg"] },
    {
      title: t("member.departments"),
      key: "departments",
      width: 280,
      render: (_, m) =>
        m.department_ids.length ? (
          <Space size={[4, 4]} wrap>
            {m.department_ids.map((id) => (
              <Tag key={id}>{departments.label(id)}</Tag>
            ))}
          </Space>
        ) : (
          "—"
        ),
    },
    {
      title: t("member.roles"),
      key: "roles",
      render: (_, m) => (
        <Space size={[4, 4]} wrap>
          {m.roles.map((r) => (
            <Tag key={r} color={r === "owner" || r === "admin" ? "blue" : undefined}>
              {roleLabel(r)}
            </Tag>
          ))}
          {m.status === "removed" ? <Tag color="red">{t("member.removed")}</Tag> : null}
        </Space>
      ),
    },
    {
      title: t("member.contact"),
      key: "contact",
      responsive: ["md"],
      render: (_, m) => m.mobile ?? m.email ?? "—",
    },
    {
      title: t("common.actions"),
      key: "actions",
      width: 1,
      render: (_, m) =>
        m.status === "removed" ? null : (
          <Space size={0} style={{ whiteSpace: "nowrap" }}>
            <Button type="link" size="small" icon={<EditOutlined />} onClick={() => setDialog({ kind: "edit", member: m })} data-testid="member-edit">
              {t("common.edit")}
            </Button>
            {isSchool && m.roles.includes("student") ? (
              <Button type="link" size="small" icon={<TeamOutlined />} onClick={() => setDialog({ kind: "guardians", member: m })} data-testid="member-guardians">
                {t("member.parents")}
              </Button>
            ) : null}
            <Popconfirm
              title={t("member.removeConfirm", { name: m.display_name })}
              description={t("member.removeHint")}
              okText={t("member.remove")}
              cancelText={t("common.cancel")}
              okButtonProps={{ danger: true }}
              onConfirm={() => remove(m)}
            >
              <Button type="link" size="small" danger icon={<DeleteOutlined />} data-testid="member-remove">
                {t("member.remove")}
              </Button>
            </Popconfirm>
          </Space>
        ),
    },
  ];

  return (
    <div>
      <div className="tack-page-header">
        <Typography.Title level={3}>{t("member.title")}</Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setDialog({ kind: "add" })} data-testid="member-add">
          {t("member.add")}
        </Button>
      </div>
      <Card>
        <Flex gap={12} wrap style={{ marginBottom: 16 }}>
          <Input
            allowClear
            prefix={<SearchOutlined />}
            placeholder={t("contacts.searchPlaceholder")}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            style={{ width: 320 }}
            data-testid="members-search"
          />
          <Select
            style={{ width: 160 }}
            value={role}
            onChange={setRole}
            options={[{ value: "", label: t("member.allRoles") }, ...(["owner", ...assignableRoles(org.kind)] as Role[]).map((r) => ({ value: r, label: roleLabel(r) }))]}
          />
          <TreeSelect
            style={{ width: 220 }}
            allowClear
            placeholder={t("member.allDepartments")}
            treeData={deptTree}
            value={departmentId}
            onChange={(v) => setDepartmentId(v ?? undefined)}
            treeDefaultExpandAll
            treeNodeLabelProp="label"
          />
          <Flex align="center" gap={8}>
            <Switch checked={includeRemoved} onChange={setIncludeRemoved} size="small" id="include-removed" />
            <label htmlFor="include-removed">{t("member.showRemoved")}</label>
          </Flex>
        </Flex>
        {members.error ? <ErrorAlert error={members.error} onRetry={members.reload} style={{ marginBottom: 12 }} /> : null}
        <Table<Member>
          rowKey="id"
          columns={columns}
          dataSource={members.items}
          loading={members.loading}
          pagination={false}
          size="middle"
          scroll={{ x: "max-content" }}
          onRow={(m) => ({ "data-testid": "member-row", "data-member-id": m.id }) as React.HTMLAttributes<HTMLElement>}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={q ? t("contacts.noMatches", { q }) : t("contacts.noMembers")} /> }}
        />
        {members.hasMore ? (
          <Flex justify="center" style={{ marginTop: 16 }}>
            <Button onClick={members.loadMore} loading={members.loadingMore} data-testid="load-more">
              {t("common.loadMore")}
            </Button>
          </Flex>
        ) : null}
      </Card>
      {dialog?.kind === "add" || dialog?.kind === "edit" ? (
        <MemberFormModal
          member={dialog.kind === "edit" ? dialog.member : null}
          departments={departments}
          onClose={() => setDialog(null)}
          onSaved={(saved) => {
            setDialog(null);
            message.success(t("member.saved", { name: saved.display_name }));
            members.reload();
            departments.reload();
          }}
        />
      ) : null}
      {dialog?.kind === "guardians" ? <GuardiansModal member={dialog.member} onClose={() => setDialog(null)} /> : null}
      <MemberDrawer orgId={org.id} memberId={viewing} onClose={() => setViewing(null)} departmentLabel={departments.label} />
    </div>
  );
}

interface MemberValues {
  display_name: string;
  email?: string;
  mobile?: string;
  initial_password?: string;
  staff_id?: string;
  title?: string;
  department_ids: string[];
  roles: Role[];
  manager_id?: string | null;
}

function MemberFormModal({
  member,
  departments,
  onClose,
  onSaved,
}: {
  member: Member | null;
  departments: DepartmentsState;
  onClose: () => void;
  onSaved: (member: MemberDetail) => void;
}) {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const roleLabel = useRoleLabel();
  const errorText = useErrorText();
  const [form] = Form.useForm<MemberValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Editing needs the manager's name, which only the detail carries.
  const detail = useAsync(
    () => (member ? orgsApi.member(org.id, member.id) : Promise.resolve(null)),
    [org.id, member?.id],
  );
  const editing = !!member;
  const deptTree = useMemo(() => toTreeData(departments.tree), [departments.tree]);
  const roleChoices = [...new Set<Role>([...assignableRoles(org.kind), ...(member?.roles ?? [])])];

  const submit = async (values: MemberValues) => {
    setBusy(true);
    setError(null);
    try {
      let saved: MemberDetail;
      if (!member) {
        const body: MemberIn = {
          display_name: values.display_name.trim(),
          email: blankToNull(values.email),
          mobile: blankToNull(values.mobile)?.replace(/[\s-]/g, "") ?? null,
          initial_password: values.initial_password || null,
          staff_id: blankToNull(values.staff_id),
          title: blankToNull(values.title),
          department_ids: values.department_ids ?? [],
          roles: values.roles?.length ? values.roles : ["member"],
          manager_id: values.manager_id || null,
        };
        saved = await orgsApi.addMember(org.id, body);
      } else {
        const body: MemberUpdate = {};
        const name = values.display_name.trim();
        if (name !== member.display_name) body.display_name = name;
        const staff = blankToNull(values.staff_id);
        if (staff !== member.staff_id) body.staff_id = staff;
        const title = blankToNull(values.title);
        if (title !== member.title) body.title = title;
        if (!sameSet(values.department_ids ?? [], member.department_ids)) body.department_ids = values.department_ids ?? [];
        if (!sameSet(values.roles ?? [], member.roles)) body.roles = values.roles;
        const manager = values.manager_id || null;
        if (manager !== member.manager_id) body.manager_id = manager;
        saved = await orgsApi.updateMember(org.id, member.id, body);
      }
      onSaved(saved);
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const initial: Partial<MemberValues> = member
    ? {
        display_name: member.display_name,
        staff_id: member.staff_id ?? "",
        title: member.title ?? "",
        department_ids: member.department_ids,
        roles: member.roles,
        manager_id: member.manager_id,
      }
    : { roles: [org.kind === "school" ? "teacher" : "member"], department_ids: [] };

  return (
    <Modal
      open
      width={600}
      title={editing ? t("member.editTitle", { name: member.display_name }) : t("member.add")}
      onCancel={onClose}
      footer={null}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" onFinish={submit} initialValues={initial} requiredMark="optional">
        {error ? <Alert type="error" showIcon role="alert" message={errorText(error)} style={{ marginBottom: 16 }} /> : null}
        <Form.Item name="display_name" label={t("member.displayName")} rules={[{ required: true, whitespace: true, message: t("auth.nameRequired") }]}>
          <Input data-testid="member-form-name" maxLength={100} />
        </Form.Item>
        {!editing ? (
          <>
            <Flex gap={12}>
              <Form.Item name="email" label={t("auth.email")} style={{ flex: 1 }} rules={[{ type: "email", message: t("auth.emailInvalid") }]}>
                <Input data-testid="member-form-email" />
              </Form.Item>
              <Form.Item name="mobile" label={t("auth.mobile")} style={{ flex: 1 }}>
                <Input data-testid="member-form-mobile" />
              </Form.Item>
            </Flex>
            <Form.Item
              name="initial_password"
              label={t("member.initialPassword")}
              extra={t("member.initialPasswordHint")}
              rules={[{ min: 8, message: t("auth.passwordTooShort") }]}
            >
              <Input.Password data-testid="member-form-password" autoComplete="new-password" />
            </Form.Item>
          </>
        ) : null}
        <Flex gap={12}>
          <Form.Item name="staff_id" label={t("member.staffId")} style={{ flex: 1 }}>
            <Input data-testid="member-form-staff-id" maxLength={64} />
          </Form.Item>
          <Form.Item name="title" label={t("member.jobTitle")} style={{ flex: 1 }}>
            <Input data-testid="member-form-title" maxLength={200} />
          </Form.Item>
        </Flex>
        <Form.Item name="department_ids" label={t("member.departments")}>
          <TreeSelect
            data-testid="member-form-departments"
            multiple
            treeData={deptTree}
            treeDefaultExpandAll
            showSearch
            treeNodeFilterProp="title"
            treeNodeLabelProp="label"
            placeholder={t("member.pickDepartments")}
          />
        </Form.Item>
        <Form.Item name="roles" label={t("member.roles")} rules={[{ required: true, message: t("member.rolesRequired") }]}>
          <Select
            data-testid="member-form-roles"
            mode="multiple"
            options={roleChoices.map((r) => ({ value: r, label: roleLabel(r), disabled: r === "owner" }))}
          />
        </Form.Item>
        {!editing || !detail.loading ? (
          <Form.Item name="manager_id" label={t("member.manager")}>
            <MemberPicker
              orgId={org.id}
              testId="member-form-manager"
              initialLabel={detail.data?.manager_name ?? null}
              exclude={member ? [member.id] : []}
              placeholder={t("member.pickManager")}
            />
          </Form.Item>
        ) : null}
        <Flex justify="end" gap={8}>
          <Button onClick={onClose}>{t("common.cancel")}</Button>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="member-form-submit">
            {editing ? t("common.save") : t("member.add")}
          </Button>
        </Flex>
      </Form>
    </Modal>
  );
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function GuardiansModal({ member, onClose }: { member: Member; onClose: () => void }) {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const errorText = useErrorText();
  const { message } = AntApp.useApp();
  const detail = useAsync(() => orgsApi.member(org.id, member.id), [org.id, member.id]);
  const [parentId, setParentId] = useState<string | null>(null);
  const [relation, setRelation] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const link = async () => {
    if (!parentId) return;
    setBusy(true);
    setError(null);
    try {
      await orgsApi.addGuardian(org.id, member.id, parentId, blankToNull(relation));
      setParentId(null);
      setRelation("");
      detail.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const unlink = async (parentMemberId: string) => {
    try {
      await orgsApi.removeGuardian(org.id, member.id, parentMemberId);
      detail.reload();
    } catch (e) {
      message.error(errorText(e));
    }
  };

  const parents = detail.data?.parents ?? [];
  return (
    <Modal open title={t("member.parentsOf", { name: member.display_name })} onCancel={onClose} footer={null} destroyOnHidden>
      {detail.error ? <ErrorAlert error={detail.error} onRetry={detail.reload} /> : null}
      <Typography.Text type="secondary">{t("member.linkedParents")}</Typography.Text>
      <div style={{ margin: "8px 0 20px" }}>
        {detail.loading ? (
          <Typography.Text type="secondary">{t("common.loading")}</Typography.Text>
        ) : parents.length ? (
          <Space direction="vertical" style={{ width: "100%" }}>
            {parents.map((p) => (
              <Flex key={p.member_id} justify="space-between" align="center" data-testid="guardian-row">
                <span>
                  {p.display_name}
                  {p.relation ? <Typography.Text type="secondary"> ({p.relation})</Typography.Text> : null}
                </span>
                <Popconfirm title={t("member.unlinkConfirm", { name: p.display_name })} onConfirm={() => unlink(p.member_id)} okText={t("member.unlink")} cancelText={t("common.cancel")}>
                  <Button size="small" type="link" danger>
                    {t("member.unlink")}
                  </Button>
                </Popconfirm>
              </Flex>
            ))}
          </Space>
        ) : (
          <Typography.Text>{t("member.noParents")}</Typography.Text>
        )}
      </div>
      <Typography.Title level={5}>{t("member.linkParent")}</Typography.Title>
      {error ? <Alert type="error" showIcon role="alert" message={errorText(error)} style={{ marginBottom: 12 }} /> : null}
      <Space direction="vertical" style={{ width: "100%" }}>
        <MemberPicker
          orgId={org.id}
          value={parentId}
          onChange={setParentId}
          exclude={[member.id, ...parents.map((p) => p.member_id)]}
          placeholder={t("member.pickParent")}
          role="parent"
          testId="guardian-parent"
        />
        <Input value={relation} onChange={(e) => setRelation(e.target.value)} placeholder={t("member.relationPlaceholder")} maxLength={32} data-testid="guardian-relation" />
        <Flex justify="end" gap={8}>
          <Button onClick={onClose}>{t("common.close")}</Button>
          <Button type="primary" onClick={link} disabled={!parentId} loading={busy} data-testid="guardian-submit">
            {t("member.link")}
          </Button>
        </Flex>
      </Space>
    </Modal>
  );
}
