import { Alert, Button } from "antd";
import { ApiError, errorMessage } from "../api/client";
import { useI18n } from "../i18n";

/** The server's message for a failed request, in words a person can act on. */
export function useErrorText() {
  const { t } = useI18n();
  return (error: unknown): string => {
    const text = errorMessage(error);
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
