"""Extra links to a product's pages; the Redash ones live in :mod:`.redash`.

``airflow_provider_dash.links.RedashQueryLink`` (the class path DAGs serialised by older releases
name) keeps resolving through this re-export.
"""

# The Redash names are listed once, in the __all__ of links.redash; this package re-exports exactly those.
from airflow_provider_dash.links import redash
from airflow_provider_dash.links.redash import *  # noqa: F403

__all__ = list(redash.__all__)
