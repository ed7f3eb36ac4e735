from __future__ import annotations

from fastapi import Request, Response, status

from tack.core.auth import CSRF_COOKIE, DB, SESSION_COOKIE, CurrentPrincipal, csrf_token_for
from tack.core.config import get_settings
from tack.core.db import begin_write, deferred_write
from tack.core.errors import error_responses
from tack.core.routing import client_address, domain_router
from tack.core.schemas import IdPath
from tack.identity import service
from tack.identity.models import Account
from tack.identity.schemas import (
    AccountOut,
    AccountUpdate,
    SessionInfo,
    SessionOut,
    SignInIn,
    SignUpIn,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from tack.orgs import service as orgs_service

router = domain_router(tags=["identity"])


def _set_session_cookies(response: Response, raw_token: str, session_id: str) -> str:
    settings = get_settings()
    max_age = settings.session_ttl_days * 86400
    csrf = csrf_token_for(session_id)
    response.set_cookie(
        SESSION_COOKIE, raw_token, max_age=max_age, httponly=True, samesite="lax",
        secure=settings.cookie_secure, path="/",
    )
    # Readable by the web client, which echoes it in the X-CSRF-Token header on writes.
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="lax",
        secure=settings.cookie_secure, path="/",
    )
    return csrf


@router.post(
    "/auth/sign-up", response_model=SessionInfo, status_code=status.HTTP_201_CREATED,
    responses=error_responses(410),
)
async def sign_up(body: SignUpIn, request: Request, response: Response, db: DB) -> SessionInfo:
    """Create an account and sign in; with an invitation code, also join that organization."""
    invitation = None
    if body.invitation_code:
        # Check the invitation first, so a dead code creates no account.
        invitation = await orgs_service.get_usable_invitation(
            db, body.invitation_code, address=client_address(request)
        )
    account = await service.create_account(
        db, name=body.name, password=body.password, email=body.email, mobile=body.mobile,
        locale=body.locale,
    )
    joined = None
    if invitation is not None:
        membership = await orgs_service.accept_invitation(db, invitation, account)
        joined = membership.org_id
    raw, session = await service.start_session(
        db, account, user_agent=request.headers.get("user-agent"), address=client_address(request)
    )
    csrf = _set_session_cookies(response, raw, session.id)
    return SessionInfo(account=AccountOut.model_validate(account), csrf_token=csrf, joined_org_id=joined)


@router.post("/auth/sign-in", response_model=SessionInfo)
@deferred_write
async def sign_in(body: SignInIn, request: Request, response: Response, db: DB) -> SessionInfo:
    # The password is checked before the write transaction begins: its slow hash must not keep
    # every other writer waiting (SQLite has one writer at a time).
    account = await service.authenticate(
        db, login=body.login, password=body.password, address=client_address(request)
    )
    await begin_write(db)
    raw, session = await service.start_session(
        db, account, user_agent=request.headers.get("user-agent"), address=client_address(request)
    )
    csrf = _set_session_cookies(response, raw, session.id)
    return SessionInfo(account=AccountOut.model_validate(account), csrf_token=csrf)


@router.post("/auth/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(principal: CurrentPrincipal, response: Response, db: DB) -> Response:
    if principal.session_id:
        await service.end_session(db, principal.session_id)
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/session", response_model=SessionInfo)
async def current_session(principal: CurrentPrincipal, db: DB) -> SessionInfo:
    """The signed-in account and the CSRF token the web client sends on writes."""
    account = await service.get_account(db, principal.account_id)
    csrf = csrf_token_for(principal.session_id) if principal.session_id else ""
    return SessionInfo(account=AccountOut.model_validate(account), csrf_token=csrf)


@router.get("/me", response_model=AccountOut)
async def get_me(principal: CurrentPrincipal, db: DB) -> Account:
    return await service.get_account(db, principal.account_id)


@router.patch("/me", response_model=AccountOut)
async def update_me(body: AccountUpdate, principal: CurrentPrincipal, db: DB) -> Account:
    account = await service.get_account(db, principal.account_id)
    return await service.update_account(db, account, name=body.name, locale=body.locale)


@router.get("/me/sessions", response_model=list[SessionOut])
async def list_my_sessions(principal: CurrentPrincipal, db: DB) -> list[SessionOut]:
    sessions = await service.list_sessions(db, principal.account_id)
    return [
        SessionOut(
            id=s.public_id, created_at=s.created_at, last_seen_at=s.last_seen_at, expires_at=s.expires_at,
            user_agent=s.user_agent, ip_address=s.ip_address, current=s.id == principal.session_id,
        )
        for s in sessions
    ]


@router.delete("/me/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_session(session_id: IdPath, principal: CurrentPrincipal, db: DB) -> None:
    await service.revoke_session(db, principal.account_id, session_id)


@router.get("/me/tokens", response_model=list[TokenOut])
async def list_my_tokens(principal: CurrentPrincipal, db: DB) -> list:
    return await service.list_tokens(db, principal.account_id)


@router.post("/me/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_my_token(body: TokenIn, principal: CurrentPrincipal, db: DB) -> TokenCreated:
    raw, token = await service.create_token(db, principal.account_id, body.name)
    return TokenCreated(
        id=token.id, name=token.name, prefix=token.prefix, created_at=token.created_at,
        last_used_at=token.last_used_at, token=raw,
    )


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_token(token_id: IdPath, principal: CurrentPrincipal, db: DB) -> None:
    await service.revoke_token(db, principal.account_id, token_id)
