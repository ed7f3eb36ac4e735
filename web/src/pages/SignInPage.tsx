import { Typography } from "antd";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { safeNext, useAuth } from "../auth/AuthContext";
import { AuthLayout } from "../components/AuthLayout";
import { SignInForm } from "../components/SignInForm";
import { useI18n } from "../i18n";

export function SignInPage() {
  const { t } = useI18n();
  const { status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));

  if (status === "signedIn") return <Navigate to={next} replace />;

  const signUpLink = params.get("next") ? `/sign-up?next=${encodeURIComponent(next)}` : "/sign-up";
  return (
    <AuthLayout title={t("auth.signInTitle")} subtitle={t("auth.signInSubtitle")}>
      <SignInForm onSignedIn={() => navigate(next, { replace: true })} />
      <Typography.Paragraph style={{ marginTop: 24, marginBottom: 0, textAlign: "center" }}>
        {t("auth.noAccount")}{" "}
        <Link to={signUpLink} data-testid="signup-link">
          {t("auth.createAccount")}
        </Link>
      </Typography.Paragraph>
    </AuthLayout>
  );
}
