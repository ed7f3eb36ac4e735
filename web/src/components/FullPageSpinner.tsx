import { Flex, Spin } from "antd";
import { useI18n } from "../i18n";

export function FullPageSpinner() {
  const { t } = useI18n();
  return (
    <Flex align="center" justify="center" style={{ minHeight: "60vh" }}>
      <Spin size="large" tip={t("common.loading")}>
        <div style={{ width: 120, height: 80 }} />
      </Spin>
    </Flex>
  );
}
