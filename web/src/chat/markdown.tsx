/**
 * A small markdown renderer for chat messages that builds React elements, never HTML strings: any
 * HTML in a message is shown as the text it is, and links open only http(s) and mailto addresses.
 *
 * Blocks: paragraphs (single line breaks kept), # headings, > quotes, - / * / 1. lists, ``` code
 * fences. Inline: `code`, **bold**, *italic* / _italic_, ~~strike~~, [text](url), bare URLs and
 * @mentions of the people given.
 */
import { Fragment, type ReactNode } from "react";

export interface RenderOptions {
  /** Names that follow an @ and should be highlighted (the mentioned people, and "all"). */
  mentionNames?: string[];
  /** Plain text: only line breaks, links and mentions; no markdown syntax. */
  plain?: boolean;
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

export function safeUrl(url: string): string | null {
  const trimmed = url.trim();
  return SAFE_URL.test(trimmed) ? trimmed : null;
}

/** Whether the text uses markdown syntax (then it is sent as a markdown message). */
export function looksLikeMarkdown(text: string): boolean {
  return /(\*\*[^*\n]+\*\*|__[^_\n]+__|~~[^~\n]+~~|`[^`\n]+`|\[[^\]\n]+\]\([^)\s]+\)|^#{1,6}\s|^>\s|^\s*([-*+]|\d+\.)\s+\S|^```)/m.test(
    text,
  );
}

interface Pattern {
  name: "code" | "link" | "url" | "bold" | "strike" | "italic" | "mention";
  re: RegExp;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function patterns(options: RenderOptions): Pattern[] {
  const list: Pattern[] = [];
  if (!options.plain) {
    list.push({ name: "code", re: /`([^`\n]+)`/g });
    list.push({ name: "link", re: /\[([^\]\n]+)\]\(([^)\s]+)\)/g });
  }
  list.push({ name: "url", re: /\b(?:https?:\/\/|mailto:)[^\s<>"'()（）]*[^\s<>"'()（）.,;:!?。，；：！？、]/g });
  if (!options.plain) {
    list.push({ name: "bold", re: /\*\*(?=\S)([^*\n]*?\S)\*\*|__(?=\S)([^_\n]*?\S)__/g });
    list.push({ name: "strike", re: /~~(?=\S)([^~\n]*?\S)~~/g });
    list.push({ name: "italic", re: /\*(?=\S)([^*\n]*?\S)\*|(?<![\w\\])_(?=\S)([^_\n]*?\S)_(?![\w])/g });
  }
  const names = [...new Set((options.mentionNames ?? []).filter((n) => n.trim()))].sort((a, b) => b.length - a.length);
  if (names.length) list.push({ name: "mention", re: new RegExp(`@(?:${names.map(escapeRegExp).join("|")})`, "g") });
  return list;
}

/** Inline spans of one line (or paragraph) of text. */
export function renderInline(text: string, options: RenderOptions = {}, keyBase = "i"): ReactNode[] {
  const list = patterns(options);
  const out: ReactNode[] = [];
  const next: (RegExpExecArray | null | undefined)[] = list.map(() => undefined);
  let pos = 0;
  let key = 0;
  while (pos < text.length) {
    let best = -1;
    for (let i = 0; i < list.length; i++) {
      let match = next[i];
      if (match === undefined || (match && match.index < pos)) {
        list[i].re.lastIndex = pos;
        match = list[i].re.exec(text);
        next[i] = match;
      }
      if (match && (best < 0 || match.index < (next[best] as RegExpExecArray).index)) best = i;
    }
    if (best < 0) break;
    const match = next[best] as RegExpExecArray;
    if (match.index > pos) out.push(text.slice(pos, match.index));
    const k = `${keyBase}.${key++}`;
    const inner = (value: string) => renderInline(value, options, k);
    switch (list[best].name) {
      case "code":
        out.push(<code key={k} className="tack-md-code">{match[1]}</code>);
        break;
      case "link": {
        const href = safeUrl(match[2]);
        out.push(
          href ? (
            <a key={k} href={href} target="_blank" rel="noopener noreferrer">
              {inner(match[1])}
            </a>
          ) : (
            <Fragment key={k}>{match[0]}</Fragment>
          ),
        );
        break;
      }
      case "url":
        out.push(
          <a key={k} href={match[0]} target="_blank" rel="noopener noreferrer">
            {match[0]}
          </a>,
        );
        break;
      case "bold":
        out.push(<strong key={k}>{inner(match[1] ?? match[2])}</strong>);
        break;
      case "strike":
        out.push(<del key={k}>{inner(match[1])}</del>);
        break;
      case "italic":
        out.push(<em key={k}>{inner(match[1] ?? match[2])}</em>);
        break;
      case "mention":
        out.push(
          <span key={k} className="tack-mention">
            {match[0]}
          </span>,
        );
        break;
    }
    pos = match.index + match[0].length;
  }
  if (pos < text.length) out.push(text.slice(pos));
  return out;
}

function withBreaks(lines: string[], options: RenderOptions, keyBase: string): ReactNode[] {
  const out: ReactNode[] = [];
  lines.forEach((line, i) => {
    if (i > 0) out.push(<br key={`${keyBase}.br${i}`} />);
    out.push(...renderInline(line, options, `${keyBase}.${i}`));
  });
  return out;
}

type Block =
  | { type: "p"; lines: string[] }
  | { type: "h"; level: number; text: string }
  | { type: "quote"; lines: string[] }
  | { type: "ul" | "ol"; items: string[]; start: number }
  | { type: "code"; text: string };

function parseBlocks(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) body.push(lines[i++]);
      i += 1; // the closing fence (or the end)
      blocks.push({ type: "code", text: body.join("\n") });
      continue;
    }
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      blocks.push({ type: "h", level: heading[1].length, text: heading[2].replace(/\s+#+\s*$/, "") });
      i += 1;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
      blocks.push({ type: "quote", lines: quoted });
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/;
    const numbered = /^\s*(\d{1,9})[.)]\s+(.*)$/;
    if (bullet.test(line) || numbered.test(line)) {
      const ordered = numbered.test(line);
      const re = ordered ? numbered : bullet;
      const items: string[] = [];
      const start = ordered ? Number((numbered.exec(line) as RegExpExecArray)[1]) : 1;
      while (i < lines.length && re.test(lines[i])) {
        const m = re.exec(lines[i]) as RegExpExecArray;
        items.push(ordered ? m[2] : m[1]);
        i += 1;
      }
      blocks.push({ type: ordered ? "ol" : "ul", items, start });
      continue;
    }
    const paragraph: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !/^\s*```/.test(lines[i]) &&
      !/^#{1,6}\s/.test(lines[i]) &&
      !/^\s*>/.test(lines[i]) &&
      !bullet.test(lines[i]) &&
      !numbered.test(lines[i])
    ) {
      paragraph.push(lines[i++]);
    }
    blocks.push({ type: "p", lines: paragraph });
  }
  return blocks;
}

