"""Tenant scoping in one place: every organization-scoped read goes through `scoped`.

A model is organization-scoped when it has an `org_id` column. `scoped(Model, org_id)` is the only
way routes and services select such rows, so a missing `WHERE org_id = ...` cannot happen by accident.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select

M = TypeVar("M")


def scoped(model: type[M], org_id: str, *columns: Any) -> Select[Any]:
    """`SELECT model (or the given columns) FROM model WHERE model.org_id = :org_id`."""
    org_column = model.org_id  # type: ignore[attr-defined]
    stmt = select(*columns) if columns else select(model)
    return stmt.where(org_column == org_id)
