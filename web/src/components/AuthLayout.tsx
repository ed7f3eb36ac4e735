import { Card, Flex, Typography } from "antd";
import type { ReactNode } from "react";
import { useI18n } from "../i18n";
import { LanguageSwitch } from "./LanguageSwitch";
import { Logo } from "./Logo";

/** The frame of the pages seen before signing in: a centred card under the Tack name. */
export function AuthLayout({ title, subtitle, children, width = 420 }: {
  title?: ReactNode;
  subtitle?: ReactNode;
  children: ReactNode;
  width?: number;
}) {
  const { t } = useI18n();
  return (
    <div style={{ minHeight: "100vh", background: "#f5f7fa", display: "flex", flexDirection: "column" }}>
      <Flex justify="space-between" align="center" style={{ padding: "12px 24px" }}>
        <Logo />
        <LanguageSwitch />
      </Flex>
      <Flex justify="center" style={{ flex: 1, padding: "24px 16px 64px" }}>
        <div style={{ width: "100%", maxWidth: width }}>
          <Card>
            {title ? (
              <Typography.Title level={3} style={{ marginTop: 0, marginBottom: subtitle ? 4 : 24 }}>
                {title}
              </Typography.Title>
            ) : null}
            {subtitle ? (
              <Typography.Paragraph type="secondary" style={{ marginBottom: 24 }}>
                {subtitle}
              </Typography.Paragraph>
            ) : null}
            {children}
          </Card>
          <Typography.Paragraph type="secondary" style={{ textAlign: "center", marginTop: 16, fontSize: 12 }}>
            {t("app.tagline")}
          </Typography.Paragraph>
        </div>
      </Flex>
    </div>
  );
}
