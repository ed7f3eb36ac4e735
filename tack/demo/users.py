"""`tack user create`: make an account from the command line, optionally adding it to an organization.

Meant for the first administrator of a fresh install and for scripts; people otherwise sign up in the
web client. Input is checked by the same rules as sign-up, so the command cannot create an account
the API would have refused.
"""

from __future__ import annotations

import re

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.db import get_database
from tack.core.errors import Conflict, NotFound
from tack.core.ids import ID_PATTERN
from tack.identity import service as identity_service
from tack.identity.schemas import SignUpIn
from tack.orgs.models import MemberDepartment, MemberRole, Membership, Organization, Role
from tack.orgs.search import search_keys


def _check(name: str, email: str | None, mobile: str | None, password: str) -> SignUpIn:
    try:
        return SignUpIn(name=name, email=email or None, mobile=mobile or None, password=password)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ())) or "input"
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where not in ("input", "") else message)
        raise ValueError("; ".join(problems)) from None


def _role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValueError(f"There is no role {role!r}. Use one of: {choices}.") from None


async def _find_org(db: AsyncSession, org: str) -> Organization:
    if re.match(ID_PATTERN, org):
        found = await db.get(Organization, org)
        if found is not None:
            return found
    named = list((await db.execute(select(Organization).where(Organization.name == org.strip()))).scalars())
    if not named:
        raise NotFound(f"There is no organization with the id or name {org!r}.", code="org_not_found")
    if len(named) > 1:
        ids = ", ".join(o.id for o in named)
        raise Conflict(f"Several organizations are named {org!r}; give one of their ids: {ids}.", code="org_ambiguous")
    return named[0]


async def create_user(
    name: str, email: str | None, mobile: str | None, password: str, org: str | None, role: str
) -> str:
    """Create an account (and a membership when `org` is given); returns a sentence saying what was done."""
    # People type mobiles with spaces or dashes ("139 0000 2222"); sign-in strips them the same way.
    body = _check(name, email, identity_service.normalise_login(mobile) if mobile else None, password)
    wanted_role = _role(role)
    database = get_database()
    async with database.session() as db:
        await db.connection(execution_options={"tack_write": True})
        organization = await _find_org(db, org) if org else None
        try:
            account = await identity_service.create_account(
                db, name=body.name, password=body.password, email=body.email, mobile=body.mobile
            )
        except Conflict as exc:
            if exc.code == "account_exists":
                login = identity_service.normalise_login(body.email or body.mobile or "")
                raise Conflict(f"An account with {login} already exists.", code="account_exists") from None
            raise
        if organization is not None:
            search_text, sort_name = search_keys(account.name)
            member = Membership(
                org_id=organization.id,
                account_id=account.id,
                display_name=account.name,
                email=account.email,
                mobile=account.mobile,
                search_text=search_text,
                sort_name=sort_name,
            )
            db.add(member)
            await db.flush()
            db.add(MemberRole(org_id=organization.id, member_id=member.id, role=wanted_role.value))
            # Everyone is somewhere in the tree; a new person starts at the top, named after the org.
            if organization.root_department_id:
                db.add(
                    MemberDepartment(
                        org_id=organization.id, member_id=member.id, department_id=organization.root_department_id
                    )
                )
            await db.flush()
        await db.commit()
    login = account.email or account.mobile
    if organization is None:
        return f"Created the account {account.name} ({login}). They can sign in now."
    return (
        f"Created the account {account.name} ({login}) and added them to {organization.name} "
        f"as {wanted_role.value}. They can sign in now."
    )
