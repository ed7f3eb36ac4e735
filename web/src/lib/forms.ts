import type { FormInstance } from "antd";
import { ApiError } from "../api/client";

/** Puts the server's per-field messages (422 details.fields) on the form's matching fields.
 * Returns true when at least one field got a message. `aliases` maps server field names to form names. */
export function applyFieldErrors(
  form: FormInstance,
  error: unknown,
  aliases: Record<string, string> = {},
): boolean {
  if (!(error instanceof ApiError) || error.status !== 422) return false;
  const known = new Set(Object.keys(form.getFieldsValue(true) ?? {}));
  const byField = new Map<string, string[]>();
  for (const { field, message } of error.fields) {
    const top = field.split(".")[0];
    const name = aliases[field] ?? aliases[top] ?? top;
    if (!known.has(name)) continue;
    byField.set(name, [...(byField.get(name) ?? []), message]);
  }
  if (byField.size === 0) return false;
  form.setFields([...byField.entries()].map(([name, errors]) => ({ name, errors })));
  return true;
}

/** Empty strings from inputs become null, so optional fields are left out rather than sent blank. */
export function blankToNull(value: string | null | undefined): string | null {
  const trimmed = (value ?? "").trim();
  return trimmed ? trimmed : null;
}
