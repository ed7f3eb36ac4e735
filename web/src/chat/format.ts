import type { MessagePreview } from "../api/types";
import { localeTag, type Lang, type TFunction } from "../i18n";

/** A client message id: a random UUID. crypto.randomUUID needs a secure context (https or
 * localhost); a server reached over plain http on a LAN still gets one from getRandomValues. */
export function newClientMsgId(): string {
  const c = typeof crypto !== "undefined" ? crypto : undefined;
  if (c && typeof c.randomUUID === "function") {
    try {
      return c.randomUUID();
    } catch {
      /* not a secure context */
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** The time of a conversation's last message: 14:05 today, "Yesterday", 3月5日 / Mar 5, or a full date. */
export function shortTime(iso: string | null | undefined, lang: Lang, t: TFunction, now = new Date()): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const tag = localeTag(lang);
  if (sameDay(date, now)) return new Intl.DateTimeFormat(tag, { hour: "2-digit", minute: "2-digit", hour12: false }).format(date);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return t("chat.yesterday");
  if (date.getFullYear() === now.getFullYear()) return new Intl.DateTimeFormat(tag, { month: "short", day: "numeric" }).format(date);
  return new Intl.DateTimeFormat(tag, { year: "numeric", month: "numeric", day: "numeric" }).format(date);
}

/** The label of a day divider among messages: Today, Yesterday, or the date. */
export function dayLabel(iso: string, lang: Lang, t: TFunction, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  if (sameDay(date, now)) return t("chat.today");
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return t("chat.yesterday");
  const tag = localeTag(lang);
  const options: Intl.DateTimeFormatOptions =
    date.getFullYear() === now.getFullYear()
      ? { month: "long", day: "numeric", weekday: "short" }
      : { year: "numeric", month: "long", day: "numeric" };
  return new Intl.DateTimeFormat(tag, options).format(date);
}

/** The time shown beside a message: 14:05 today, otherwise with the date. */
export function messageTime(iso: string, lang: Lang, t: TFunction, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const tag = localeTag(lang);
  const clock = new Intl.DateTimeFormat(tag, { hour: "2-digit", minute: "2-digit", hour12: false }).format(date);
  if (sameDay(date, now)) return clock;
  return `${shortTime(iso, lang, t, now)} ${clock}`;
}

/** One line about a conversation's last message. */
export function previewText(preview: MessagePreview | null, t: TFunction, me: string, group: boolean): string {
  if (!preview) return "";
  let text: string;
  if (preview.recalled) text = t("chat.preview.recalled");
  else if (preview.kind === "image") text = t("chat.preview.image");
  else if (preview.kind === "file") text = t("chat.preview.file", { name: stripTag(preview.text) });
  else if (preview.kind === "link" && /^\[Link\]/.test(preview.text)) text = t("chat.preview.link", { title: stripTag(preview.text) });
  else if (/^\[DING\] /.test(preview.text)) text = t("chat.preview.ding", { text: stripTag(preview.text) });
  else text = preview.kind === "markdown" ? plainMarkdown(preview.text) : preview.text;
  if (!group || preview.recalled) return text;
  const who = preview.sender_id === me ? t("chat.you") : preview.sender_name;
  return who ? `${who}: ${text}` : text;
}

/** Markdown source read as one plain line: "**Done**: see [notes](https://…)" -> "Done: see notes". */
export function plainMarkdown(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)\s]+\)/g, "$1")
    .replace(/(\*\*|__|~~|`)/g, "")
    .replace(/(^|\s)(#{1,6}|>|[-*+]|\d+\.)\s+/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

/** The server words previews in English ("[File] report.pdf"); the tag is shown in the UI's language. */
function stripTag(text: string): string {
  return text.replace(/^\[(File|Link|DING|Image)\]\s*/, "");
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GB`;
}
