import { BellFilled } from "@ant-design/icons";
import { App as AntApp, Button, Flex, Typography } from "antd";
import { useLayoutEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { useErrorText } from "../components/ErrorAlert";
import { useI18n } from "../i18n";
import { useOptionalChat } from "./ChatContext";

/** The newest DING I have not acknowledged, on top of every page until I do. */
export function DingBanner() {
  const chat = useOptionalChat();
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const errorText = useErrorText();
  const [busy, setBusy] = useState(false);
  const waiting = chat?.dings.filter((d) => !d.acknowledged_at) ?? [];
  const shown = waiting.length > 0;
  const ref = useRef<HTMLDivElement>(null);
  // Pages that fill the window (the chat) leave room for the banner: --tack-banner-h.
  useLayoutEffect(() => {
    const root = document.documentElement;
    const el = ref.current;
    if (!shown || !el) {
      root.style.removeProperty("--tack-banner-h");
      return;
    }
    const measure = () => root.style.setProperty("--tack-banner-h", `${el.offsetHeight}px`);
    measure();
    const observer = typeof ResizeObserver !== "undefined" ? new ResizeObserver(measure) : null;
    observer?.observe(el);
    return () => {
      observer?.disconnect();
      root.style.removeProperty("--tack-banner-h");
    };
  }, [shown]);
  if (!chat || !shown) return null;
  const ding = waiting[0];
  const base = `/orgs/${chat.org.id}`;

  const acknowledge = () => {
    setBusy(true);
    chat
      .acknowledge(ding.id)
      .catch((e: unknown) => message.error(errorText(e)))
      .finally(() => setBusy(false));
  };

  return (
    <div ref={ref} className="tack-ding-banner" data-testid="ding-banner" data-ding-id={ding.id} role="alert">
      <Flex align="center" gap={12} wrap="wrap">
        <BellFilled className="tack-ding-bell" />
        <div style={{ flex: 1, minWidth: 200 }}>
          <Typography.Text strong style={{ color: "#fff" }}>
            {t("ding.from", { name: ding.sender_name })}
          </Typography.Text>
          <div className="tack-ding-body">{ding.body}</div>
        </div>
        {waiting.length > 1 ? (
          <Link to={`${base}/dings`} style={{ color: "#fff", textDecoration: "underline" }}>
            {t("ding.more", { count: waiting.length - 1 })}
          </Link>
        ) : null}
        <Link to={`${base}/chat/${ding.conversation_id}`}>
          <Button ghost size="small">
            {t("ding.openConversation")}
          </Button>
        </Link>
        <Button size="small" onClick={acknowledge} loading={busy} data-testid="ding-ack" style={{ color: "#d4380d", fontWeight: 600 }}>
          {t("ding.ack")}
        </Button>
      </Flex>
    </div>
  );
}
