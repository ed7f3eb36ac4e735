import { describe, expect, it } from "vitest";
import type { Department } from "../api/types";
import { buildTree, pathTo, subtreeIds } from "./tree";

const dept = (id: string, parent_id: string | null, name: string, sort_order = 0): Department => ({
  id,
  parent_id,
  name,
  sort_order,
  kind: "department",
  member_count: 0,
});

const list = [
  dept("root", null, "Acme"),
  dept("sales", "root", "Sales", 2),
  dept("eng", "root", "Engineering", 1),
  dept("web", "eng", "Web"),
  dept("ops", "eng", "Ops"),
];

describe("department tree", () => {
  it("nests by parent and sorts by order, then name", () => {
    const roots = buildTree(list);
    expect(roots.map((n) => n.dept.id)).toEqual(["root"]);
    expect(roots[0].children.map((n) => n.dept.id)).toEqual(["eng", "sales"]);
    expect(roots[0].children[0].children.map((n) => n.dept.name)).toEqual(["Ops", "Web"]);
  });

  it("knows the path from the top", () => {
    expect(pathTo(list, "web").map((d) => d.id)).toEqual(["root", "eng", "web"]);
  });

  it("lists a department and everything under it", () => {
    expect([...subtreeIds(list, "eng")].sort()).toEqual(["eng", "ops", "web"]);
  });
});
