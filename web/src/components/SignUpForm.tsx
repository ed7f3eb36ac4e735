import { Alert, Button, Form, Input } from "antd";
import { useState } from "react";
import type { SessionInfo } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { applyFieldErrors, blankToNull } from "../lib/forms";
import { localeTag, useI18n } from "../i18n";
import { useErrorText } from "./ErrorAlert";

interface Values {
  name: string;
  email?: string;
  mobile?: string;
  password: string;
}

const MOBILE = /^\+?[0-9]{6,20}$/;

export function SignUpForm({ onSignedUp, invitationCode, submitLabel, defaultName }: {
  onSignedUp: (info: SessionInfo) => void | Promise<void>;
  invitationCode?: string;
  submitLabel?: string;
  defaultName?: string | null;
}) {
  const { t, lang } = useI18n();
  const { signUp } = useAuth();
  const errorText = useErrorText();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (values: Values) => {
    setBusy(true);
    setError(null);
    try {
      const info = await signUp({
        name: values.name.trim(),
        email: blankToNull(values.email),
        mobile: blankToNull(values.mobile)?.replace(/[\s-]/g, "") ?? null,
        password: values.password,
        invitation_code: invitationCode || null,
        locale: localeTag(lang),
      });
      await onSignedUp(info);
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const needOne = ({ getFieldValue }: { getFieldValue: (name: string) => unknown }) => ({
    validator() {
      if (blankToNull(getFieldValue("email") as string) || blankToNull(getFieldValue("mobile") as string)) {
        return Promise.resolve();
      }
      return Promise.reject(new Error(t("auth.emailOrMobileRequired")));
    },
  });

  return (
    <Form
      form={form}
      layout="vertical"
      onFinish={submit}
      requiredMark={false}
      initialValues={{ name: defaultName ?? "" }}
      autoComplete="on"
    >
      {error ? (
        <Alert type="error" showIcon role="alert" data-testid="signup-error" message={errorText(error)} style={{ marginBottom: 16 }} />
      ) : null}
      <Form.Item name="name" label={t("auth.name")} rules={[{ required: true, whitespace: true, message: t("auth.nameRequired") }]}>
        <Input data-testid="signup-name" autoComplete="name" maxLength={100} />
      </Form.Item>
      <Form.Item
        name="email"
        label={t("auth.email")}
        dependencies={["mobile"]}
        rules={[{ type: "email", message: t("auth.emailInvalid") }, needOne]}
      >
        <Input data-testid="signup-email" autoComplete="email" inputMode="email" />
      </Form.Item>
      <Form.Item
        name="mobile"
        label={t("auth.mobile")}
        dependencies={["email"]}
        extra={t("auth.emailOrMobileHint")}
        rules={[
          {
            validator: (_, value: string | undefined) =>
              !value || MOBILE.test(value.replace(/[\s-]/g, ""))
                ? Promise.resolve()
                : Promise.reject(new Error(t("auth.mobileInvalid"))),
          },
          needOne,
        ]}
      >
        <Input data-testid="signup-mobile" autoComplete="tel" inputMode="tel" />
      </Form.Item>
      <Form.Item
        name="password"
        label={t("auth.password")}
        rules={[
          { required: true, message: t("auth.passwordRequired") },
          { min: 8, message: t("auth.passwordTooShort") },
        ]}
      >
        <Input.Password data-testid="signup-password" autoComplete="new-password" />
      </Form.Item>
      <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="signup-submit">
        {submitLabel ?? t("auth.createAccount")}
      </Button>
    </Form>
  );
}
