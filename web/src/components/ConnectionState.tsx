import { CheckCircleFilled, DisconnectOutlined, LoadingOutlined, SyncOutlined } from "@ant-design/icons";
import { Tag, Tooltip } from "antd";
import type { MessageKey } from "../i18n";
import { useI18n } from "../i18n";
import { useStream } from "../stream/StreamProvider";
import type { StreamState } from "../stream/StreamClient";

const LOOK: Record<StreamState, { color: string; icon: React.ReactNode; label: MessageKey; hint: MessageKey }> = {
  connecting: { color: "processing", icon: <LoadingOutlined />, label: "stream.connecting", hint: "stream.catchingUpHint" },
  live: { color: "success", icon: <CheckCircleFilled />, label: "stream.live", hint: "stream.liveHint" },
  catching_up: { color: "warning", icon: <SyncOutlined spin />, label: "stream.catching_up", hint: "stream.catchingUpHint" },
  offline: { color: "error", icon: <DisconnectOutlined />, label: "stream.offline", hint: "stream.offlineHint" },
};

/** The real-time connection's state, always in the top bar; offline, a click tries again now. */
export function ConnectionState() {
  const { t } = useI18n();
  const { state, reconnect } = useStream();
  const look = LOOK[state];
  return (
    <Tooltip title={t(look.hint)}>
      <Tag
        color={look.color}
        icon={look.icon}
        data-testid="connection-state"
        data-state={state}
        role="status"
        aria-live="polite"
        onClick={state === "offline" ? reconnect : undefined}
        style={{ marginInlineEnd: 0, cursor: state === "offline" ? "pointer" : "default" }}
      >
        <span className="tack-connection-label">{t(look.label)}</span>
      </Tag>
    </Tooltip>
  );
}
