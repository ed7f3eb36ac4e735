import { Form, Input, Modal, Segmented, Select, Spin } from "antd";
import { useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";
import { chat as chatApi, orgs as orgsApi } from "../../api/endpoints";
import type { Member } from "../../api/types";
import { useChat } from "../../chat/ChatContext";
import { ErrorAlert } from "../../components/ErrorAlert";
import { MemberPicker } from "../../components/MemberPicker";
import { useI18n } from "../../i18n";
import { useDebounced } from "../../lib/useAsync";

/** Chooses several people of the organization, searching as you type. */
export function PeopleSelect({
  orgId,
  value,
  onChange,
  exclude = [],
  testId,
}: {
  orgId: string;
  value?: string[];
  onChange?: (value: string[]) => void;
  exclude?: string[];
  testId?: string;
}) {
  const { t } = useI18n();
  const [search, setSearch] = useState("");
  const query = useDebounced(search.trim(), 250);
  const [options, setOptions] = useState<Member[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    orgsApi
      .members(orgId, { q: query || undefined, limit: 20 }, abort.signal)
      .then((page) => {
        setOptions(page.items);
        setNames((known) => ({ ...known, ...Object.fromEntries(page.items.map((m) => [m.id, m.display_name])) }));
      })
      .catch(() => setOptions([]))
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
  }, [orgId, query]);

  const items = options
    .filter((m) => !exclude.includes(m.id))
    .map((m) => ({ value: m.id, label: m.title ? `${m.display_name} · ${m.title}` : m.display_name }));
  for (const id of value ?? []) if (!items.some((o) => o.value === id)) items.push({ value: id, label: names[id] ?? id });

  return (
    <Select
      mode="multiple"
      data-testid={testId}
      style={{ width: "100%" }}
      value={value ?? []}
      placeholder={t("chat.pickPeople")}
      filterOption={false}
      showSearch
      onSearch={setSearch}
      onChange={(v) => {
        onChange?.(v as string[]);
        setSearch("");
      }}
      notFoundContent={loading ? <Spin size="small" /> : t("contacts.noMatches", { q: query })}
      options={items}
    />
  );
}

/** Starts a one-to-one conversation with a person, or a group with a name and members. */
export function NewConversationModal({
  kind,
  onKind,
  onClose,
}: {
  kind: "direct" | "group" | null;
  onKind: (kind: "direct" | "group") => void;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const chat = useChat();
  const navigate = useNavigate();
  const [form] = Form.useForm<{ member_id?: string; name?: string; member_ids?: string[] }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (kind) {
      form.resetFields();
      setError(null);
    }
  }, [kind, form]);

  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      const conversation =
        kind === "direct"
          ? await chatApi.createConversation(chat.org.id, { kind: "direct", member_id: values.member_id as string })
          : await chatApi.createConversation(chat.org.id, {
              kind: "group",
              name: (values.name ?? "").trim(),
              member_ids: values.member_ids ?? [],
            });
      chat.upsert(conversation);
      onClose();
      navigate(`/orgs/${chat.org.id}/chat/${conversation.id}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={kind !== null}
      title={t("chat.newConversation")}
      onCancel={onClose}
      onOk={submit}
      okText={t("chat.start")}
      cancelText={t("common.cancel")}
      confirmLoading={busy}
      okButtonProps={{ "data-testid": "new-conversation-submit" }}
      destroyOnHidden
    >
      <Segmented
        block
        value={kind ?? "direct"}
        onChange={(v) => onKind(v as "direct" | "group")}
        options={[
          { value: "direct", label: t("chat.newDirect") },
          { value: "group", label: t("chat.newGroup") },
        ]}
        style={{ marginBottom: 16 }}
      />
      <Form form={form} layout="vertical" requiredMark={false} onFinish={submit}>
        {kind === "direct" ? (
          <Form.Item name="member_id" label={t("chat.pickPerson")} rules={[{ required: true, message: t("chat.personRequired") }]}>
            <MemberPicker orgId={chat.org.id} exclude={[chat.me]} placeholder={t("chat.pickPerson")} testId="new-conversation-person" />
          </Form.Item>
        ) : (
          <>
            <Form.Item
              name="name"
              label={t("chat.groupName")}
              rules={[{ required: true, whitespace: true, message: t("chat.groupNameRequired") }]}
            >
              <Input maxLength={100} data-testid="new-group-name" />
            </Form.Item>
            <Form.Item
              name="member_ids"
              label={t("chat.groupMembers")}
              rules={[{ required: true, type: "array", min: 1, message: t("chat.groupMembersRequired") }]}
            >
              <PeopleSelect orgId={chat.org.id} exclude={[chat.me]} testId="new-group-members" />
            </Form.Item>
          </>
        )}
      </Form>
      <ErrorAlert error={error} />
    </Modal>
  );
}
