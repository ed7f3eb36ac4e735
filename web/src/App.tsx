import { App as AntApp, Button, ConfigProvider, Result } from "antd";
import enUS from "antd/es/locale/en_US";
import zhCN from "antd/es/locale/zh_CN";
import { useEffect, useLayoutEffect } from "react";
import { BrowserRouter, Link, Navigate, Outlet, Route, Routes, useLocation, useNavigate, useParams } from "react-router-dom";
import { setUnauthorizedHandler } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { ErrorAlert } from "./components/ErrorAlert";
import { FullPageSpinner } from "./components/FullPageSpinner";
import { Shell } from "./components/Shell";
import { I18nProvider, useI18n } from "./i18n";
import { CurrentOrgProvider, OrgsProvider, pickOrg, useOrgs } from "./orgs/OrgsContext";
import { TokensPage } from "./pages/account/TokensPage";
import { SessionsPage } from "./pages/account/SessionsPage";
import { DepartmentsPage } from "./pages/admin/DepartmentsPage";
import { InvitationsPage } from "./pages/admin/InvitationsPage";
import { MembersPage } from "./pages/admin/MembersPage";
import { ContactsPage } from "./pages/ContactsPage";
import { JoinPage } from "./pages/JoinPage";
import { SignInPage, SignUpPage } from "./pages/AuthPage";
import { WelcomePage } from "./pages/WelcomePage";
import { ChatPage } from "./pages/chat/ChatPage";
import { DingInboxPage } from "./pages/chat/DingInboxPage";
import { AttendancePage } from "./pages/rooms/AttendancePage";
import { GuestPage } from "./pages/rooms/GuestPage";
import { MeetingsPage } from "./pages/rooms/MeetingsPage";
import { RoomPage } from "./pages/rooms/RoomPage";
import { OpsWarnings } from "./rooms/OpsWarnings";
import { RoomEventsProvider } from "./rooms/RoomEvents";
import { StreamProvider } from "./stream/StreamProvider";

export function App() {
  return (
    <AppFrame>
      <BrowserRouter>
        <AuthProvider>
          <AppRoutes />
        </AuthProvider>
      </BrowserRouter>
    </AppFrame>
  );
}

/** Language, Ant Design's locale and theme, and its message/modal context. */
export function AppFrame({ children }: { children: React.ReactNode }) {
  return (
    <I18nProvider>
      <ThemedFrame>{children}</ThemedFrame>
    </I18nProvider>
  );
}

function ThemedFrame({ children }: { children: React.ReactNode }) {
  const { lang } = useI18n();
  return (
    <ConfigProvider
      locale={lang === "zh" ? zhCN : enUS}
      theme={{ token: { colorPrimary: "#1677ff", borderRadius: 6 } }}
      button={{ autoInsertSpace: false }}
    >
      <AntApp>{children}</AntApp>
    </ConfigProvider>
  );
}

const PUBLIC_PREFIXES = ["/sign-in", "/sign-up", "/join/", "/guest/"];

/** A 401 from any request means the session is gone: go to sign-in and come back afterwards. */
function UnauthorizedRedirect() {
  const { markSignedOut } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  useLayoutEffect(() => {
    setUnauthorizedHandler(() => {
      const path = window.location.pathname;
      markSignedOut();
      if (PUBLIC_PREFIXES.some((p) => path.startsWith(p))) return;
      const next = `${path}${window.location.search}`;
      navigate(`/sign-in?next=${encodeURIComponent(next)}`, { replace: true });
    });
    return () => setUnauthorizedHandler(null);
  }, [markSignedOut, navigate, location.key]);
  return null;
}

