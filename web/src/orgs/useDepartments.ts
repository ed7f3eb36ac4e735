import { useMemo } from "react";
import { orgs as orgsApi } from "../api/endpoints";
import type { Department } from "../api/types";
import { buildTree, departmentLabels, type DeptNode } from "../lib/tree";
import { useAsync } from "../lib/useAsync";

export interface DepartmentsState {
  list: Department[];
  byId: Map<string, Department>;
  tree: DeptNode[];
  /** A name that tells departments apart: "一年级 / 一班" where several are called "一班". */
  label: (id: string, fallback?: string) => string;
  loading: boolean;
  error: unknown;
  reload: () => void;
}

export function useDepartments(orgId: string): DepartmentsState {
  const { data, loading, error, reload } = useAsync(() => orgsApi.departments(orgId), [orgId]);
  return useMemo(() => {
    const list = data ?? [];
    const labels = departmentLabels(list);
    return {
      list,
      byId: new Map(list.map((d) => [d.id, d])),
      tree: buildTree(list),
      label: (id: string, fallback = "…") => labels.get(id) ?? fallback,
      loading,
      error,
      reload,
    };
  }, [data, loading, error, reload]);
}
