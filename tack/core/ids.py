"""Identifiers made by the application, not the database.

They are 26 lowercase Crockford base32 characters: 48 bits of milliseconds, then 80 random bits.
Made in the app, so org-scoped tables can carry (org_id, id) primary keys on any engine, and sortable
by creation time, so cursor pagination over them is stable. Strings, so browsers never round them.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_PATTERN = r"^[0-9a-hjkmnp-tv-z]{26}$"


def new_id() -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