export function AppRoutes() {
  return (
    <>
      <UnauthorizedRedirect />
      <Routes>
        <Route path="/sign-in" element={<SignInPage />} />
        <Route path="/sign-up" element={<SignUpPage />} />
        <Route path="/join/:code" element={<JoinPage />} />
        <Route path="/guest/:code" element={<GuestPage />} />
        <Route
          element={
            <RequireAuth>
              <OrgsProvider>
                <StreamProvider>
                  <RoomEventsProvider>
                    <OpsWarnings />
                    <Shell />
                  </RoomEventsProvider>
                </StreamProvider>
              </OrgsProvider>
            </RequireAuth>
          }
        >
          <Route index element={<HomeRedirect />} />
          <Route path="welcome" element={<WelcomePage />} />
          <Route path="account/tokens" element={<TokensPage />} />
          <Route path="account/sessions" element={<SessionsPage />} />
          <Route path="orgs/:orgId" element={<OrgScope />}>
            <Route index element={<Navigate to="contacts" replace />} />
            <Route path="contacts" element={<ContactsPage />} />
            <Route path="chat/:conversationId?" element={<ChatPage />} />
            <Route path="dings" element={<DingInboxPage />} />
            <Route path="meetings" element={<MeetingsPage />} />
            <Route path="rooms/:roomId" element={<RoomPage />} />
            <Route path="rooms/:roomId/attendance" element={<AttendancePage />} />
            <Route path="admin" element={<RequireAdmin />}>
              <Route index element={<Navigate to="departments" replace />} />
              <Route path="departments" element={<DepartmentsPage />} />
              <Route path="members" element={<MembersPage />} />
              <Route path="invitations" element={<InvitationsPage />} />
            </Route>
          </Route>
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </>
  );
}

function RequireAuth({ children }: { children: React.ReactNode }) {
  const { status, recheck } = useAuth();
  const { t } = useI18n();
  const location = useLocation();
  if (status === "loading") return <FullPageSpinner />;
  if (status === "unreachable") {
    return (
      <Result
        status="warning"
        title={t("error.unreachableTitle")}
        subTitle={t("error.network")}
        extra={<Button onClick={recheck}>{t("common.retry")}</Button>}
      />
    );
  }
  if (status !== "signedIn") {
    const next = `${location.pathname}${location.search}`;
    const to = next === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`;
    return <Navigate to={to} replace />;
  }
  return <>{children}</>;
}

function HomeRedirect() {
  const { orgs, loading, error, reload, lastOrgId } = useOrgs();
  if (loading) return <FullPageSpinner />;
  if (error && orgs.length === 0) return <ErrorAlert error={error} onRetry={() => reload().catch(() => undefined)} />;
  const org = pickOrg(orgs, lastOrgId);
  if (!org) return <Navigate to="/welcome" replace />;
  return <Navigate to={`/orgs/${org.id}/contacts`} replace />;
}

function OrgScope() {
  const { orgId } = useParams();
  const { orgs, loading, error, reload, rememberOrg } = useOrgs();
  const { t } = useI18n();
  const org = orgs.find((o) => o.id === orgId);
  useEffect(() => {
    if (org) rememberOrg(org.id);
  }, [org, rememberOrg]);
  if (loading) return <FullPageSpinner />;
  if (!org) {
    if (error) return <ErrorAlert error={error} onRetry={() => reload().catch(() => undefined)} />;
    return (
      <Result
        status="404"
        title={t("org.notFoundTitle")}
        subTitle={t("org.notFound")}
        extra={
          <Link to="/">
            <Button type="primary">{t("join.goHome")}</Button>
          </Link>
        }
      />
    );
  }
  return (
    <CurrentOrgProvider value={org}>
      <Outlet key={org.id} />
    </CurrentOrgProvider>
  );
}

function RequireAdmin() {
  const { orgId } = useParams();
  const { orgs } = useOrgs();
  const { t } = useI18n();
  const org = orgs.find((o) => o.id === orgId);
  if (!org?.is_admin) {
    return (
      <Result
        status="403"
        title={t("admin.onlyAdminsTitle")}
        subTitle={t("admin.onlyAdmins")}
        extra={
          <Link to={`/orgs/${orgId}/contacts`}>
            <Button type="primary">{t("nav.contacts")}</Button>
          </Link>
        }
      />
    );
  }
  return <Outlet />;
}

function NotFound() {
  const { t } = useI18n();
  return (
    <Result
      status="404"
      title={t("common.notFoundTitle")}
      subTitle={t("common.notFound")}
      extra={
        <Link to="/">
          <Button type="primary">{t("join.goHome")}</Button>
        </Link>
      }
    />
  );
}
