import { App as AntApp, Checkbox, Form, Input, Modal, Select } from "antd";
import { useEffect, useRef, useState } from "react";
import { chat as chatApi } from "../../api/endpoints";
import type { ConversationMember, Message } from "../../api/types";
import { newClientMsgId } from "../../chat/format";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useI18n } from "../../i18n";

const REMIND_CHOICES = [0, 5, 15, 30, 60];

/** Sends a DING to chosen people of the conversation. A retry after a failure reuses the client
 * message id, so it never makes two. */
export function DingModal({
  open,
  orgId,
  conversationId,
  members,
  me,
  onClose,
  onSent,
}: {
  open: boolean;
  orgId: string;
  conversationId: string;
  members: ConversationMember[];
  me: string;
  onClose: () => void;
  onSent: (message: Message) => void;
}) {
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm<{ body: string; recipient_ids: string[]; remind: number }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const clientMsgId = useRef(newClientMsgId());
  const others = members.filter((m) => m.member_id !== me);

  useEffect(() => {
    if (!open) return;
    form.resetFields();
    setError(null);
    clientMsgId.current = newClientMsgId();
    // In a one-to-one conversation there is only one person to DING.
    if (others.length === 1) form.setFieldsValue({ recipient_ids: [others[0].member_id] });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(null);
    try {
      const sent = await chatApi.sendDing(orgId, conversationId, {
        client_msg_id: clientMsgId.current,
        body: values.body.trim(),
        recipient_ids: values.recipient_ids,
        remind_after_minutes: values.remind ? values.remind : null,
      });
      onSent(sent.message);
      message.success(t("ding.sentDone"));
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t("ding.sendTitle")}
      onCancel={onClose}
      onOk={submit}
      okText={t("ding.send")}
      cancelText={t("common.cancel")}
      okButtonProps={{ danger: true, "data-testid": "ding-submit" }}
      confirmLoading={busy}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" requiredMark={false} initialValues={{ remind: 0, recipient_ids: [] }}>
        <Form.Item name="body" label={t("ding.body")} rules={[{ required: true, whitespace: true, message: t("ding.bodyRequired") }]}>
          <Input.TextArea autoSize={{ minRows: 2, maxRows: 6 }} maxLength={10000} data-testid="ding-body" />
        </Form.Item>
        <Form.Item
          name="recipient_ids"
          label={t("ding.recipients")}
          rules={[{ required: true, type: "array", min: 1, message: t("ding.recipientsRequired") }]}
        >
          <Checkbox.Group style={{ display: "flex", flexWrap: "wrap", gap: 8, maxHeight: 200, overflow: "auto" }} data-testid="ding-recipients">
            {others.map((m) => (
              <Checkbox key={m.member_id} value={m.member_id}>
                <span data-testid="ding-recipient" data-member-id={m.member_id}>
                  {m.display_name}
                </span>
              </Checkbox>
            ))}
          </Checkbox.Group>
        </Form.Item>
        <Form.Item name="remind" label={t("ding.remind")}>
          <Select
            options={REMIND_CHOICES.map((minutes) => ({
              value: minutes,
              label: minutes ? t("ding.remindAfter", { minutes }) : t("ding.remindNever"),
            }))}
            data-testid="ding-remind"
          />
        </Form.Item>
      </Form>
      <ErrorAlert error={error} />
    </Modal>
  );
}
