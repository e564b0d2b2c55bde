"""The ``redash`` run facet: which Redash job and result a task's run produced.

Imported only while OpenLineage builds an event (it subclasses the OpenLineage client's
``RunFacet``, so importing it needs the ``openlineage`` extra).
"""

from __future__ import annotations

from attrs import define, field
from openlineage.client.facet_v2 import RunFacet

#: The facet's schema: OpenLineage's generic run facet (the fields below are additional properties,
#: which that schema allows); no schema of its own is published yet.
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"


@define
class RedashRunFacet(RunFacet):
    """The Redash side of a task run.

    :param server: the Redash server (``redash://host[:port]``; never a key).
    :param queryId: the saved query, for a task that ran one.
    :param jobId: the Redash job that ran it (``None`` when a cached result answered).
    :param queryResultId: the result the run produced or used.
    :param dashboardId: the dashboard, for a dashboard refresh.
    :param queries: every query run of a dashboard refresh: ``{"queryId", "jobId", "queryResultId"}``.
    """

    server: str
    # camelCase, as OpenLineage's facet fields are.
    queryId: int | None = field(default=None)
    jobId: str | None = field(default=None)
    queryResultId: int | None = field(default=None)
    dashboardId: int | None = field(default=None)
    queries: list[dict[str, object]] | None = field(default=None)

    _additional_skip_redact = ["server", "queryId", "jobId", "queryResultId", "dashboardId", "queries"]

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL
