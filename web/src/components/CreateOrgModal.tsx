import { Alert, Button, Flex, Form, Input, Modal, Radio } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { orgs as orgsApi } from "../api/endpoints";
import type { OrgKind } from "../api/types";
import { applyFieldErrors } from "../lib/forms";
import { useI18n } from "../i18n";
import { useOrgs } from "../orgs/OrgsContext";
import { useErrorText } from "./ErrorAlert";

interface Values {
  name: string;
  kind: OrgKind;
}

export function CreateOrgModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const { reload, rememberOrg } = useOrgs();
  const navigate = useNavigate();
  const errorText = useErrorText();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (values: Values) => {
    setBusy(true);
    setError(null);
    try {
      const org = await orgsApi.create(values.name.trim(), values.kind);
      await reload().catch(() => undefined);
      rememberOrg(org.id);
      onClose();
      navigate(`/orgs/${org.id}/contacts`);
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t("org.createTitle")}
      onCancel={onClose}
      footer={null}
      destroyOnHidden
      afterOpenChange={(visible) => {
        if (!visible) setError(null);
      }}
    >
      <Form form={form} layout="vertical" onFinish={submit} initialValues={{ kind: "company" }} requiredMark={false}>
        {error ? <Alert type="error" showIcon role="alert" message={errorText(error)} style={{ marginBottom: 16 }} /> : null}
        <Form.Item name="name" label={t("org.name")} rules={[{ required: true, whitespace: true, message: t("org.nameRequired") }]}>
          <Input data-testid="org-create-name" maxLength={100} placeholder={t("org.namePlaceholder")} autoFocus />
        </Form.Item>
        <Form.Item name="kind" label={t("org.kind")}>
          <Radio.Group data-testid="org-create-kind">
            <Radio value="company">{t("org.kind.company")}</Radio>
            <Radio value="school">{t("org.kind.school")}</Radio>
          </Radio.Group>
        </Form.Item>
        <Flex justify="end" gap={8}>
          <Button onClick={onClose}>{t("common.cancel")}</Button>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="org-create-submit">
            {t("org.create")}
          </Button>
        </Flex>
      </Form>
    </Modal>
  );
}

/** Takes a code or a whole invitation link and returns the code, or null. */
export function invitationCodeFrom(text: string): string | null {
  const trimmed = text.trim();
  const match = trimmed.match(/\/join\/([A-Za-z0-9]{4,32})\/?(?:[?#].*)?$/) ?? trimmed.match(/^([A-Za-z0-9]{4,32})$/);
  return match ? match[1] : null;
}

export function JoinCodeForm({ onDone }: { onDone?: () => void }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [form] = Form.useForm<{ code: string }>();
  return (
    <Form
      form={form}
      layout="vertical"
      requiredMark={false}
      onFinish={({ code }) => {
        const parsed = invitationCodeFrom(code);
        if (parsed) {
          onDone?.();
          navigate(`/join/${parsed}`);
        }
      }}
    >
      <Form.Item
        name="code"
        label={t("welcome.codeLabel")}
        rules={[
          { required: true, message: t("welcome.codeRequired") },
          {
            validator: (_, value: string | undefined) =>
              !value || invitationCodeFrom(value) ? Promise.resolve() : Promise.reject(new Error(t("welcome.codeInvalid"))),
          },
        ]}
      >
        <Input data-testid="join-code" placeholder={t("welcome.codePlaceholder")} />
      </Form.Item>
      <Button htmlType="submit" type="primary" data-testid="join-code-submit">
        {t("welcome.continue")}
      </Button>
    </Form>
  );
}

export function JoinCodeModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  return (
    <Modal open={open} title={t("welcome.joinTitle")} onCancel={onClose} footer={null} destroyOnHidden>
      <JoinCodeForm onDone={onClose} />
    </Modal>
  );
}