/** A message's text as React elements. */
export function renderMessageText(source: string, options: RenderOptions = {}): ReactNode {
  if (options.plain) {
    return <span className="tack-md">{withBreaks(source.replace(/\r\n?/g, "\n").split("\n"), options, "t")}</span>;
  }
  const blocks = parseBlocks(source);
  return (
    <div className="tack-md">
      {blocks.map((block, b) => {
        const k = `b${b}`;
        switch (block.type) {
          case "code":
            return (
              <pre key={k} className="tack-md-pre">
                <code>{block.text}</code>
              </pre>
            );
          case "h":
            return (
              <div key={k} className={`tack-md-h tack-md-h${block.level}`} role="heading" aria-level={block.level}>
                {renderInline(block.text, options, k)}
              </div>
            );
          case "quote":
            return (
              <blockquote key={k} className="tack-md-quote">
                {withBreaks(block.lines, options, k)}
              </blockquote>
            );
          case "ul":
            return (
              <ul key={k}>
                {block.items.map((item, n) => (
                  <li key={n}>{renderInline(item, options, `${k}.${n}`)}</li>
                ))}
              </ul>
            );
          case "ol":
            return (
              <ol key={k} start={block.start}>
                {block.items.map((item, n) => (
                  <li key={n}>{renderInline(item, options, `${k}.${n}`)}</li>
                ))}
              </ol>
            );
          default:
            return <p key={k}>{withBreaks(block.lines, options, k)}</p>;
        }
      })}
    </div>
  );
}
