import { DeleteOutlined, DragOutlined, EditOutlined, PlusOutlined } from "@ant-design/icons";
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Flex,
  Form,
  Input,
  Modal,
  Popconfirm,
  Row,
  Select,
  Skeleton,
  Space,
  Tag,
  Tree,
  TreeSelect,
  Typography,
} from "antd";
import { useEffect, useMemo, useState } from "react";
import { orgs as orgsApi } from "../../api/endpoints";
import type { Department, DepartmentKind } from "../../api/types";
import { ErrorAlert, useErrorText } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";
import { applyFieldErrors } from "../../lib/forms";
import { departmentKinds, useKindLabel } from "../../lib/labels";
import { buildTree, pathTo, subtreeIds, toTreeData } from "../../lib/tree";
import { useCurrentOrg } from "../../orgs/OrgsContext";
import { useDepartments } from "../../orgs/useDepartments";

type Dialog =
  | { kind: "create"; parentId: string | null }
  | { kind: "rename"; dept: Department }
  | { kind: "move"; dept: Department }
  | null;

export function DepartmentsPage() {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const departments = useDepartments(org.id);
  const kindLabel = useKindLabel();
  const errorText = useErrorText();
  const { message } = AntApp.useApp();
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState(false);
  const [expanded, setExpanded] = useState<string[]>([]);

  const rootId = org.root_department_id ?? departments.tree[0]?.dept.id ?? null;
  const selected = (selectedId && departments.byId.get(selectedId)) || (rootId ? departments.byId.get(rootId) : undefined);

  useEffect(() => {
    const keys = departments.tree.map((n) => n.dept.id);
    if (selected) keys.push(...pathTo(departments.list, selected.id).map((d) => d.id));
    setExpanded((previous) => [...new Set([...previous, ...keys])]);
  }, [departments.tree, departments.list, selected]);

  const treeData = useMemo(() => toTreeData(departments.tree), [departments.tree]);

  const remove = async (dept: Department) => {
    setDeleting(true);
    setActionError(null);
    try {
      await orgsApi.deleteDepartment(org.id, dept.id);
      message.success(t("dept.deleted", { name: dept.name }));
      setSelectedId(dept.parent_id);
      departments.reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setDeleting(false);
    }
  };

  const isRoot = !!selected && (selected.id === org.root_department_id || !selected.parent_id);
  const children = selected ? departments.list.filter((d) => d.parent_id === selected.id) : [];

  return (
    <div>
      <div className="tack-page-header">
        <Typography.Title level={3}>{t("dept.title")}</Typography.Title>
        <Button
          type="primary"
          icon={<PlusOutlined />}
          onClick={() => setDialog({ kind: "create", parentId: selected?.id ?? rootId })}
          data-testid="dept-create"
          disabled={!departments.list.length}
        >
          {t("dept.create")}
        </Button>
      </div>
      {departments.error ? <ErrorAlert error={departments.error} onRetry={departments.reload} style={{ marginBottom: 16 }} /> : null}
      <Row gutter={[16, 16]}>
        <Col xs={24} md={10} lg={9} xl={8}>
          <Card size="small" title={t("dept.structure")} styles={{ body: { padding: 8 } }}>
            {departments.loading && !departments.list.length ? (
              <Skeleton active />
            ) : treeData.length ? (
              <Tree
                blockNode
                treeData={treeData}
                selectedKeys={selected ? [selected.id] : []}
                expandedKeys={expanded}
                onExpand={(keys) => setExpanded(keys as string[])}
                titleRender={(node) => {
                  const dept = departments.byId.get(String(node.key));
                  return (
                    <span>
                      {node.title as string}
                      {dept && dept.kind !== "department" ? (
                        <Typography.Text type="secondary" style={{ fontSize: 12, marginLeft: 6 }}>
                          {kindLabel(dept.kind)}
                        </Typography.Text>
                      ) : null}
                    </span>
                  );
                }}
                onSelect={(keys) => {
                  if (keys.length) {
                    setSelectedId(String(keys[0]));
                    setActionError(null);
                  }
                }}
                data-testid="dept-tree"
              />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("contacts.noDepartments")} />
            )}
          </Card>
        </Col>
        <Col xs={24} md={14} lg={15} xl={16}>
          <Card>
            {selected ? (
              <div data-testid="dept-detail">
                <Flex justify="space-between" align="start" wrap gap={12}>
                  <div>
                    <Typography.Title level={4} style={{ margin: 0 }} data-testid="dept-detail-name">
                      {selected.name}
                    </Typography.Title>
                    <Typography.Text type="secondary">
                      {pathTo(departments.list, selected.id)
                        .map((d) => d.name)
                        .join(" / ")}
                    </Typography.Text>
                  </div>
                  <Tag>{kindLabel(selected.kind)}</Tag>
                </Flex>
                <Descriptions column={1} size="small" colon={false} style={{ marginTop: 16 }} styles={{ label: { width: 140 } }}>
                  <Descriptions.Item label={t("dept.directMembers")}>{selected.member_count}</Descriptions.Item>
                  <Descriptions.Item label={t("dept.subDepartments")}>
                    {children.length ? (
                      <Space size={[12, 4]} wrap>
                        {children.map((c) => (
                          <Typography.Link
                            key={c.id}
                            onClick={() => {
                              setSelectedId(c.id);
                              setActionError(null);
                            }}
                          >
                            {c.name}
                          </Typography.Link>
                        ))}
                      </Space>
                    ) : (
                      t("dept.none")
                    )}
                  </Descriptions.Item>
                </Descriptions>
                {actionError ? (
                  <Alert
                    type="error"
                    showIcon
                    role="alert"
                    data-testid="dept-error"
                    message={errorText(actionError)}
                    style={{ marginTop: 16 }}
                    closable
                    onClose={() => setActionError(null)}
                  />
                ) : null}
                <Space wrap style={{ marginTop: 20 }}>
                  <Button icon={<PlusOutlined />} onClick={() => setDialog({ kind: "create", parentId: selected.id })} data-testid="dept-add-child">
                    {t("dept.addChild")}
                  </Button>
                  <Button icon={<EditOutlined />} onClick={() => setDialog({ kind: "rename", dept: selected })} data-testid="dept-rename">
                    {t("dept.rename")}
                  </Button>
                  <Button
                    icon={<DragOutlined />}
                    onClick={() => setDialog({ kind: "move", dept: selected })}
                    disabled={isRoot}
                    data-testid="dept-move"
                  >
                    {t("dept.move")}
                  </Button>
                  <Popconfirm
                    title={t("dept.deleteConfirm", { name: selected.name })}
                    description={t("dept.deleteHint")}
                    okText={t("common.delete")}
                    cancelText={t("common.cancel")}
                    okButtonProps={{ danger: true }}
                    onConfirm={() => remove(selected)}
                    disabled={isRoot}
                  >
                    <Button danger icon={<DeleteOutlined />} loading={deleting} disabled={isRoot} data-testid="dept-delete">
                      {t("common.delete")}
                    </Button>
                  </Popconfirm>
                </Space>
                {isRoot ? (
                  <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>
                    {t("dept.rootHint")}
                  </Typography.Paragraph>
                ) : null}
              </div>
            ) : departments.loading ? (
              <Skeleton active />
            ) : (
              <Empty description={t("dept.pick")} />
            )}
          </Card>
        </Col>
      </Row>
      <DepartmentDialog
        dialog={dialog}
        departments={departments.list}
        onClose={() => setDialog(null)}
        onSaved={(dept) => {
          setDialog(null);
          setActionError(null);
          setSelectedId(dept.id);
          departments.reload();
        }}
      />
    </div>
  );
}

