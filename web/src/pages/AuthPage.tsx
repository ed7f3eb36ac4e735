import { Typography } from "antd";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { safeNext, useAuth } from "../auth/AuthContext";
import { AuthLayout } from "../components/AuthLayout";
import { SignInForm } from "../components/SignInForm";
import { SignUpForm } from "../components/SignUpForm";
import { useI18n } from "../i18n";

/**
 * The sign-in and sign-up pages: the form, and a link to the other page that keeps where the
 * person was going (`?next=`). A signed-in visitor goes straight on.
 */
function AuthPage({ mode }: { mode: "signIn" | "signUp" }) {
  const { t } = useI18n();
  const { status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));

  if (status === "signedIn") return <Navigate to={next} replace />;

  const goOn = () => navigate(next, { replace: true });
  const other = mode === "signIn" ? "/sign-up" : "/sign-in";
  const otherLink = params.get("next") ? `${other}?next=${encodeURIComponent(next)}` : other;
  const signIn = mode === "signIn";
  return (
    <AuthLayout
      title={t(signIn ? "auth.signInTitle" : "auth.signUpTitle")}
      subtitle={t(signIn ? "auth.signInSubtitle" : "auth.signUpSubtitle")}
    >
      {signIn ? <SignInForm onSignedIn={goOn} /> : <SignUpForm onSignedUp={goOn} />}
      <Typography.Paragraph style={{ marginTop: 24, marginBottom: 0, textAlign: "center" }}>
        {t(signIn ? "auth.noAccount" : "auth.haveAccount")}{" "}
        <Link to={otherLink} data-testid={signIn ? "signup-link" : "signin-link"}>
          {t(signIn ? "auth.createAccount" : "auth.signIn")}
        </Link>
      </Typography.Paragraph>
    </AuthLayout>
  );
}

export function SignInPage() {
  return <AuthPage mode="signIn" />;
}

export function SignUpPage() {
  return <AuthPage mode="signUp" />;
}
