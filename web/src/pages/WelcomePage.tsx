import { LoginOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Col, Row, Typography } from "antd";
import { useState } from "react";
import { useAuth } from "../auth/AuthContext";
import { CreateOrgModal, JoinCodeForm } from "../components/CreateOrgModal";
import { useI18n } from "../i18n";
import { useOrgs } from "../orgs/OrgsContext";

/** For someone who belongs to no organization yet. */
export function WelcomePage() {
  const { t } = useI18n();
  const { account } = useAuth();
  const { orgs } = useOrgs();
  const [creating, setCreating] = useState(false);
  return (
    <div style={{ maxWidth: 880, margin: "24px auto" }} data-testid="welcome">
      <Typography.Title level={2}>{t("welcome.title", { name: account?.name ?? "" })}</Typography.Title>
      <Typography.Paragraph type="secondary" style={{ fontSize: 16 }}>
        {orgs.length ? t("welcome.subtitleMore") : t("welcome.subtitle")}
      </Typography.Paragraph>
      <Row gutter={[24, 24]} style={{ marginTop: 24 }}>
        <Col xs={24} md={12}>
          <Card style={{ height: "100%" }}>
            <Typography.Title level={4} style={{ marginTop: 0 }}>
              <PlusOutlined /> {t("welcome.createTitle")}
            </Typography.Title>
            <Typography.Paragraph type="secondary">{t("welcome.createText")}</Typography.Paragraph>
            <Button type="primary" size="large" onClick={() => setCreating(true)} data-testid="welcome-create-org">
              {t("org.createTitle")}
            </Button>
          </Card>
        </Col>
        <Col xs={24} md={12}>
          <Card style={{ height: "100%" }}>
            <Typography.Title level={4} style={{ marginTop: 0 }}>
              <LoginOutlined /> {t("welcome.joinTitle")}
            </Typography.Title>
            <Typography.Paragraph type="secondary">{t("welcome.joinText")}</Typography.Paragraph>
            <JoinCodeForm />
          </Card>
        </Col>
      </Row>
      <CreateOrgModal open={creating} onClose={() => setCreating(false)} />
    </div>
  );
}
