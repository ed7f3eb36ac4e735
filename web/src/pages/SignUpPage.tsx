import { Typography } from "antd";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { safeNext, useAuth } from "../auth/AuthContext";
import { AuthLayout } from "../components/AuthLayout";
import { SignUpForm } from "../components/SignUpForm";
import { useI18n } from "../i18n";

export function SignUpPage() {
  const { t } = useI18n();
  const { status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));

  if (status === "signedIn") return <Navigate to={next} replace />;

  const signInLink = params.get("next") ? `/sign-in?next=${encodeURIComponent(next)}` : "/sign-in";
  return (
    <AuthLayout title={t("auth.signUpTitle")} subtitle={t("auth.signUpSubtitle")}>
      <SignUpForm onSignedUp={() => navigate(next, { replace: true })} />
      <Typography.Paragraph style={{ marginTop: 24, marginBottom: 0, textAlign: "center" }}>
        {t("auth.haveAccount")}{" "}
        <Link to={signInLink} data-testid="signin-link">
          {t("auth.signIn")}
        </Link>
      </Typography.Paragraph>
    </AuthLayout>
  );
}
