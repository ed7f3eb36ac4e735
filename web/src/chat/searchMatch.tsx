/**
 * Where a message search query matched a message's text, found the way the server finds it
 * (tack/chat/service.py `search`), so the highlighted words are the ones that made it a result:
 *
 * - a query containing Chinese, Japanese, Korean or Thai characters is matched as one substring
 *   (those scripts are not split into words by the server's full-text index);
 * - any other query is split into words, and each word matches whole words of the text.
 *
 * Both ignore letter case.
 */
import type { ReactNode } from "react";

export type Range = [start: number, end: number];

// The same scripts as the server's `_UNSEGMENTED`.
const UNSEGMENTED = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\u0e00-\u0e7f]/;
const WORD = /[\p{L}\p{M}\p{N}_]+/gu;
const CONTEXT_CHARS = 24;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The pattern of a query's matches, or null when nothing in it can match. */
export function queryPattern(query: string): RegExp | null {
  const normalized = query.split(/\s+/).filter(Boolean).join(" ");
  if (!normalized) return null;
  if (UNSEGMENTED.test(normalized)) return new RegExp(escapeRegExp(normalized), "giu");
  const words = [...new Set((normalized.match(WORD) ?? []).map((w) => w.toLowerCase()))];
  if (!words.length) return null;
  // Longest first, so "reports" is not cut short by "report".
  words.sort((a, b) => b.length - a.length);
  return new RegExp(`(?<![\\p{L}\\p{M}\\p{N}_])(?:${words.map(escapeRegExp).join("|")})(?![\\p{L}\\p{M}\\p{N}_])`, "giu");
}

/** The spans of `text` matched by `query`, in order, not overlapping. */
export function matchRanges(text: string, query: string): Range[] {
  const pattern = queryPattern(query);
  if (!pattern) return [];
  const ranges: Range[] = [];
  for (const match of text.matchAll(pattern)) {
    if (!match[0]) continue;
    ranges.push([match.index, match.index + match[0].length]);
  }
  return ranges;
}

/** A shortened text that still shows the first match: long texts start a little before it. */
export function snippetAround(text: string, query: string): { text: string; ranges: Range[] } {
  const flat = text.replace(/\s+/g, " ").trim();
  const ranges = matchRanges(flat, query);
  if (!ranges.length || ranges[0][0] <= CONTEXT_CHARS * 2) return { text: flat, ranges };
  let start = ranges[0][0] - CONTEXT_CHARS;
  // Start at a word boundary where there is one close by.
  const space = flat.lastIndexOf(" ", ranges[0][0] - 1);
  if (space >= start - 8 && space < ranges[0][0]) start = space + 1;
  const shifted = ranges.map(([a, b]): Range => [a - start + 1, b - start + 1]);
  return { text: `…${flat.slice(start)}`, ranges: shifted };
}

/** `text` with the given spans marked. */
export function Highlighted({ text, ranges }: { text: string; ranges: Range[] }) {
  const parts: ReactNode[] = [];
  let pos = 0;
  ranges.forEach(([start, end], i) => {
    if (start < pos) return;
    if (start > pos) parts.push(text.slice(pos, start));
    parts.push(
      <mark key={i} className="tack-search-match" data-testid="search-match">
        {text.slice(start, end)}
      </mark>,
    );
    pos = end;
  });
  if (pos < text.length) parts.push(text.slice(pos));
  return <>{parts}</>;
}
