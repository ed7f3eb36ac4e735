import { Alert, Button } from "antd";
import { ApiError, errorMessage } from "../api/client";
import { useI18n } from "../i18n";
import { ZH_ERROR_MESSAGES } from "../i18n/errorCodes";

/** The server's message for a failed request, in words a person can act on. */
export function useErrorText() {
  const { t, lang } = useI18n();
  return (error: unknown): string => {
    const translated = lang === "zh" && error instanceof ApiError ? ZH_ERROR_MESSAGES[error.code] : undefined;
    const text = translated ?? errorMessage(error);
    if (error instanceof ApiError && error.status === 429 && error.retryAfter) {
      return `${text} ${t("error.retryAfter", { seconds: error.retryAfter })}`;
    }
    return text;
  };
}

export function ErrorAlert({ error, onRetry, style }: { error: unknown; onRetry?: () => void; style?: React.CSSProperties }) {
  const { t } = useI18n();
  const errorText = useErrorText();
  if (!error) return null;
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      data-testid="error-message"
      message={errorText(error)}
      style={style}
      action={
        onRetry ? (
          <Button size="small" onClick={onRetry}>
            {t("common.retry")}
          </Button>
        ) : undefined
      }
    />
  );
}
