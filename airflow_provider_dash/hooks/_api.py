"""Deprecated private facade: the shared layer now lives in :mod:`airflow_provider_dash.retry`,
:mod:`._redash_config`, :mod:`._redash_routes`, :mod:`._redash_errors` and :mod:`._redash_cancel`.

Kept so code written against it keeps importing; new code imports from those modules.
"""

from airflow_provider_dash.hooks._redash_cancel import *  # noqa: F403
from airflow_provider_dash.hooks._redash_config import *  # noqa: F403
from airflow_provider_dash.hooks._redash_config import _base_url  # noqa: F401
from airflow_provider_dash.hooks._redash_errors import *  # noqa: F403
from airflow_provider_dash.hooks._redash_routes import *  # noqa: F403
from airflow_provider_dash.models.redash import clean_job_error, job_failure_message, raise_for_job  # noqa: F401
from airflow_provider_dash.retry import *  # noqa: F403
