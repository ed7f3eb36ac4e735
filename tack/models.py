"""Imports every domain's models, so Alembic and the test suite see the whole schema."""

from tack.core.db import Base
from tack.identity import models as identity_models  # noqa: F401
from tack.orgs import models as orgs_models  # noqa: F401

metadata = Base.metadata
