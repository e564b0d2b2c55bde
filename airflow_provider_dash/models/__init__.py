"""Typed views of what the servers send: frozen pydantic models on the ground of :mod:`._base`.

The Redash ones live in :mod:`.redash` (jobs, results, runs) and :mod:`.redash_objects` (queries,
parameters, widgets, dashboards, list pages); :mod:`.redash` re-exports the latter.

``from airflow_provider_dash.models import Job`` keeps working: the Redash names are re-exported here.
"""

from airflow_provider_dash.models.redash import (
    CANCELLED_ERROR_TEXT,
    NON_TERMINAL_STATUSES,
    TERMINAL_STATUSES,
    Column,
    Dashboard,
    Job,
    JobStatus,
    MappingType,
    Page,
    Parameter,
    ParameterMapping,
    ParameterType,
    Query,
    QueryResult,
    QueryRun,
    Widget,
    clean_job_error,
    job_failure_message,
    parse_list,
    raise_for_job,
)

__all__ = [
    "CANCELLED_ERROR_TEXT",
    "NON_TERMINAL_STATUSES",
    "TERMINAL_STATUSES",
    "Column",
    "Dashboard",
    "Job",
    "JobStatus",
    "MappingType",
    "Page",
    "Parameter",
    "ParameterMapping",
    "ParameterType",
    "Query",
    "QueryResult",
    "QueryRun",
    "Widget",
    "clean_job_error",
    "job_failure_message",
    "parse_list",
    "raise_for_job",
]
