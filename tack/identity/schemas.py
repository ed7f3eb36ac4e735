from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, model_validator

from tack.core.schemas import EMAIL_OR_MOBILE, TEXT_PATTERN, Input, Name, Schema

Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
Mobile = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,20}$")]
# A login is looked up in the database; PostgreSQL refuses text with NUL in it (a 500, not a 401).
Login = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254, pattern=TEXT_PATTERN)]
InvitationCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{4,32}$")]


class SignUpIn(Input):
    model_config = EMAIL_OR_MOBILE

    name: Name
    email: EmailStr | None = None
    mobile: Mobile | None = None
    password: Password
    invitation_code: InvitationCode | None = Field(
        default=None, description="Joins that organization right after signing up."
    )
    locale: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z]{2}(-[a-zA-Z]{2,4})?$")] | None = None

    @model_validator(mode="after")
    def _email_or_mobile(self) -> SignUpIn:
        if not self.email and not self.mobile:
            raise ValueError("Give an email address or a mobile number.")
        return self


class SignInIn(Input):
    login: Login = Field(description="Email address or mobile number.")
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AccountOut(Schema):
    id: str
    name: str
    email: str | None
    mobile: str | None
    locale: str | None
    created_at: datetime


class AccountUpdate(Input):
    name: Name | None = None
    locale: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z]{2}(-[a-zA-Z]{2,4})?$")] | None = None


class SessionInfo(Schema):
    account: AccountOut
    csrf_token: str
    joined_org_id: str | None = Field(default=None, description="Set when an invitation was accepted.")


class SessionOut(Schema):
    id: str = Field(description="The session's public id, used to revoke it.")
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool = False


class TokenIn(Input):
    name: Name


class TokenOut(Schema):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself. It is shown only this once.")
