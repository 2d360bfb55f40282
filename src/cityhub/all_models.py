"""Imports every domain's models so the metadata (and Alembic autogenerate) sees all tables."""

from cityhub import lease as lease_models  # noqa: F401
from cityhub.auth import models as auth_models  # noqa: F401
from cityhub.board import models as board_models  # noqa: F401
from cityhub.catalog import models as catalog_models  # noqa: F401
from cityhub.catalog import search_codes as catalog_search_codes  # noqa: F401
from cityhub.catalog import search_docs as catalog_search_docs  # noqa: F401
from cityhub.catalog import search_facets as catalog_search_facets  # noqa: F401
from cityhub.collect import models as collect_models  # noqa: F401
from cityhub.context import models as context_models  # noqa: F401
from cityhub.datastore import models as datastore_models  # noqa: F401
from cityhub.governance import models as governance_models  # noqa: F401
from cityhub.governance import models_market as governance_market_models  # noqa: F401
from cityhub.ops import models as ops_models  # noqa: F401
from cityhub.projects import models as projects_models  # noqa: F401
from cityhub.stats import models as stats_models  # noqa: F401
