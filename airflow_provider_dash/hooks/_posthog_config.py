"""The PostHog connection, normalised: host, API key, project, generation, TLS, timeouts, retries.

The key (a personal API key ``phx_...``, or a project secret key ``phs_...`` that may only run
endpoints) travels only in the ``Authorization: Bearer <key>`` header: never in a URL, a log line,
an error text or a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dash.conn_fields import as_bool_or_path, as_number, base_url, read_extras
from airflow_provider_dash.exceptions import DashConfigError

DEFAULT_TIMEOUT = 30.0
#: Seconds a run may hold its request when no task deadline bounds it (PostHog queues a run up to
#: ~30 s for a concurrency slot, then computes it; API queries stop at about 10 s of execution).
DEFAULT_RUN_TIMEOUT = 600.0
DEFAULT_RETRIES = 5
G1, G3 = "g1", "g3"
GENERATIONS = (G1, G3)
EXAMPLE_HOST = "https://us.posthog.com"
EXTRA_EXAMPLE = '{"project_id": 12345, "timeout": 30, "retries": 5}'


@dataclass(frozen=True, slots=True)
class PostHogConfig:
    """A normalised PostHog connection: everything a transport needs, nothing Airflow-specific.

    :param conn_id: the Airflow connection id (used in error texts).
    :param base_url: scheme, host and optional port (``https://us.posthog.com``), no path.
    :param api_key: ``phx_...`` or ``phs_...``. Never in ``repr``.
    :param project_id: the PostHog project (environment) id every route is under.
    :param verify: ``True``/``False`` or the path of a CA bundle.
    :param timeout: seconds per HTTP request, runs excepted.
    :param run_timeout: seconds a run may hold its request when no task deadline bounds it.
    :param retries: how many times a failed request is retried (0 = no retry).
    :param generation: ``"g3"`` or ``"g1"`` when the connection says so; ``None``: detected from the server.
    """

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    project_id: int
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    run_timeout: float = DEFAULT_RUN_TIMEOUT
    retries: int = DEFAULT_RETRIES
    generation: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, the key included: never log these."""
        return {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}

    @property
    def is_secret_key(self) -> bool:
        """A project secret key (``phs_``): it may run endpoints, nothing else."""
        return self.api_key.startswith("phs_")

    @property
    def cache_key(self) -> tuple[str, int]:
        """What identifies the server and project (the detected generation is remembered per key)."""
        return (self.base_url, self.project_id)


def config_from_connection(conn: Any) -> PostHogConfig:
    """Normalise an Airflow connection into a :class:`PostHogConfig`.

    ``host`` is the PostHog URL (``https://us.posthog.com``, ``https://eu.posthog.com`` or a
    self-hosted one; ``https://`` assumed), ``password`` the API key, extra ``project_id`` the
    project (the URI form may give it as the path: ``posthog://:phx_...@us.posthog.com/12345``), and
    the extras ``verify``, ``timeout``, ``run_timeout``, ``retries`` and ``generation``
    (``"g3"``/``"g1"``; default: detected) tune the client.

    :raises DashConfigError: naming the connection id and what is missing or wrong.
    """
    conn_id = str(getattr(conn, "conn_id", None) or "<unnamed>")
    host = getattr(conn, "host", None)
    if not host or not str(host).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no host: set it to {EXAMPLE_HOST}, https://eu.posthog.com or your "
            "self-hosted PostHog URL"
        )
    api_key = getattr(conn, "password", None)
    if not api_key or not str(api_key).strip():
        raise DashConfigError(
            f"Connection {conn_id!r} has no API key: put a personal API key (phx_...) or a project secret key "
            "(phs_..., runs only) in the password field"
        )
    extras = read_extras(conn, EXTRA_EXAMPLE)
    schema = str(getattr(conn, "schema", None) or "").strip().strip("/")
    raw_project = extras.get("project_id")
    if raw_project in (None, "") and schema.isdigit():
        raw_project = schema  # URI form: the path is the project id
    if raw_project in (None, ""):
        raise DashConfigError(
            f"Connection {conn_id!r} has no project: set extra project_id to the PostHog project id "
            f"(e.g. {EXTRA_EXAMPLE})"
        )
    project_id = as_number(conn_id, "project_id", raw_project, None, integer=True, minimum=1)
    generation = extras.get("generation")
    if generation in (None, "", "auto"):
        generation = None
    elif str(generation).lower() not in GENERATIONS:
        raise DashConfigError(
            f"Connection {conn_id!r}: extra 'generation' must be 'g3', 'g1' or 'auto', got {generation!r}"
        )
    else:
        generation = str(generation).lower()
    url_schema = schema if schema.lower() in ("http", "https") else None
    return PostHogConfig(
        conn_id=conn_id,
        base_url=base_url(
            conn_id,
            str(host),
            url_schema,
            getattr(conn, "port", None),
            extras.get("protocol"),
            example=EXAMPLE_HOST,
            keep_path=True,
        ),
        api_key=str(api_key).strip(),
        project_id=project_id,
        verify=as_bool_or_path(conn_id, extras.get("verify")),
        timeout=as_number(conn_id, "timeout", extras.get("timeout"), DEFAULT_TIMEOUT, integer=False, minimum=0.001),
        run_timeout=as_number(
            conn_id, "run_timeout", extras.get("run_timeout"), DEFAULT_RUN_TIMEOUT, integer=False, minimum=0.001
        ),
        retries=as_number(conn_id, "retries", extras.get("retries"), DEFAULT_RETRIES, integer=True, minimum=0),
        generation=generation,
    )
