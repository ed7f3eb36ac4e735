import { GlobalOutlined } from "@ant-design/icons";
import { Button, Dropdown } from "antd";
import { me } from "../api/endpoints";
import { localeTag, useI18n, type Lang } from "../i18n";

const NAMES: Record<Lang, string> = { zh: "中文", en: "English" };

/** Switches between 中文 and English; remembered in this browser and, when signed in, on the account. */
export function LanguageSwitch({ signedIn = false }: { signedIn?: boolean }) {
  const { lang, setLang, t } = useI18n();
  const choose = (next: Lang) => {
    setLang(next);
    if (signedIn) me.update({ locale: localeTag(next) }).catch(() => undefined);
  };
  return (
    <Dropdown
      trigger={["click"]}
      menu={{
        selectable: true,
        selectedKeys: [lang],
        items: (Object.keys(NAMES) as Lang[]).map((key) => ({
          key,
          label: <span data-testid={`lang-${key}`}>{NAMES[key]}</span>,
        })),
        onClick: ({ key }) => choose(key as Lang),
      }}
    >
      <Button type="text" icon={<GlobalOutlined />} aria-label={t("shell.language")} data-testid="language-switch">
        <span className="tack-lang-name">{NAMES[lang]}</span>
      </Button>
    </Dropdown>
  );
}
