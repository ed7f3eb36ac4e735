import type { Department } from "../api/types";

export interface DeptNode {
  dept: Department;
  children: DeptNode[];
}

function compare(a: Department, b: Department): number {
  return a.sort_order - b.sort_order || a.name.localeCompare(b.name);
}

/** Turns the flat list (each with parent_id) into sorted trees. A department whose parent is not in
 * the list is shown at the top level, so nothing is lost. */
export function buildTree(departments: Department[]): DeptNode[] {
  const nodes = new Map<string, DeptNode>();
  for (const dept of departments) nodes.set(dept.id, { dept, children: [] });
  const roots: DeptNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.dept.parent_id ? nodes.get(node.dept.parent_id) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const sort = (list: DeptNode[]) => {
    list.sort((a, b) => compare(a.dept, b.dept));
    for (const n of list) sort(n.children);
  };
  sort(roots);
  return roots;
}

/** The ids of a department and everything under it (a department cannot move under these). */
export function subtreeIds(departments: Department[], rootId: string): Set<string> {
  const children = new Map<string, string[]>();
  for (const d of departments) {
    if (!d.parent_id) continue;
    const list = children.get(d.parent_id) ?? [];
    list.push(d.id);
    children.set(d.parent_id, list);
  }
  const result = new Set<string>();
  const stack = [rootId];
  while (stack.length) {
    const current = stack.pop() as string;
    if (result.has(current)) continue;
    result.add(current);
    stack.push(...(children.get(current) ?? []));
  }
  return result;
}

/** From the top department down to `id` itself. */
export function pathTo(departments: Department[], id: string): Department[] {
  const byId = new Map(departments.map((d) => [d.id, d]));
  const path: Department[] = [];
  const seen = new Set<string>();
  let current = byId.get(id);
  while (current && !seen.has(current.id)) {
    seen.add(current.id);
    path.unshift(current);
    current = current.parent_id ? byId.get(current.parent_id) : undefined;
  }
  return path;
}

/** Each department's name, with its parent's name in front when another department has the same
 * name (classes: "一年级 / 一班" and "二年级 / 一班"). */
export function departmentLabels(departments: Department[]): Map<string, string> {
  const byId = new Map(departments.map((d) => [d.id, d]));
  const counts = new Map<string, number>();
  for (const d of departments) counts.set(d.name, (counts.get(d.name) ?? 0) + 1);
  const labels = new Map<string, string>();
  for (const d of departments) {
    const parent = d.parent_id ? byId.get(d.parent_id) : undefined;
    labels.set(d.id, (counts.get(d.name) ?? 0) > 1 && parent ? `${parent.name} / ${d.name}` : d.name);
  }
  return labels;
}

export interface TreeDataNode {
  key: string;
  value: string;
  title: string;
  /** What a tree select shows once chosen (tells same-named departments apart). */
  label: string;
  disabled?: boolean;
  children?: TreeDataNode[];
}

/** Nodes for antd Tree and TreeSelect. */
export function toTreeData(
  roots: DeptNode[],
  options: { label?: (d: Department) => string; disabled?: (d: Department) => boolean } = {},
): TreeDataNode[] {
  const all: Department[] = [];
  const collect = (nodes: DeptNode[]) => nodes.forEach((n) => (all.push(n.dept), collect(n.children)));
  collect(roots);
  const labels = departmentLabels(all);
  const convert = (node: DeptNode): TreeDataNode => ({
    key: node.dept.id,
    value: node.dept.id,
    title: options.label ? options.label(node.dept) : node.dept.name,
    label: labels.get(node.dept.id) ?? node.dept.name,
    disabled: options.disabled ? options.disabled(node.dept) : undefined,
    children: node.children.length ? node.children.map(convert) : undefined,
  });
  return roots.map(convert);
}
