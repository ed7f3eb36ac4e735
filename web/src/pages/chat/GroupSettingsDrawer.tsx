import { EditOutlined, LogoutOutlined, MoreOutlined, UserAddOutlined } from "@ant-design/icons";
import { Alert, App as AntApp, Button, Drawer, Dropdown, Empty, Flex, Input, List, Tag, Typography } from "antd";
import type { MenuProps } from "antd";
import { useMemo, useState } from "react";
import { chat as chatApi } from "../../api/endpoints";
import type { ConversationDetail, ConversationMember, ConversationRole } from "../../api/types";
import { useChat } from "../../chat/ChatContext";
import { ErrorAlert } from "../../components/ErrorAlert";
import { MemberAvatar } from "../../components/MemberList";
import { useI18n, type MessageKey } from "../../i18n";
import { PeopleSelect } from "./NewConversationModal";

const ROLE_ORDER: Record<ConversationRole, number> = { owner: 0, admin: 1, member: 2 };
const ROLE_LABEL: Record<ConversationRole, MessageKey> = {
  owner: "chat.role.owner",
  admin: "chat.role.admin",
  member: "chat.role.member",
};
const ROLE_COLOR: Record<ConversationRole, string | undefined> = { owner: "gold", admin: "blue", member: undefined };
/** Above this many members a filter box helps find someone. */
const FILTER_FROM = 8;

/** What my role in a group lets me do here, as the server decides it (tack/chat/service.py). */
export interface GroupPermissions {
  rename: boolean;
  addMembers: boolean;
  /** Whether I may remove this person. */
  remove: (target: ConversationMember) => boolean;
  /** Whether I may make this person an admin or a plain member, or hand the group over to them. */
  setRole: (target: ConversationMember) => boolean;
  leave: boolean;
}

export function groupPermissions(detail: ConversationDetail, me: string, mySeat: ConversationMember | undefined): GroupPermissions {
  const role = detail.my_role;
  const manages = role === "owner" || role === "admin";
  // Department and class groups take their members from the department or class: nobody adds or
  // removes people by hand, and only those added by hand (not through the department) can leave.
  const followsDepartment = detail.kind === "department" || detail.kind === "class";
  return {
    rename: manages,
    addMembers: manages && !followsDepartment,
    remove: (target) =>
      manages &&
      !followsDepartment &&
      target.member_id !== me &&
      target.role !== "owner" &&
      (target.role === "member" || role === "owner"),
    setRole: (target) => role === "owner" && target.member_id !== me,
    leave: role !== "owner" && (!followsDepartment || mySeat?.source === "manual"),
  };
}

/** A group's name and announcement, its members with their roles, and what the caller's role lets
 * them change: add and remove people, choose admins, hand the group over, or leave it. */
