import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { orgs as orgsApi } from "../api/endpoints";
import type { MyOrg } from "../api/types";

export const LAST_ORG_KEY = "tack.lastOrg";

export function readLastOrg(): string | null {
  try {
    return localStorage.getItem(LAST_ORG_KEY);
  } catch {
    return null;
  }
}

export function writeLastOrg(id: string): void {
  try {
    localStorage.setItem(LAST_ORG_KEY, id);
  } catch {
    /* the choice lasts for this page only */
  }
}

/** The organization to open: the last one chosen if the person still belongs to it, else the first. */
export function pickOrg(list: MyOrg[], last: string | null): MyOrg | null {
  return list.find((o) => o.id === last) ?? list[0] ?? null;
}

interface OrgsValue {
  orgs: MyOrg[];
  loading: boolean;
  error: unknown;
  reload: () => Promise<MyOrg[]>;
  lastOrgId: string | null;
  rememberOrg: (id: string) => void;
}

const OrgsContext = createContext<OrgsValue | null>(null);

export function OrgsProvider({ children }: { children: ReactNode }) {
  const [orgs, setOrgs] = useState<MyOrg[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [lastOrgId, setLastOrgId] = useState<string | null>(() => readLastOrg());

  const reload = useCallback(async () => {
    setError(null);
    try {
      const list = await orgsApi.list();
      setOrgs(list);
      return list;
    } catch (e) {
      setError(e);
      throw e;
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    reload().catch(() => undefined);
  }, [reload]);

  const rememberOrg = useCallback((id: string) => {
    writeLastOrg(id);
    setLastOrgId(id);
  }, []);

  const value = useMemo(
    () => ({ orgs, loading, error, reload, lastOrgId, rememberOrg }),
    [orgs, loading, error, reload, lastOrgId, rememberOrg],
  );
  return <OrgsContext.Provider value={value}>{children}</OrgsContext.Provider>;
}

export function useOrgs(): OrgsValue {
  const value = useContext(OrgsContext);
  if (!value) throw new Error("useOrgs must be used inside OrgsProvider");
  return value;
}

const CurrentOrgContext = createContext<MyOrg | null>(null);

export const CurrentOrgProvider = CurrentOrgContext.Provider;

/** The organization of the page being shown (inside /orgs/:orgId). */
export function useCurrentOrg(): MyOrg {
  const value = useContext(CurrentOrgContext);
  if (!value) throw new Error("useCurrentOrg must be used inside an organization's pages");
  return value;
}
