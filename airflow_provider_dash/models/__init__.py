"""Typed views of what the servers send; the Redash ones live in :mod:`.redash`.

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
