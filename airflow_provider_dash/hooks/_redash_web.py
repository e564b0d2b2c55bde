"""The web pages of a Redash server (not API routes): where a person opens a query or a dashboard.

Stdlib only, no Airflow: the extra links and the command line both name these pages.
"""

from __future__ import annotations

from urllib.parse import quote


def query_page_url(base_url: str, query_id: int) -> str:
    """The web page of a saved query: ``<base>/queries/<id>``."""
    return f"{base_url.rstrip('/')}/queries/{int(query_id)}"


def dashboard_page_url(base_url: str, dashboard_id: int, slug: str = "") -> str:
    """The web page of a dashboard: ``<base>/dashboards/<id>-<slug>`` (Redash 10+ also takes ``/<id>``)."""
    tail = f"{int(dashboard_id)}-{quote(slug, safe='')}" if slug else str(int(dashboard_id))
    return f"{base_url.rstrip('/')}/dashboards/{tail}"