export function GroupSettingsDrawer({
  open,
  onClose,
  detail,
  members,
  onDetail,
  onMembers,
  reloadMembers,
  onLeaving,
  onLeft,
}: {
  open: boolean;
  onClose: () => void;
  detail: ConversationDetail;
  members: ConversationMember[];
  /** The conversation as the server answered after a change. */
  onDetail: (detail: ConversationDetail) => void;
  /** Applies a change the server confirmed to the member list. */
  onMembers: (update: (list: ConversationMember[]) => ConversationMember[]) => void;
  reloadMembers: () => Promise<void>;
  /** My request to leave is on its way (true), or was refused (false). */
  onLeaving: (leaving: boolean) => void;
  /** I left the group. */
  onLeft: () => void;
}) {
  const { t } = useI18n();
  const chat = useChat();
  const { message: toast, modal } = AntApp.useApp();
  const orgId = chat.org.id;
  const me = chat.me;
  const conversationId = detail.id;
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<"name" | "announcement" | null>(null);
  const [draft, setDraft] = useState("");
  const [saving, setSaving] = useState(false);
  const [adding, setAdding] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);
  const [filter, setFilter] = useState("");

  const mySeat = members.find((m) => m.member_id === me);
  const can = groupPermissions(detail, me, mySeat);
  const followsDepartment = detail.kind === "department" || detail.kind === "class";

  const sorted = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    return members
      .filter((m) => !needle || m.display_name.toLowerCase().includes(needle))
      .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
  }, [members, filter]);

  /** Runs a change; a refusal is shown in the drawer in the server's (or its code's) words. */
  const run = async (change: () => Promise<void>) => {
    setError(null);
    try {
      await change();
    } catch (e) {
      setError(e);
    }
  };

  const startEditing = (field: "name" | "announcement") => {
    setError(null);
    setDraft(field === "name" ? detail.name : detail.announcement ?? "");
    setEditing(field);
  };

  const saveEdit = async () => {
    const value = draft.trim();
    if (editing === "name" && !value) return;
    setSaving(true);
    await run(async () => {
      const updated = await chatApi.updateConversation(
        orgId,
        conversationId,
        editing === "name" ? { name: value } : { announcement: value },
      );
      onDetail(updated);
      chat.upsert(updated);
      setEditing(null);
    });
    setSaving(false);
  };

  const addPicked = async () => {
    if (!picked.length) return;
    setSaving(true);
    await run(async () => {
      const result = await chatApi.addMembers(orgId, conversationId, picked);
      onDetail({ ...detail, member_count: result.member_count });
      setPicked([]);
      setAdding(false);
      toast.success(result.added.length ? t("chat.group.added", { count: result.added.length }) : t("chat.group.alreadyIn"));
      await reloadMembers();
    });
    setSaving(false);
  };

  const setRole = (target: ConversationMember, role: ConversationRole) =>
    run(async () => {
      const updated = await chatApi.setMemberRole(orgId, conversationId, target.member_id, role);
      onDetail(updated);
      onMembers((list) =>
        list.map((m) => {
          if (m.member_id === target.member_id) return { ...m, role };
          // Handing the group over makes the previous owner an admin.
          if (role === "owner" && m.member_id === me) return { ...m, role: "admin" };
          return m;
        }),
      );
    });

  const remove = (target: ConversationMember) =>
    run(async () => {
      await chatApi.removeMember(orgId, conversationId, target.member_id);
      onMembers((list) => list.filter((m) => m.member_id !== target.member_id));
      onDetail({
        ...detail,
        member_count: Math.max(0, detail.member_count - 1),
        admin_ids: detail.admin_ids.filter((id) => id !== target.member_id),
      });
    });

  const confirmRemove = (target: ConversationMember) =>
    modal.confirm({
      title: t("chat.group.removeConfirm", { name: target.display_name }),
      content: t("chat.group.removeHint"),
      okText: t("chat.group.remove"),
      okButtonProps: { danger: true, "data-testid": "group-remove-confirm" },
      cancelText: t("common.cancel"),
      onOk: () => remove(target),
    });

  const confirmTransfer = (target: ConversationMember) =>
    modal.confirm({
      title: t("chat.group.transferConfirm", { name: target.display_name }),
      content: t("chat.group.transferHint"),
      okText: t("chat.group.transfer"),
      okButtonProps: { "data-testid": "group-transfer-confirm" },
      cancelText: t("common.cancel"),
      onOk: () => setRole(target, "owner"),
    });

  const confirmLeave = () =>
    modal.confirm({
      title: t("chat.group.leaveConfirm", { name: detail.name }),
      content: t("chat.group.leaveHint"),
      okText: t("chat.group.leave"),
      okButtonProps: { danger: true, "data-testid": "group-leave-confirm" },
      cancelText: t("common.cancel"),
      onOk: () =>
        run(async () => {
          onLeaving(true);
          try {
            await chatApi.removeMember(orgId, conversationId, me);
          } catch (e) {
            onLeaving(false);
            throw e;
          }
          chat.forget(conversationId);
          toast.success(t("chat.group.left"));
          onLeft();
        }),
    });

  const memberActions = (target: ConversationMember): MenuProps["items"] => {
    const items: NonNullable<MenuProps["items"]> = [];
    if (can.setRole(target)) {
      if (target.role === "member") {
        items.push({
          key: "admin",
          label: <span data-testid="group-member-make-admin">{t("chat.group.makeAdmin")}</span>,
          onClick: () => void setRole(target, "admin"),
        });
      } else if (target.role === "admin") {
        items.push({
          key: "member",
          label: <span data-testid="group-member-unmake-admin">{t("chat.group.unmakeAdmin")}</span>,
          onClick: () => void setRole(target, "member"),
        });
      }
      items.push({
        key: "owner",
        label: <span data-testid="group-member-transfer">{t("chat.group.transfer")}</span>,
        onClick: () => confirmTransfer(target),
      });
    }
    if (can.remove(target)) {
      items.push({
        key: "remove",
        danger: true,
        label: <span data-testid="group-member-remove">{t("chat.group.remove")}</span>,
        onClick: () => confirmRemove(target),
      });
    }
    return items;
  };

  const editor = (field: "name" | "announcement") => {
    const buttons = (
      <Flex gap={8} justify="flex-end">
        <Button
          type="primary"
          loading={saving}
          disabled={field === "name" && !draft.trim()}
          onClick={saveEdit}
          data-testid={field === "name" ? "group-name-save" : "group-announcement-save"}
        >
          {t("common.save")}
        </Button>
        <Button onClick={() => setEditing(null)}>{t("common.cancel")}</Button>
      </Flex>
    );
    return field === "name" ? (
      <Flex gap={8} align="center">
        <Input
          autoFocus
          maxLength={100}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onPressEnter={saveEdit}
          status={draft.trim() ? undefined : "error"}
          data-testid="group-name-input"
        />
        {buttons}
      </Flex>
    ) : (
      <Flex vertical gap={8}>
        <Input.TextArea
          autoFocus
          maxLength={2000}
          autoSize={{ minRows: 2, maxRows: 8 }}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          data-testid="group-announcement-input"
        />
        {buttons}
      </Flex>
    );
  };

  return (
    <Drawer
      open={open}
      onClose={onClose}
      title={t("chat.groupSettings")}
      width={400}
      destroyOnHidden
      footer={
        can.leave ? (
          <Button block danger icon={<LogoutOutlined />} onClick={confirmLeave} data-testid="group-leave">
            {t("chat.group.leave")}
          </Button>
        ) : detail.my_role === "owner" ? (
          <Typography.Text type="secondary" data-testid="group-owner-leave-hint">
            {t("chat.group.ownerCannotLeave")}
          </Typography.Text>
        ) : null
      }
    >
      <div data-testid="group-drawer">
        {error ? (
          <div data-testid="group-error" style={{ marginBottom: 16 }}>
            <ErrorAlert error={error} />
          </div>
        ) : null}

        <section className="tack-group-section">
          <Typography.Text type="secondary">{t("chat.groupName")}</Typography.Text>
          {editing === "name" ? (
            editor("name")
          ) : (
            <Flex align="center" gap={8}>
              <Typography.Text strong style={{ fontSize: 16 }} data-testid="group-name">
                {detail.name}
              </Typography.Text>
              {can.rename ? (
                <Button
                  type="text"
                  size="small"
                  icon={<EditOutlined />}
                  aria-label={t("chat.group.rename")}
                  title={t("chat.group.rename")}
                  onClick={() => startEditing("name")}
                  data-testid="group-rename"
                />
              ) : null}
            </Flex>
          )}
        </section>

        <section className="tack-group-section">
          <Flex align="center" gap={8}>
            <Typography.Text type="secondary">{t("chat.announcement")}</Typography.Text>
            {can.rename && editing !== "announcement" ? (
              <Button
                type="text"
                size="small"
                icon={<EditOutlined />}
                aria-label={t("chat.group.editAnnouncement")}
                title={t("chat.group.editAnnouncement")}
                onClick={() => startEditing("announcement")}
                data-testid="group-announcement-edit"
              />
            ) : null}
          </Flex>
          {editing === "announcement" ? (
            editor("announcement")
          ) : (
            <Typography.Paragraph style={{ whiteSpace: "pre-wrap", margin: 0 }} type={detail.announcement ? undefined : "secondary"} data-testid="group-announcement">
              {detail.announcement || t("chat.group.noAnnouncement")}
            </Typography.Paragraph>
          )}
        </section>

        <section className="tack-group-section">
          <Flex align="center" justify="space-between" style={{ marginBottom: 8 }}>
            <Typography.Text strong>{t("chat.group.members", { count: detail.member_count })}</Typography.Text>
            {can.addMembers && !adding ? (
              <Button size="small" icon={<UserAddOutlined />} onClick={() => setAdding(true)} data-testid="group-add-members">
                {t("chat.group.add")}
              </Button>
            ) : null}
          </Flex>
          {followsDepartment ? (
            <Alert
              type="info"
              showIcon
              style={{ marginBottom: 12 }}
              message={t(detail.kind === "class" ? "chat.group.followsClass" : "chat.group.followsDepartment")}
              data-testid="group-follows-department"
            />
          ) : null}
          {adding ? (
            <Flex vertical gap={8} style={{ marginBottom: 12 }}>
              <PeopleSelect
                orgId={orgId}
                value={picked}
                onChange={setPicked}
                exclude={members.map((m) => m.member_id)}
                testId="group-add-picker"
              />
              <Flex gap={8} justify="flex-end">
                <Button
                  onClick={() => {
                    setAdding(false);
                    setPicked([]);
                  }}
                >
                  {t("common.cancel")}
                </Button>
                <Button type="primary" disabled={!picked.length} loading={saving} onClick={addPicked} data-testid="group-add-submit">
                  {t("chat.group.addSubmit")}
                </Button>
              </Flex>
            </Flex>
          ) : null}
          {members.length > FILTER_FROM ? (
            <Input.Search
              allowClear
              placeholder={t("chat.group.filter")}
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
              style={{ marginBottom: 8 }}
              data-testid="group-member-filter"
            />
          ) : null}
          <List
            size="small"
            dataSource={sorted}
            locale={{
              emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("contacts.noMatches", { q: filter.trim() })} />,
            }}
            renderItem={(m) => {
              const actions = memberActions(m);
              return (
                <List.Item
                  data-testid="group-member-row"
                  data-member-id={m.member_id}
                  data-role={m.role}
                  actions={
                    actions?.length
                      ? [
                          <Dropdown key="actions" trigger={["click"]} menu={{ items: actions }}>
                            <Button
                              type="text"
                              size="small"
                              icon={<MoreOutlined />}
                              aria-label={t("chat.group.memberActions", { name: m.display_name })}
                              title={t("chat.group.memberActions", { name: m.display_name })}
                              data-testid="group-member-actions"
                            />
                          </Dropdown>,
                        ]
                      : undefined
                  }
                >
                  <Flex align="center" gap={10} style={{ minWidth: 0, flex: 1 }}>
                    <MemberAvatar name={m.display_name} id={m.member_id} size={32} />
                    <Typography.Text ellipsis data-testid="group-member-name">
                      {m.display_name}
                    </Typography.Text>
                    {m.member_id === me ? <Typography.Text type="secondary">{t("chat.group.you")}</Typography.Text> : null}
                    <Tag color={ROLE_COLOR[m.role]} data-testid="group-member-role">
                      {t(ROLE_LABEL[m.role])}
                    </Tag>
                  </Flex>
                </List.Item>
              );
            }}
          />
        </section>
      </div>
    </Drawer>
  );
}
