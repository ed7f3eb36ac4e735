import { Alert, Button, Form, Input } from "antd";
import { useState } from "react";
import type { SessionInfo } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { applyFieldErrors } from "../lib/forms";
import { useI18n } from "../i18n";
import { useErrorText } from "./ErrorAlert";

interface Values {
  login: string;
  password: string;
}

export function SignInForm({ onSignedIn, submitLabel }: {
  onSignedIn: (info: SessionInfo) => void | Promise<void>;
  submitLabel?: string;
}) {
  const { t } = useI18n();
  const { signIn } = useAuth();
  const errorText = useErrorText();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (values: Values) => {
    setBusy(true);
    setError(null);
    try {
      const info = await signIn(values.login.trim(), values.password);
      await onSignedIn(info);
    } catch (e) {
      applyFieldErrors(form, e);
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Form form={form} layout="vertical" onFinish={submit} requiredMark={false} autoComplete="on">
      {error ? (
        <Alert type="error" showIcon role="alert" data-testid="signin-error" message={errorText(error)} style={{ marginBottom: 16 }} />
      ) : null}
      <Form.Item
        name="login"
        label={t("auth.login")}
        rules={[{ required: true, whitespace: true, message: t("auth.loginRequired") }]}
      >
        <Input data-testid="signin-login" autoComplete="username" placeholder={t("auth.loginPlaceholder")} size="large" />
      </Form.Item>
      <Form.Item name="password" label={t("auth.password")} rules={[{ required: true, message: t("auth.passwordRequired") }]}>
        <Input.Password data-testid="signin-password" autoComplete="current-password" size="large" />
      </Form.Item>
      <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="signin-submit">
        {submitLabel ?? t("auth.signIn")}
      </Button>
    </Form>
  );
}
