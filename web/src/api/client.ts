/**
 * The one way the web client talks to the server.
 *
 * - Sends the session cookie (same origin) and, on every write, the X-CSRF-Token header with the
 *   value of the readable `tack_csrf` cookie.
 * - Turns the server's error envelope `{"error": {"code", "message", "details"}}` into an `ApiError`
 *   whose `message` is the server's own words, ready to show to a person.
 * - Reports 401 answers to a handler (the app sends the person to the sign-in page).
 */

export const API_BASE = "/api/v1";
export const CSRF_COOKIE = "tack_csrf";
export const CSRF_HEADER = "X-CSRF-Token";

export interface FieldError {
  field: string;
  message: string;
}

/** Words the client needs when the server gave none (it could not be reached, or answered oddly). */
export interface FallbackMessages {
  network: string;
  unexpected: string;
}

let fallback: FallbackMessages = {
  network: "The server could not be reached. Check your connection and try again.",
  unexpected: "Something went wrong. Try again.",
};

export function setFallbackMessages(messages: FallbackMessages): void {
  fallback = messages;
}

let acceptLanguage: string | null = null;

/** The language chosen in the client, sent as Accept-Language so the server can answer in it. */
export function setAcceptLanguage(tag: string | null): void {
  acceptLanguage = tag;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Seconds to wait before trying again (from Retry-After or the envelope), on 429. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, details: unknown = null, retryAfter: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Per-field problems of a 422 answer: `details.fields`. */
  get fields(): FieldError[] {
    const details = this.details as { fields?: unknown } | null;
    if (!details || !Array.isArray(details.fields)) return [];
    return details.fields.filter(
      (f): f is FieldError => !!f && typeof f.field === "string" && typeof f.message === "string",
    );
  }
}

/** Builds an ApiError from a failed response; never throws. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const header = response.headers.get("Retry-After");
  let retryAfter: number | null = header !== null && /^\d+$/.test(header.trim()) ? Number(header.trim()) : null;
  const envelope = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (envelope && typeof envelope === "object") {
    const code = typeof envelope.code === "string" ? envelope.code : "error";
    const message =
      typeof envelope.message === "string" && envelope.message.trim() ? envelope.message : fallback.unexpected;
    const details = envelope.details ?? null;
    if (retryAfter === null && details && typeof (details as { retry_after?: unknown }).retry_after === "number") {
      retryAfter = (details as { retry_after: number }).retry_after;
    }
    return new ApiError(response.status, code, message, details, retryAfter);
  }
  return new ApiError(response.status, response.status >= 500 ? "server_error" : "error", fallback.unexpected, null, retryAfter);
}

export function readCookie(name: string): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

let rememberedCsrf: string | null = null;

/** Keeps the token the server returned with the session, used when the cookie cannot be read. */
export function rememberCsrfToken(token: string | null): void {
  rememberedCsrf = token || null;
}

export function csrfToken(): string | null {
  return readCookie(CSRF_COOKIE) || rememberedCsrf;
}

type UnauthorizedHandler = (error: ApiError) => void;
let onUnauthorized: UnauthorizedHandler | null = null;

export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Bytes sent as they are (an upload), with their own Content-Type, instead of a JSON body. */
  raw?: Blob;
  signal?: AbortSignal;
  /** When false, a 401 answer is only thrown, not reported (sign-in itself, the session check). */
  redirectOn401?: boolean;
}

export function buildUrl(path: string, query?: Query): string {
  const url = `${API_BASE}${path}`;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${url}?${qs}` : url;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const upper = method.toUpperCase();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (acceptLanguage) headers["Accept-Language"] = acceptLanguage;
  if (options.raw !== undefined) headers["Content-Type"] = options.raw.type || "application/octet-stream";
  else if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(upper)) {
    const token = csrfToken();
    if (token) headers[CSRF_HEADER] = token;
  }
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method: upper,
      headers,
      credentials: "same-origin",
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      signal: options.signal,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "network_error", fallback.network);
  }
  if (!response.ok) {
    const error = await errorFromResponse(response);
    if (error.status === 401 && options.redirectOn401 !== false && onUnauthorized) onUnauthorized(error);
    throw error;
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, "bad_response", fallback.unexpected);
  }
}

export const api = {
  get: <T>(path: string, options?: Omit<RequestOptions, "body">) => request<T>("GET", path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("POST", path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("PATCH", path, { ...options, body }),
  delete: <T = void>(path: string, options?: RequestOptions) => request<T>("DELETE", path, options),
};

/** A message for any thrown value: the server's words for an ApiError. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return fallback.unexpected;
}