interface DialogValues {
  name?: string;
  parent_id?: string;
  kind?: DepartmentKind;
}

function DepartmentDialog({
  dialog,
  departments,
  onClose,
  onSaved,
}: {
  dialog: Dialog;
  departments: Department[];
  onClose: () => void;
  onSaved: (dept: Department) => void;
}) {
  const { t } = useI18n();
  const org = useCurrentOrg();
  const kindLabel = useKindLabel();
  const errorText = useErrorText();
  const [form] = Form.useForm<DialogValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const kinds = departmentKinds(org.kind);
  const blocked = useMemo(
    () => (dialog?.kind === "move" ? subtreeIds(departments, dialog.dept.id) : new Set<string>()),
    [dialog, departments],
  );
  const parentTree = useMemo(
    () => toTreeData(buildTree(departments), { disabled: (d) => blocked.has(d.id) }),
    [departments, blocked],
  );

  useEffect(() => {
    if (dialog) setError(null);
  }, [dialog]);

  const initialValues: DialogValues =
    dialog?.kind === "create"
      ? { name: "", parent_id: dialog.parentId ?? undefined, kind: "department" }
      : dialog?.kind === "rename"
        ? { name: dialog.dept.name }
        : dialog?.kind === "move"
          ? { parent_id: dialog.dept.parent_id ?? undefined }
          : {};

  const submit = async (values: DialogValues) => {
    if (!dialog) return;
    setBusy(true);
    setError(null);
    try {
      let saved: Department;
      if (dialog.kind === "create") {
        saved = await orgsApi.createDepartment(org.id, {
          name: (values.name ?? "").trim(),
          parent_id: values.parent_id as string,
          kind: values.kind ?? "department",
        });
      } else if (dialog.kind === "rename") {
        saved = await orgsApi.updateDepartment(org.id, dialog.dept.id, { name: (values.name ?? "").trim() });
      } else {
        saved = await orgsApi.updateDepartment(org.id, dialog.dept.id, { parent_id: values.parent_id });
      }
      onSaved(saved);
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const title =
    dialog?.kind === "create"
      ? t("dept.create")
      : dialog?.kind === "rename"
        ? t("dept.renameTitle", { name: dialog.dept.name })
        : dialog?.kind === "move"
          ? t("dept.moveTitle", { name: dialog.dept.name })
          : "";

  return (
    <Modal open={!!dialog} title={title} onCancel={onClose} footer={null} destroyOnHidden>
      <Form
        key={dialog ? `${dialog.kind}-${"dept" in dialog ? dialog.dept.id : dialog.parentId}` : "closed"}
        form={form}
        layout="vertical"
        onFinish={submit}
        requiredMark={false}
        initialValues={initialValues}
      >
        {error ? <Alert type="error" showIcon role="alert" message={errorText(error)} style={{ marginBottom: 16 }} /> : null}
        {dialog?.kind !== "move" ? (
          <Form.Item name="name" label={t("dept.name")} rules={[{ required: true, whitespace: true, message: t("dept.nameRequired") }]}>
            <Input data-testid="dept-name" maxLength={100} autoFocus />
          </Form.Item>
        ) : null}
        {dialog?.kind !== "rename" ? (
          <Form.Item
            name="parent_id"
            label={dialog?.kind === "move" ? t("dept.newParent") : t("dept.parent")}
            rules={[{ required: true, message: t("dept.parentRequired") }]}
          >
            <TreeSelect
              data-testid="dept-parent"
              treeData={parentTree}
              treeDefaultExpandAll
              showSearch
              treeNodeFilterProp="title"
              treeNodeLabelProp="label"
              placeholder={t("dept.parentPlaceholder")}
            />
          </Form.Item>
        ) : null}
        {dialog?.kind === "create" && kinds.length > 1 ? (
          <Form.Item name="kind" label={t("dept.kind")}>
            <Select data-testid="dept-kind" options={kinds.map((k) => ({ value: k, label: kindLabel(k) }))} />
          </Form.Item>
        ) : null}
        <Flex justify="end" gap={8}>
          <Button onClick={onClose}>{t("common.cancel")}</Button>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="dept-submit">
            {dialog?.kind === "create" ? t("common.create") : t("common.save")}
          </Button>
        </Flex>
      </Form>
    </Modal>
  );
}
