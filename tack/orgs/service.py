"""The rules of organizations, departments, members, contacts and invitations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tack.identity.models import Account
from tack.orgs.models import Invitation, Membership


async def get_usable_invitation(db: AsyncSession, code: str) -> Invitation:
    raise NotImplementedError


async def accept_invitation(db: AsyncSession, invitation: Invitation, account: Account) -> Membership:
    raise NotImplementedError
