"""Tenant scoping in one place: every organization-scoped statement goes through these helpers.

A model is organization-scoped when it has an `org_id` column. `scoped(Model, org_id)` is the only
way routes and services select such rows, and `scoped_update` / `scoped_delete` the only way they
change rows in bulk, so a missing `WHERE org_id = ...` cannot happen by accident.

Hot paths (a join, a leave, a stream connection: 8:00 runs thousands at once) build their statements
once, at import, because building and keying a SQLAlchemy statement costs more than SQLite takes to
run it. `scoped_bound` makes those: the organization is the bound parameter
`SCOPE` (`{SCOPE: org_id}` in the call's parameters), and a call without it fails instead of reading
every organization.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Delete, Select, Update, bindparam, delete, select, update

M = TypeVar("M")


def scoped(model: type[M], org_id: str, *columns: Any) -> Select[Any]:
    """`SELECT model (or the given columns) FROM model WHERE model.org_id = :org_id`."""
    org_column = model.org_id  # type: ignore[attr-defined]
    stmt = select(*columns) if columns else select(model)
    return stmt.where(org_column == org_id)


def scoped_update(model: type[M], org_id: str) -> Update:
    """`UPDATE model ... WHERE model.org_id = :org_id`; add `.where(...)` and `.values(...)`."""
    return update(model).where(model.org_id == org_id)  # type: ignore[attr-defined]


def scoped_delete(model: type[M], org_id: str) -> Delete:
    """`DELETE FROM model WHERE model.org_id = :org_id`; add `.where(...)`."""
    return delete(model).where(model.org_id == org_id)  # type: ignore[attr-defined]


# The bound parameter naming the organization in statements built once (not a column's name, which an
# UPDATE reserves for its SET values).
SCOPE = "scope_org_id"


def scoped_bound(model: type[M], *columns: Any) -> Select[Any]:
    """`scoped` for a statement built once: `WHERE model.org_id = :scope_org_id`."""
    stmt = select(*columns) if columns else select(model)
    return stmt.where(model.org_id == bindparam(SCOPE))  # type: ignore[attr-defined]

