"""Typed views of what the servers send: frozen pydantic models on the ground of :mod:`._base`.

The Redash ones live in :mod:`.redash` (jobs, results, runs) and :mod:`.redash_objects` (queries,
parameters, widgets, dashboards, list pages); :mod:`.redash` re-exports the latter.

``from airflow_provider_dash.models import Job`` keeps working: the Redash names are re-exported here.
"""

# The Redash names are listed once, in the __all__ of models.redash; this package re-exports exactly those.
from airflow_provider_dash.models import redash
from airflow_provider_dash.models.redash import *  # noqa: F403

__all__ = list(redash.__all__)
