"""Accounts, sign-in, sessions and personal tokens. Every write here is an action of one request."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.auth import PAT_PREFIX, sha256
from tack.core.config import get_settings
from tack.core.db import release_connection, utcnow
from tack.core.errors import Conflict, NotAuthenticated, NotFound, RateLimited
from tack.core.passwords import hash_password, needs_rehash, verify_password
from tack.core.ratelimit import get_counter
from tack.identity.models import Account, ApiToken, SignInSession


def normalise_login(login: str) -> str:
    login = login.strip()
    return login.lower() if "@" in login else login.replace(" ", "").replace("-", "")


async def create_account(
    db: AsyncSession,
    *,
    name: str,
    password: str,
    email: str | None = None,
    mobile: str | None = None,
    locale: str | None = None,
) -> Account:
    email = normalise_login(email) if email else None
    mobile = normalise_login(mobile) if mobile else None
    clauses = []
    if email:
        clauses.append(Account.email == email)
    if mobile:
        clauses.append(Account.mobile == mobile)
    taken = (await db.execute(select(Account.email, Account.mobile).where(or_(*clauses)))).first()
    if taken is not None:
        what = "email address" if email and taken.email == email else "mobile number"
        raise Conflict(
            f"An account with this {what} already exists. Sign in instead.", code="account_exists"
        )
    account = Account(
        name=name.strip(),
        email=email,
        mobile=mobile,
        password_hash=await hash_password(password),
        locale=locale,
    )
    db.add(account)
    await db.flush()
    return account


async def authenticate(db: AsyncSession, *, login: str, password: str, address: str) -> Account:
    """Check a login and password, throttling repeated failures per account and per address."""
    settings = get_settings()
    counter = get_counter()
    login = normalise_login(login)
    window = settings.signin_window_seconds
    account_key, address_key = f"signin:acct:{sha256(login)}", f"signin:addr:{address}"
    for key, limit in (
        (account_key, settings.signin_max_failures_per_account),
        (address_key, settings.signin_max_failures_per_address),
    ):
        count, retry_after = await counter.get(key, window)
        if count >= limit:
            minutes = max(1, round(retry_after / 60))
            raise RateLimited(
                retry_after,
                f"Too many failed sign-ins. Try again in about {minutes} minute(s).",
                code="sign_in_throttled",
            )
    column = Account.email if "@" in login else Account.mobile
    account = (await db.execute(select(Account).where(column == login))).scalar_one_or_none()
    # The check takes tens of milliseconds of a core: hold no database connection meanwhile.
    await release_connection(db)
    valid = await verify_password(account.password_hash if account else None, password)
    if account is None or not valid or not account.is_active:
        await counter.incr(account_key, window)
        await counter.incr(address_key, window)
        raise NotAuthenticated(
            "The sign-in or the password is not right.", code="invalid_credentials"
        )
    await counter.reset(account_key)
    if needs_rehash(account.password_hash):
        account.password_hash = await hash_password(password)
    return account


async def start_session(
    db: AsyncSession, account: Account, *, user_agent: str | None, address: str | None
) -> tuple[str, SignInSession]:
    """Open a session; returns the raw token for the cookie (only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    session = SignInSession(
        id=sha256(raw),
        account_id=account.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=get_settings().session_ttl_days),
        user_agent=(user_agent or "")[:300] or None,
        ip_address=address,
    )
    db.add(session)
    await db.flush()
    return raw, session


async def end_session(db: AsyncSession, session_id: str) -> None:
    session = await db.get(SignInSession, session_id)
    if session is not None and session.revoked_at is None:
        session.revoked_at = utcnow()


async def list_sessions(db: AsyncSession, account_id: str) -> list[SignInSession]:
    now = utcnow()
    rows = await db.execute(
        select(SignInSession)
        .where(
            SignInSession.account_id == account_id,
            SignInSession.revoked_at.is_(None),
            SignInSession.expires_at > now,
        )
        .order_by(SignInSession.last_seen_at.desc())
    )
    return list(rows.scalars())


async def revoke_session(db: AsyncSession, account_id: str, public_id: str) -> None:
    session = (
        await db.execute(
            select(SignInSession).where(
                SignInSession.public_id == public_id, SignInSession.account_id == account_id
            )
        )
    ).scalar_one_or_none()
    if session is None:
        raise NotFound("There is no such session.")
    if session.revoked_at is None:
        session.revoked_at = utcnow()


async def get_account(db: AsyncSession, account_id: str) -> Account:
    account = await db.get(Account, account_id)
    if account is None:
        raise NotFound("There is no such account.")
    return account


async def update_account(
    db: AsyncSession, account: Account, *, name: str | None, locale: str | None
) -> Account:
    if name is not None:
        account.name = name
    if locale is not None:
        account.locale = locale
    await db.flush()
    return account


async def create_token(db: AsyncSession, account_id: str, name: str) -> tuple[str, ApiToken]:
    raw = PAT_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(account_id=account_id, name=name, token_hash=sha256(raw), prefix=raw[:13])
    db.add(token)
    await db.flush()
    return raw, token


async def list_tokens(db: AsyncSession, account_id: str) -> list[ApiToken]:
    rows = await db.execute(
        select(ApiToken)
        .where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return list(rows.scalars())


async def revoke_token(db: AsyncSession, account_id: str, token_id: str) -> None:
    token = (
        await db.execute(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.account_id == account_id)
        )
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        raise NotFound("There is no such token.")
    token.revoked_at = utcnow()
