import { App as AntApp } from "antd";
import { useEffect } from "react";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n";
import { useStream } from "../stream/StreamProvider";

interface OpsWarning {
  kind: "forecast" | "join_rate" | "queue_wait";
  value: number;
  threshold: number;
  people?: number;
}

const TITLES: Record<OpsWarning["kind"], MessageKey> = {
  forecast: "ops.warning.forecast.title",
  join_rate: "ops.warning.joinRate.title",
  queue_wait: "ops.warning.queueWait.title",
};
const BODIES: Record<OpsWarning["kind"], MessageKey> = {
  forecast: "ops.warning.forecast.body",
  join_rate: "ops.warning.joinRate.body",
  queue_wait: "ops.warning.queueWait.body",
};

/** Shows administrators the server's early warnings (`ops.warning` on their own channel; docs/rooms.md
 * "Early warning"): a surge the timetable forecasts, many joins a minute, long waits to join. */
export function OpsWarnings() {
  const { subscribe } = useStream();
  const { notification } = AntApp.useApp();
  const { t } = useI18n();

  useEffect(
    () =>
      subscribe((event) => {
        if (event.kind !== "ops.warning") return;
        const warning = event.data as unknown as OpsWarning;
        if (!(warning.kind in TITLES)) return;
        notification.warning({
          key: `ops-${event.org_id}-${warning.kind}`,
          message: t(TITLES[warning.kind]),
          description: t(BODIES[warning.kind], {
            value: Math.round(warning.value * 10) / 10,
            threshold: warning.threshold,
            people: warning.people ?? 0,
          }),
          duration: 0,
          placement: "topRight",
        });
      }),
    [subscribe, notification, t],
  );
  return null;
}
