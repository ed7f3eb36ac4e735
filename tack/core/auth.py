"""Who is calling: resolves the session cookie or a Bearer token to a `Principal`.

Three kinds of credential reach the API:
- a session cookie (the web client); writes also need the CSRF header;
- a personal API token, `Authorization: Bearer tack_pat_...`;
- application access tokens of the open platform, resolved by a resolver registered with
  `register_bearer_resolver` (the open platform plugs in there; nothing else changes).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.config import get_settings
from tack.core.db import get_db, utcnow
from tack.core.errors import Forbidden, NotAuthenticated
from tack.identity.models import Account, ApiToken, SignInSession

SESSION_COOKIE = "tack_session"
CSRF_COOKIE = "tack_csrf"
CSRF_HEADER = "X-CSRF-Token"
PAT_PREFIX = "tack_pat_"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# last_seen_at is refreshed at most this often, so reads do not turn into writes.
SEEN_RESOLUTION = timedelta(minutes=10)


@dataclass(frozen=True)
class Principal:
    account_id: str
    kind: str  # "session", "token" or "app"
    session_id: str | None = None
    token_id: str | None = None
    # For application tokens: which organizations and scopes the app may act on.
    app_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)


BearerResolver = Callable[[AsyncSession, str], Awaitable[Principal | None]]
_bearer_resolvers: list[BearerResolver] = []


def register_bearer_resolver(resolver: BearerResolver) -> None:
    _bearer_resolvers.append(resolver)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def csrf_token_for(session_id: str) -> str:
    """The CSRF token of a session: derived, so nothing more is stored."""
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


_sessions = SignInSession.__table__
_accounts = Account.__table__
# What a session cookie is checked against; built once, as every signed-in request runs it (and
# tack/orgs/access.py runs it joined with the organization context).
SESSION_COLUMNS = (
    _sessions.c.account_id, _sessions.c.last_seen_at, _sessions.c.expires_at, _sessions.c.revoked_at,
    _accounts.c.is_active,
)
SESSION_FROM = _sessions.join(_accounts, _accounts.c.id == _sessions.c.account_id)
SESSION_ID = _sessions.c.id
_SESSION_LOOKUP = select(*SESSION_COLUMNS).select_from(SESSION_FROM).where(SESSION_ID == bindparam("session_id"))


def session_id_of(raw: str) -> str:
    """The stored id of a session cookie's value."""
    return sha256(raw)


async def session_principal(db: AsyncSession, session_id: str, row: Sequence[Any]) -> Principal | None:
    """The principal of a looked-up session (the SESSION_COLUMNS of its row), if it is still good."""
    account_id, last_seen_at, expires_at, revoked_at, active = row
    now = utcnow()
    if revoked_at is not None or expires_at <= now or not active:
        return None
    if now - last_seen_at > SEEN_RESOLUTION:
        # Rare (once per SEEN_RESOLUTION): a change to the loaded row, which a read request
        # commits as bookkeeping and a write with its own transaction.
        session = await db.get(SignInSession, session_id)
        if session is not None:
            session.last_seen_at = now
    return Principal(account_id=account_id, kind="session", session_id=session_id)


async def _resolve_session(db: AsyncSession, raw: str) -> Principal | None:
    session_id = session_id_of(raw)
    row = (await db.execute(_SESSION_LOOKUP, {"session_id": session_id})).first()
    if row is None:
        return None
    return await session_principal(db, session_id, row)


def check_csrf(request: Request, principal: Principal) -> None:
    """Writes with a session cookie must echo its CSRF token in a header."""
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, csrf_token_for(principal.session_id or "")):
            raise Forbidden(
                "This request lacks a valid CSRF token. Reload the page and try again.",
                code="csrf_failed",
            )


async def _resolve_personal_token(db: AsyncSession, raw: str) -> Principal | None:
    if not raw.startswith(PAT_PREFIX):
        return None
    row = (
        await db.execute(
            select(ApiToken, Account.is_active)
            .join(Account, Account.id == ApiToken.account_id)
            .where(ApiToken.token_hash == sha256(raw))
        )
    ).first()
    if row is None:
        return None
    token, active = row
    if token.revoked_at is not None or not active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > SEEN_RESOLUTION:
        token.last_used_at = now
    return Principal(account_id=token.account_id, kind="token", token_id=token.id)


register_bearer_resolver(_resolve_personal_token)


async def resolve_bearer(db: AsyncSession, credential: str) -> Principal | None:
    """The principal of a Bearer credential (personal or application token), or None."""
    for resolver in _bearer_resolvers:
        principal = await resolver(db, credential)
        if principal is not None:
            return principal
    return None


async def resolve_session_cookie(db: AsyncSession, raw: str) -> Principal | None:
    """The principal of a session cookie's value, or None. CSRF is the caller's business."""
    return await _resolve_session(db, raw)


async def resolve_principal(request: Request, db: AsyncSession) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise NotAuthenticated(
                "The Authorization header must be 'Bearer <token>'.", code="invalid_authorization"
            )
        principal = await resolve_bearer(db, credential.strip())
        if principal is not None:
            return principal
        raise NotAuthenticated("This token is not valid or was revoked.", code="invalid_token")
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    principal = await _resolve_session(db, raw)
    if principal is not None:
        check_csrf(request, principal)
    return principal


async def optional_principal(request: Request, db: AsyncSession = Depends(get_db)) -> Principal | None:
    cached = getattr(request.state, "principal", ...)
    if cached is not ...:
        return cached
    principal = await resolve_principal(request, db)
    request.state.principal = principal
    return principal


async def require_principal(
    principal: Principal | None = Depends(optional_principal),
) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
DB = Annotated[AsyncSession, Depends(get_db)]
