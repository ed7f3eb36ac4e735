import { Typography } from "antd";
import { useI18n } from "../i18n";

/** Text shown in full with a copy button beside it. */
export function CopyText({ text, testId, code = false }: { text: string; testId?: string; code?: boolean }) {
  const { t } = useI18n();
  return (
    <Typography.Paragraph
      copyable={{ text, tooltips: [t("common.copy"), t("common.copied")] }}
      style={{ marginBottom: 0, wordBreak: "break-all" }}
    >
      <span data-testid={testId}>{code ? <Typography.Text code>{text}</Typography.Text> : text}</span>
    </Typography.Paragraph>
  );
}
