from __future__ import annotations

from tack.core.routing import domain_router

router = domain_router(tags=["organizations"])
