import {
  ApartmentOutlined,
  BankOutlined,
  DownOutlined,
  KeyOutlined,
  LaptopOutlined,
  LogoutOutlined,
  MailOutlined,
  PlusOutlined,
  TeamOutlined,
  UserOutlined,
  LoginOutlined,
  ReadOutlined,
  CheckOutlined,
  ContactsOutlined,
  MessageOutlined,
  BellOutlined,
  VideoCameraOutlined,
} from "@ant-design/icons";
import { App as AntApp, Avatar, Badge, Button, Dropdown, Flex, Layout, Menu, Typography, type MenuProps } from "antd";
import { useState } from "react";
import { Link, Outlet, useLocation, useMatch, useNavigate } from "react-router-dom";
import type { MyOrg } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { ChatProvider, useOptionalChat } from "../chat/ChatContext";
import { DingBanner } from "../chat/DingBanner";
import { useI18n } from "../i18n";
import { pickOrg, useOrgs } from "../orgs/OrgsContext";
import { ConnectionState } from "./ConnectionState";
import { CreateOrgModal, JoinCodeModal } from "./CreateOrgModal";
import { useErrorText } from "./ErrorAlert";
import { LanguageSwitch } from "./LanguageSwitch";
import { Logo } from "./Logo";

const { Header, Sider, Content } = Layout;

/** The signed-in frame: top bar (organization, connection, language, account), the DING banner
 * and the left menu. The chat of the organization shown lives here, so unread counts and DINGs
 * follow the person across pages. */
export function Shell() {
  const { orgs, lastOrgId } = useOrgs();
  const match = useMatch("/orgs/:orgId/*");
  const urlOrg = match ? orgs.find((o) => o.id === match.params.orgId) ?? null : null;
  const activeOrg = urlOrg ?? (match ? null : pickOrg(orgs, lastOrgId));
  return (
    <ChatProvider org={activeOrg}>
      <ShellFrame activeOrg={activeOrg} />
    </ChatProvider>
  );
}

function ShellFrame({ activeOrg }: { activeOrg: MyOrg | null }) {
  const [creating, setCreating] = useState(false);
  const [joining, setJoining] = useState(false);

  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Header
        style={{
          background: "#fff",
          borderBottom: "1px solid #f0f0f0",
          padding: "0 16px",
          display: "flex",
          alignItems: "center",
          gap: 12,
          position: "sticky",
          top: 0,
          zIndex: 10,
        }}
      >
        <Logo />
        <OrgSwitcher current={activeOrg} onCreate={() => setCreating(true)} onJoin={() => setJoining(true)} />
        <div style={{ flex: 1 }} />
        <ConnectionState />
        <LanguageSwitch signedIn />
        <AccountMenu />
      </Header>
      <DingBanner />
      <Layout>
        {activeOrg ? <SideMenu org={activeOrg} /> : null}
        <Content className="tack-content">
          <Outlet />
        </Content>
      </Layout>
      <CreateOrgModal open={creating} onClose={() => setCreating(false)} />
      <JoinCodeModal open={joining} onClose={() => setJoining(false)} />
    </Layout>
  );
}

function OrgSwitcher({ current, onCreate, onJoin }: { current: MyOrg | null; onCreate: () => void; onJoin: () => void }) {
  const { t } = useI18n();
  const { orgs, rememberOrg } = useOrgs();
  const navigate = useNavigate();

  const items: MenuProps["items"] = [
    ...orgs.map((org) => ({
      key: org.id,
      icon: org.kind === "school" ? <ReadOutlined /> : <BankOutlined />,
      label: (
        <Flex justify="space-between" gap={16} data-testid="org-option">
          <span>{org.name}</span>
          {current?.id === org.id ? <CheckOutlined style={{ color: "#1677ff" }} /> : null}
        </Flex>
      ),
    })),
    ...(orgs.length ? [{ type: "divider" as const }] : []),
    { key: "__create", icon: <PlusOutlined />, label: <span data-testid="org-create">{t("org.createTitle")}</span> },
    { key: "__join", icon: <LoginOutlined />, label: <span data-testid="org-join">{t("welcome.joinTitle")}</span> },
  ];

  return (
    <Dropdown
      trigger={["click"]}
      menu={{
        items,
        onClick: ({ key }) => {
          if (key === "__create") onCreate();
          else if (key === "__join") onJoin();
          else {
            rememberOrg(key);
            navigate(`/orgs/${key}/contacts`);
          }
        },
      }}
    >
      <Button data-testid="org-switcher" style={{ maxWidth: 280 }}>
        <Flex align="center" gap={8} style={{ minWidth: 0 }}>
          {current?.kind === "school" ? <ReadOutlined /> : <BankOutlined />}
          <span style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
            {current ? current.name : t("org.choose")}
          </span>
          <DownOutlined style={{ fontSize: 10 }} />
        </Flex>
      </Button>
    </Dropdown>
  );
}

