import { Alert, Button, Descriptions, Divider, Result, Space, Typography } from "antd";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { invitations } from "../api/endpoints";
import type { InvitationPreview } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { AuthLayout } from "../components/AuthLayout";
import { useErrorText } from "../components/ErrorAlert";
import { FullPageSpinner } from "../components/FullPageSpinner";
import { SignInForm } from "../components/SignInForm";
import { SignUpForm } from "../components/SignUpForm";
import { useI18n, type MessageKey } from "../i18n";
import { useRoleLabel } from "../lib/labels";
import { useAsync } from "../lib/useAsync";
import { writeLastOrg } from "../orgs/OrgsContext";

const DEAD_TITLES: Record<string, MessageKey> = {
  invitation_expired: "join.expired",
  invitation_revoked: "join.revoked",
  invitation_used_up: "join.usedUp",
  invitation_not_found: "join.notFound",
};

export function JoinPage() {
  const { code = "" } = useParams();
  const { t } = useI18n();
  const preview = useAsync(() => invitations.preview(code), [code]);

  if (preview.loading) {
    return (
      <AuthLayout>
        <FullPageSpinner />
      </AuthLayout>
    );
  }
  if (preview.error || !preview.data) return <DeadInvitation error={preview.error} onRetry={preview.reload} />;
  return (
    <AuthLayout width={480} title={t("join.title")}>
      <InvitationSummary preview={preview.data} />
      <Divider style={{ margin: "20px 0" }} />
      <JoinActions code={code} preview={preview.data} />
    </AuthLayout>
  );
}

function DeadInvitation({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const { t } = useI18n();
  const errorText = useErrorText();
  const known = error instanceof ApiError && (error.status === 404 || error.status === 410);
  const titleKey: MessageKey =
    error instanceof ApiError
      ? DEAD_TITLES[error.code] ?? (error.status === 410 ? "join.gone" : error.status === 404 ? "join.notFound" : "join.loadFailed")
      : "join.loadFailed";
  return (
    <AuthLayout width={480}>
      <Result
        status={known ? "warning" : "error"}
        title={<span data-testid="join-unavailable">{t(titleKey)}</span>}
        subTitle={
          <Space direction="vertical">
            <span data-testid="join-error-message">{errorText(error)}</span>
            {known ? <span>{t("join.askForNewLink")}</span> : null}
          </Space>
        }
        extra={
          <Space>
            {!known ? <Button onClick={onRetry}>{t("common.retry")}</Button> : null}
            <Link to="/">
              <Button type="primary">{t("join.goHome")}</Button>
            </Link>
          </Space>
        }
      />
    </AuthLayout>
  );
}

function InvitationSummary({ preview }: { preview: InvitationPreview }) {
  const { t, formatDate } = useI18n();
  const roleLabel = useRoleLabel();
  return (
    <>
      <Typography.Paragraph type="secondary" style={{ marginBottom: 4 }}>
        {t("join.invitedBy", { name: preview.inviter_name })}
      </Typography.Paragraph>
      <Typography.Title level={4} style={{ marginTop: 0 }} data-testid="join-org-name">
        {preview.org_name}
      </Typography.Title>
      <Descriptions column={1} size="small" colon={false} styles={{ label: { width: 120 } }}>
        <Descriptions.Item label={t("join.organization")}>
          {preview.org_name} · {t(preview.org_kind === "school" ? "org.kind.school" : "org.kind.company")}
        </Descriptions.Item>
        <Descriptions.Item label={t("join.role")}>
          <span data-testid="join-role">{roleLabel(preview.role)}</span>
        </Descriptions.Item>
        {preview.department_name ? (
          <Descriptions.Item label={t("join.department")}>{preview.department_name}</Descriptions.Item>
        ) : null}
        <Descriptions.Item label={t("join.inviter")}>
          <span data-testid="join-inviter">{preview.inviter_name}</span>
        </Descriptions.Item>
        {preview.invitee_name ? (
          <Descriptions.Item label={t("join.invitee")}>{preview.invitee_name}</Descriptions.Item>
        ) : null}
        <Descriptions.Item label={t("join.expires")}>
          <span data-testid="join-expires">{formatDate(preview.expires_at, true)}</span>
        </Descriptions.Item>
      </Descriptions>
    </>
  );
}

function JoinActions({ code, preview }: { code: string; preview: InvitationPreview }) {
  const { t } = useI18n();
  const { status, account, signOut } = useAuth();
  const navigate = useNavigate();
  const errorText = useErrorText();
  const [mode, setMode] = useState<"signUp" | "signIn">("signUp");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const goTo = (orgId: string | null | undefined) => {
    if (orgId) {
      writeLastOrg(orgId);
      navigate(`/orgs/${orgId}/contacts`, { replace: true });
    } else {
      navigate("/", { replace: true });
    }
  };

  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      const membership = await invitations.accept(code);
      goTo(membership.org_id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (status === "loading") return <FullPageSpinner />;

  const alreadyMember = error instanceof ApiError && error.code === "already_member";
  if (status === "signedIn" && account) {
    return (
      <Space direction="vertical" style={{ width: "100%" }} size="middle">
        {error ? (
          <Alert
            type={alreadyMember ? "info" : "error"}
            showIcon
            role="alert"
            data-testid="join-error"
            message={errorText(error)}
            action={
              alreadyMember ? (
                <Link to="/">
                  <Button size="small" type="primary">
                    {t("join.goHome")}
                  </Button>
                </Link>
              ) : undefined
            }
          />
        ) : null}
        <Typography.Text>{t("join.signedInAs", { name: account.name })}</Typography.Text>
        {alreadyMember ? null : (
          <Button type="primary" size="large" block loading={busy} onClick={accept} data-testid="join-accept">
            {t("join.accept", { org: preview.org_name })}
          </Button>
        )}
        <Button type="link" block onClick={() => signOut().catch(() => undefined)}>
          {t("join.notYou")}
        </Button>
      </Space>
    );
  }

  if (mode === "signIn") {
    return (
      <>
        <Typography.Title level={5} style={{ marginTop: 0 }}>
          {t("join.signInToJoin")}
        </Typography.Title>
        {error ? <Alert type="error" showIcon role="alert" data-testid="join-error" message={errorText(error)} style={{ marginBottom: 16 }} /> : null}
        <SignInForm submitLabel={t("join.signInAndJoin")} onSignedIn={accept} />
        <Button type="link" block style={{ marginTop: 12 }} onClick={() => setMode("signUp")} data-testid="join-new-account">
          {t("join.newAccount")}
        </Button>
      </>
    );
  }

  return (
    <>
      <Typography.Title level={5} style={{ marginTop: 0 }}>
        {t("join.createToJoin")}
      </Typography.Title>
      <SignUpForm
        invitationCode={code}
        defaultName={preview.invitee_name}
        submitLabel={t("join.signUpAndJoin")}
        onSignedUp={(info) => goTo(info.joined_org_id)}
      />
      <Button type="link" block style={{ marginTop: 12 }} onClick={() => setMode("signIn")} data-testid="join-have-account">
        {t("join.haveAccount")}
      </Button>
    </>
  );
}
