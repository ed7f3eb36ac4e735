import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";
import type { Page } from "../api/types";

export interface PagedState<T, E> {
  items: T[];
  extra: E | undefined;
  loading: boolean;
  loadingMore: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
}

/** A list read page by page with next_cursor; `load` returns the page and anything else the first
 * answer carries (`extra`). Only the latest request's answer is kept. */
export function usePaged<T, E = undefined>(
  load: (cursor: string | null, signal: AbortSignal) => Promise<{ page: Page<T>; extra?: E }>,
  deps: DependencyList,
  enabled = true,
): PagedState<T, E> {
  const [items, setItems] = useState<T[]>([]);
  const [extra, setExtra] = useState<E | undefined>(undefined);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(enabled);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const controller = useRef<AbortController | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const run = ++generation.current;
    controller.current?.abort();
    if (!enabled) {
      setItems([]);
      setCursor(null);
      setLoading(false);
      return;
    }
    const abort = new AbortController();
    controller.current = abort;
    setLoading(true);
    setError(null);
    loadRef.current(null, abort.signal).then(
      ({ page, extra: first }) => {
        if (run !== generation.current) return;
        setItems(page.items);
        setCursor(page.next_cursor ?? null);
        setExtra(first);
        setLoading(false);
      },
      (e: unknown) => {
        if (run !== generation.current || (e instanceof DOMException && e.name === "AbortError")) return;
        setError(e);
        setItems([]);
        setCursor(null);
        setLoading(false);
      },
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, enabled, tick]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore) return;
    const run = generation.current;
    const abort = new AbortController();
    setLoadingMore(true);
    loadRef.current(cursor, abort.signal).then(
      ({ page }) => {
        if (run !== generation.current) return;
        setItems((previous) => [...previous, ...page.items]);
        setCursor(page.next_cursor ?? null);
        setLoadingMore(false);
      },
      (e: unknown) => {
        if (run !== generation.current) return;
        setError(e);
        setLoadingMore(false);
      },
    );
  }, [cursor, loadingMore]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { items, extra, loading, loadingMore, error, hasMore: !!cursor, loadMore, reload };
}
