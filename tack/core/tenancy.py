"""Tenant scoping in one place: every organization-scoped statement goes through these helpers.

A model is organization-scoped when it has an `org_id` column. `scoped(Model, org_id)` is the only
way routes and services select such rows, and `scoped_update` / `scoped_delete` the only way they
change rows in bulk, so a missing `WHERE org_id = ...` cannot happen by accident.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Delete, Select, Update, delete, select, update

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
