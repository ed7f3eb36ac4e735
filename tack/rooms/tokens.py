"""Room tickets and media tokens: what a join hands out, and how they are checked.

- A *ticket* proves that a person was given a seat in a room. Sent back with a later join, it puts
  that join at the front of the line (a rejoin) before anything is read from the database. It is a
  JWT (HS256) bound to the room, the participant and the account, signed with a key derived from
  the server's secret, and valid for TACK_ROOM_TICKET_HOURS.
- A *media token* lets a participant into the room on the media server. It has the format of
  Janus's signed tokens ("<expiry>,<realm>,<desc>,...:<base64 HMAC-SHA1>"; Janus checks it with its
  token_auth_secret = TACK_MEDIA_TOKEN_SECRET) and names the media room and the participant. It is
  short-lived (TACK_ROOM_MEDIA_TOKEN_SECONDS); Tack also checks it against the seat
  (`service.verify_media_token`), so a removed person's token stops working at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import jwt

from tack.core.config import get_settings
from tack.core.errors import Forbidden

TICKET_AUDIENCE = "tack:room-ticket"
MEDIA_REALM = "janus.plugin.videoroom"


class TicketInvalid(Forbidden):
    code = "ticket_invalid"
    message = "This room ticket is not valid for you or for this room. Join again without it."


class TicketExpired(Forbidden):
    code = "ticket_expired"
    message = "This room ticket has expired. Join again without it."


class MediaTokenInvalid(Forbidden):
    code = "media_token_invalid"
    message = "This media token is not valid: ask for a new one by joining again."


class MediaTokenExpired(Forbidden):
    code = "media_token_expired"
    message = "This media token has expired: ask for a new one by joining again."


def _derived(purpose: str) -> bytes:
    secret = get_settings().resolved_secret_key().encode()
    return hmac.new(secret, f"tack:{purpose}".encode(), hashlib.sha256).digest()


@lru_cache(maxsize=1)
def _ticket_key() -> bytes:
    return _derived("room-ticket")


@lru_cache(maxsize=1)
def _media_secret() -> bytes:
    configured = get_settings().media_token_secret
    return configured.encode() if configured else base64.urlsafe_b64encode(_derived("media-token"))


def reset_keys() -> None:
    """Forget the cached keys (tests that change the settings)."""
    _ticket_key.cache_clear()
    _media_secret.cache_clear()


@dataclass(frozen=True, slots=True)
class Ticket:
    org_id: str
    room_id: str
    participant_id: str
    account_id: str
    expires_at: datetime


def issue_ticket(*, org_id: str, room_id: str, participant_id: str, account_id: str) -> tuple[str, datetime]:
    expires = int(time.time() + get_settings().room_ticket_hours * 3600)
    token = jwt.encode(
        {"aud": TICKET_AUDIENCE, "exp": expires, "org": org_id, "room": room_id, "pid": participant_id,
         "sub": account_id},
        _ticket_key(), algorithm="HS256",
    )
    return token, datetime.fromtimestamp(expires, UTC)


GUEST_PREFIX = "guest:"


def guest_subject(participant_id: str) -> str:
    """What a guest's ticket is held by: the guest participant itself (guests have no account)."""
    return GUEST_PREFIX + participant_id


def read_guest_ticket(token: str, *, org_id: str, room_id: str) -> str:
    """The guest participant a ticket was made for (for this room)."""
    try:
        claims = jwt.decode(token, _ticket_key(), algorithms=["HS256"], audience=TICKET_AUDIENCE,
                            options={"require": ["exp", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise TicketExpired() from None
    except jwt.InvalidTokenError:
        raise TicketInvalid() from None
    participant_id = str(claims.get("pid"))
    if (claims.get("sub") != guest_subject(participant_id) or claims.get("org") != org_id
            or claims.get("room") != room_id):
        raise TicketInvalid()
    return participant_id


def read_ticket(token: str, *, org_id: str, room_id: str, account_id: str) -> Ticket:
    """The ticket's claims, if it was made here for this account and room and has not expired."""
    try:
        claims = jwt.decode(token, _ticket_key(), algorithms=["HS256"], audience=TICKET_AUDIENCE,
                            options={"require": ["exp", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise TicketExpired() from None
    except jwt.InvalidTokenError:
        raise TicketInvalid() from None
    if claims.get("sub") != account_id or claims.get("org") != org_id or claims.get("room") != room_id:
        raise TicketInvalid()
    return Ticket(org_id, room_id, str(claims.get("pid")), account_id, datetime.fromtimestamp(claims["exp"], UTC))


# ---- media tokens (Janus signed-token format) --------------------------------------------------


def _sign(payload: str) -> str:
    digest = hmac.new(_media_secret(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def issue_media_token(*, media_room: int, participant_id: str) -> tuple[str, datetime]:
    expires = int(time.time() + get_settings().room_media_token_seconds)
    payload = f"{expires},{MEDIA_REALM},room={media_room},participant={participant_id}"
    return f"{payload}:{_sign(payload)}", datetime.fromtimestamp(expires, UTC)


def read_media_token(token: str, *, media_room: int) -> str:
    """The participant id a media token was made for, if it is genuine, for this media room, and
    unexpired."""
    payload, sep, signature = token.rpartition(":")
    if not sep or not hmac.compare_digest(_sign(payload).encode(), signature.encode()):
        raise MediaTokenInvalid()
    parts = payload.split(",")
    if len(parts) < 4 or parts[1] != MEDIA_REALM or not parts[0].isdigit():
        raise MediaTokenInvalid()
    descs = dict(part.split("=", 1) for part in parts[2:] if "=" in part)
    if descs.get("room") != str(media_room) or not descs.get("participant"):
        raise MediaTokenInvalid()
    if int(parts[0]) < time.time():
        raise MediaTokenExpired()
    return descs["participant"]
