"""Imports every domain's models, so Alembic and the test suite see the whole schema."""

from tack.chat import models as chat_models  # noqa: F401
from tack.core import event_models  # noqa: F401
from tack.core.db import Base
from tack.identity import models as identity_models  # noqa: F401
from tack.media import models as media_models  # noqa: F401
from tack.orgs import models as orgs_models  # noqa: F401
from tack.rooms import models as rooms_models  # noqa: F401

metadata = Base.metadata
# Schema objects made by hand-written DDL in migrations, which autogenerate must leave alone.
UNMANAGED_PREFIXES = chat_models.UNMANAGED_NAMES
