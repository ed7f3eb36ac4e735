import { Card, Typography } from "antd";
import { CopyText } from "../../components/CopyText";
import { useI18n } from "../../i18n";

/** The link of the guest page. */
export const guestLink = (code: string) => `${window.location.origin}/guest/${code}`;

/** For hosts of a meeting that lets guests in: the link and passcode to share, with copy buttons. */
export function GuestAccessCard({ code, passcode, bordered = true }: { code: string; passcode: string | null; bordered?: boolean }) {
  const { t } = useI18n();
  return (
    <Card size="small" title={t("guest.cardTitle")} data-testid="room-guests" variant={bordered ? "outlined" : "borderless"}>
      <Typography.Paragraph type="secondary" style={{ marginBottom: 8, fontSize: 13 }}>
        {t("guest.cardHint")}
      </Typography.Paragraph>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {t("guest.link")}
      </Typography.Text>
      <CopyText text={guestLink(code)} testId="room-guest-link" />
      {passcode ? (
        <>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t("guest.passcode")}
          </Typography.Text>
          <CopyText text={passcode} testId="room-guest-passcode" code />
        </>
      ) : null}
    </Card>
  );
}