function SideMenu({ org }: { org: MyOrg }) {
  const { t } = useI18n();
  const location = useLocation();
  const chat = useOptionalChat();
  const unread = chat?.unreadTotal ?? 0;
  const waitingDings = chat?.dings.filter((d) => !d.acknowledged_at).length ?? 0;
  const base = `/orgs/${org.id}`;
  const selected = location.pathname.startsWith(`${base}/chat`)
    ? "chat"
    : location.pathname.startsWith(`${base}/dings`)
      ? "dings"
      : location.pathname.startsWith(`${base}/meetings`) || location.pathname.startsWith(`${base}/rooms`)
      ? "meetings"
      : location.pathname.startsWith(`${base}/admin/departments`)
    ? "departments"
    : location.pathname.startsWith(`${base}/admin/members`)
      ? "members"
      : location.pathname.startsWith(`${base}/admin/invitations`)
        ? "invitations"
        : location.pathname.startsWith(`${base}/contacts`)
          ? "contacts"
          : "";

  const items: MenuProps["items"] = [
    {
      key: "chat",
      icon: <MessageOutlined />,
      label: (
        <Link to={`${base}/chat`} data-testid="chat-nav">
          <Flex justify="space-between" align="center" gap={8}>
            <span>{t("nav.chat")}</span>
            <Badge count={unread} overflowCount={99} size="small" data-testid="chat-nav-unread" />
          </Flex>
        </Link>
      ),
    },
    {
      key: "dings",
      icon: <BellOutlined />,
      label: (
        <Link to={`${base}/dings`} data-testid="nav-dings">
          <Flex justify="space-between" align="center" gap={8}>
            <span>{t("nav.dings")}</span>
            <Badge count={waitingDings} size="small" />
          </Flex>
        </Link>
      ),
    },
    {
      key: "meetings",
      icon: <VideoCameraOutlined />,
      label: (
        <Link to={`${base}/meetings`} data-testid="nav-meetings">
          {t("nav.meetings")}
        </Link>
      ),
    },
    {
      key: "contacts",
      icon: <ContactsOutlined />,
      label: (
        <Link to={`${base}/contacts`} data-testid="nav-contacts">
          {t("nav.contacts")}
        </Link>
      ),
    },
  ];
  if (org.is_admin) {
    items.push({
      key: "admin",
      type: "group",
      label: t("nav.admin"),
      children: [
        {
          key: "departments",
          icon: <ApartmentOutlined />,
          label: (
            <Link to={`${base}/admin/departments`} data-testid="nav-admin-departments">
              {t("nav.departments")}
            </Link>
          ),
        },
        {
          key: "members",
          icon: <TeamOutlined />,
          label: (
            <Link to={`${base}/admin/members`} data-testid="nav-admin-members">
              {t("nav.members")}
            </Link>
          ),
        },
        {
          key: "invitations",
          icon: <MailOutlined />,
          label: (
            <Link to={`${base}/admin/invitations`} data-testid="nav-admin-invitations">
              {t("nav.invitations")}
            </Link>
          ),
        },
      ],
    });
  }
  return (
    <Sider width={208} theme="light" breakpoint="lg" collapsedWidth={0} style={{ borderRight: "1px solid #f0f0f0" }}>
      <Menu mode="inline" selectedKeys={[selected]} items={items} style={{ borderInlineEnd: 0, paddingTop: 8 }} />
    </Sider>
  );
}

function AccountMenu() {
  const { t } = useI18n();
  const { account, signOut } = useAuth();
  const navigate = useNavigate();
  const { message } = AntApp.useApp();
  const errorText = useErrorText();
  if (!account) return null;

  const items: MenuProps["items"] = [
    {
      key: "who",
      disabled: true,
      label: (
        <div style={{ cursor: "default" }}>
          <Typography.Text strong>{account.name}</Typography.Text>
          <br />
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {account.email ?? account.mobile ?? ""}
          </Typography.Text>
        </div>
      ),
    },
    { type: "divider" },
    { key: "tokens", icon: <KeyOutlined />, label: <span data-testid="nav-tokens">{t("nav.tokens")}</span> },
    { key: "sessions", icon: <LaptopOutlined />, label: <span data-testid="nav-sessions">{t("nav.sessions")}</span> },
    { type: "divider" },
    { key: "signOut", icon: <LogoutOutlined />, danger: true, label: <span data-testid="sign-out">{t("nav.signOut")}</span> },
  ];

  return (
    <Dropdown
      trigger={["click"]}
      menu={{
        items,
        onClick: ({ key }) => {
          if (key === "tokens") navigate("/account/tokens");
          else if (key === "sessions") navigate("/account/sessions");
          else if (key === "signOut") {
            signOut().then(
              () => navigate("/sign-in", { replace: true }),
              (e: unknown) => message.error(errorText(e)),
            );
          }
        },
      }}
    >
      <Button type="text" data-testid="account-menu" style={{ paddingInline: 8 }}>
        <Flex align="center" gap={8}>
          <Avatar size="small" style={{ background: "#1677ff" }} icon={account.name ? undefined : <UserOutlined />}>
            {account.name.slice(0, 1).toUpperCase()}
          </Avatar>
          <span className="tack-account-name">{account.name}</span>
        </Flex>
      </Button>
    </Dropdown>
  );
}
