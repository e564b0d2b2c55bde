"""RedashClient: the sync client for Redash-compatible servers (requests + tenacity), without Airflow.

It joins the transport (:mod:`._redash_transport`), jobs (:mod:`._redash_jobs`), results
(:mod:`._redash_results`) and the objects the tools need (:mod:`._redash_objects`) and adds the
Redash workflows: queries (with parameter filling), execution (with the shared-job rule),
dashboards, the server, and ``test_connection``. Importing it imports no Airflow, so a command
line can use it; :class:`~airflow_provider_dash.hooks.redash.DashHook` is the same client reading
its configuration from an Airflow connection.

>>> client = RedashClient.from_url("https://redash.example.com", api_key="<key>")  # doctest: +SKIP
>>> client.get_query(7).name  # doctest: +SKIP
'Orders by region'
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, Self

from airflow_provider_dash.exceptions import (
    DashAuthError,
    DashConfigError,
    DashConnectionError,
    DashError,
    DashNotFoundError,
    DashResponseError,
)
from airflow_provider_dash.hooks import _redash_routes as _routes
from airflow_provider_dash.hooks._redash_cancel import job_is_shared
from airflow_provider_dash.hooks._redash_config import DEFAULT_RETRIES, DEFAULT_TIMEOUT, config_from_url
from airflow_provider_dash.hooks._redash_jobs import RedashJobs
from airflow_provider_dash.hooks._redash_objects import RedashObjects
from airflow_provider_dash.hooks._redash_parameters import resolve_parameters
from airflow_provider_dash.hooks._redash_results import RedashResults
from airflow_provider_dash.hooks._redash_routes import Request
from airflow_provider_dash.hooks._redash_transport import MAX_PAGE_SIZE
from airflow_provider_dash.models.redash import Dashboard, Job, Query, QueryResult, QueryRun
from airflow_provider_dash.models.redash_data_sources import DataSource
from airflow_provider_dash.polling import DEFAULT_POLL_INTERVAL


class RedashClient(RedashObjects, RedashResults, RedashJobs):
    """Talk to a Redash-compatible server: queries, jobs, results, dashboards.

    One ``requests.Session`` per client, created on first use. Every call retries connection
    errors, timeouts, 429 and 5xx with backoff (``retries``, default 5) and raises a
    :class:`~airflow_provider_dash.exceptions.DashError` subclass naming the method, the URL (never
    the key) and what was asked for.

    :param config: the normalised connection (see :meth:`from_url`).
    """

    @classmethod
    def from_url(
        cls,
        base_url: str,
        api_key: str,
        *,
        verify: bool | str = True,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        query_id: int | None = None,
    ) -> Self:
        """A client of the server at ``base_url`` with ``api_key``, normalised as a connection would be.

        :param base_url: the server's URL (``https://`` is assumed without a scheme; an org path is kept).
        :param api_key: a user API key (or a query API key with ``query_id``). Never logged.
        :raises DashConfigError: for a URL that is not a base URL or an empty key.
        """
        config = config_from_url(base_url, api_key, verify=verify, timeout=timeout, retries=retries, query_id=query_id)
        return cls(config)

    # ------------------------------------------------------------------ queries

    def list_queries(
        self,
        *,
        search: str | None = None,
        tags: list[str] | None = None,
        archived: bool = False,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[Query]:
        """Every saved query (all pages), optionally filtered.

        :param search: text search (Redash's ``q``).
        :param tags: only queries with these tags.
        :param archived: list archived queries instead.
        :return: the queries, in the server's order.
        :raises DashError: when a page cannot be fetched.
        """
        return [
            Query.from_json(item)
            for item in self._pages(
                lambda page, size: _routes.list_queries_request(
                    page, size, search=search, tags=tags, archived=archived
                ),
                page_size,
            )
        ]

    def get_query(self, query_id: int) -> Query:
        """One saved query with its parameter definitions (cached for the life of this hook).

        :raises DashNotFoundError: when the query does not exist.
        :raises DashAuthError: when the key cannot read it.
        """
        cached = self._queries.get(int(query_id))
        if cached is not None:
            return cached
        query = Query.from_json(self._json(_routes.get_query_request(query_id)))
        self._queries[query.id] = query
        return query

    def create_query(
        self,
        *,
        name: str,
        query: str,
        data_source_id: int,
        description: str | None = None,
        options: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Query:
        """Create a saved query (Redash creates it as a draft).

        :return: the new query.
        :raises DashApiError: when the server refuses it.
        """
        body: dict[str, Any] = {"name": name, "query": query, "data_source_id": data_source_id}
        if description is not None:
            body["description"] = description
        if options is not None:
            body["options"] = dict(options)
        if tags is not None:
            body["tags"] = list(tags)
        created = Query.from_json(self._json(_routes.create_query_request(body)))
        self.log.info("Created query %s %r", created.id, created.name)
        return created

    def edit_query(self, query_id: int, **changes: Any) -> Query:
        """Change fields of a saved query (``name``, ``query``, ``options``, ``is_draft``, ``version``...).

        :return: the query as saved.
        :raises DashApiError: 409 when ``version`` is stale.
        """
        self._queries.pop(int(query_id), None)
        edited = Query.from_json(self._json(_routes.edit_query_request(query_id, changes)))
        self._queries[edited.id] = edited
        return edited

    def archive_query(self, query_id: int) -> None:
        """Archive (Redash's DELETE) a saved query. Archiving twice is harmless.

        :raises DashNotFoundError: when the query does not exist.
        """
        self._queries.pop(int(query_id), None)
        self._send(_routes.archive_query_request(query_id)).close()
        self.log.info("Archived query %s", query_id)

    def get_latest_query_result(self, query_id: int) -> QueryResult:
        """The latest cached result of a query run without parameters.

        :raises DashNotFoundError: when there is none ("No cached result found for this query.").
        """
        return QueryResult.from_json(self._json(_routes.latest_result_request(query_id)))

    def execute_query(
        self,
        query_id: int,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int | None = 0,
        check_parameters: bool = True,
    ) -> QueryRun:
        """Execute a saved query: a cached result when one is fresh enough, else a job to wait on.

        Parameters not given are filled from the query's saved defaults (dynamic dates included) and
        every value is checked first (Redash applies no defaults). Pass complete ``parameters`` with
        ``check_parameters=False`` to skip fetching the query.

        :param max_age: reuse a cached result up to this many seconds old (0: always run; ``None``
            or -1: any cached result).
        :return: :class:`QueryRun` with ``result`` or ``job``.
        :raises DashParameterError: when a value does not fit its definition.
        :raises DashConfigError: when the query is archived (checked when the query is fetched).
        :raises DashError: when the server refuses.
        """
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < -1):
            raise DashConfigError(f"max_age must be a whole number of seconds >= -1 or None, got {max_age!r}")
        if check_parameters or parameters is None:
            query = self.get_query(query_id)
            if query.is_archived:
                # Redash still runs an archived query, but archiving is how a query is retired: a
                # pipeline that keeps refreshing one is almost always a mistake nobody noticed.
                raise DashConfigError(
                    f"Query {query.id} {query.name!r} is archived on {self.config.base_url}: expected an active "
                    "query. Restore it in Redash (or point the task at the query that replaced it)."
                )
            values: Mapping[str, Any] | None = resolve_parameters(query, parameters)
        else:
            values = parameters
        self.log.info("Executing query %s (max_age=%s)", query_id, max_age)
        return self._execute(_routes.execute_query_request(query_id, values, max_age), f"query {query_id}")

    def _execute(self, request: Request, what: str) -> QueryRun:
        """Send an execution; judge a job in the answer as shared or not (:func:`~.job_is_shared`).

        The round trip is timed from the first attempt: when its answer was lost, the retry gets
        back the job that attempt made, which started before the retry reached the server.
        """
        sent_at = time.monotonic()
        response, body = self._exchange(request, want_json=True)
        round_trip = time.monotonic() - sent_at
        run = QueryRun.from_json(body)
        if run.job is not None and run.query_result_id is None:
            shared = job_is_shared(run.job, response.headers.get("Date"), round_trip)
            run = run.model_copy(update={"shared": shared})
        self._log_run(what, run)
        return run

    def execute_sql(self, sql: str, data_source_id: int, *, max_age: int | None = 0) -> QueryRun:
        """Execute ad-hoc SQL on a data source (``POST /api/query_results``).

        :return: :class:`QueryRun` with ``result`` or ``job``.
        :raises DashError: when the server refuses.
        """
        self.log.info("Executing ad-hoc SQL on data source %s (max_age=%s)", data_source_id, max_age)
        return self._execute(
            _routes.execute_sql_request(sql, data_source_id, max_age), f"ad-hoc SQL on data source {data_source_id}"
        )

    def refresh_query(self, query_id: int, parameters: Mapping[str, Any] | None = None) -> Job:
        """Execute through the legacy ``POST /api/queries/<id>/refresh`` (always runs).

        Redash does not check ``p_`` values on this route, so they are filled and checked here.

        :return: the job.
        """
        values = resolve_parameters(self.get_query(query_id), parameters)
        flat: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, Mapping):
                flat.update({f"{name}.{part}": item for part, item in value.items()})
            else:
                flat[name] = value
        self.log.info("Refreshing query %s (legacy route)", query_id)
        job = Job.from_json(self._json(_routes.refresh_query_request(query_id, flat)))
        self.log.info("Query %s: job %s", query_id, job.id)
        return job

    def _log_run(self, what: str, run: QueryRun) -> None:
        if run.result is not None:
            self.log.info("%s: cached result %s", what, run.result.id)
        elif run.job is not None:
            self.log.info("%s: job %s (status %s)", what, run.job.id, run.job.status.name)

    # ------------------------------------------------------------------ dashboards

    def run_query(
        self,
        query_id: int,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_age: int | None = 0,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> int:
        """Execute a saved query and wait for it: :meth:`execute_query` then :meth:`wait_for_job`.

        :return: the query result id.
        :raises DashError: as those two methods do.
        """
        run = self.execute_query(query_id, parameters, max_age=max_age)
        if run.job is None or run.query_result_id is not None:
            assert run.query_result_id is not None
            return run.query_result_id
        job = self.wait_for_job(run.job.id, query_id=query_id, timeout=timeout, poll_interval=poll_interval)
        assert job.query_result_id is not None
        return job.query_result_id

    def list_dashboards(
        self, *, search: str | None = None, tags: list[str] | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> list[Dashboard]:
        """Every dashboard (all pages; drafts included, archived not). Widgets are not included.

        :raises DashError: when a page cannot be fetched.
        """
        return [
            Dashboard.from_json(item)
            for item in self._pages(
                lambda page, size: _routes.list_dashboards_request(page, size, search=search, tags=tags), page_size
            )
        ]

    def get_dashboard(self, dashboard: int | str) -> Dashboard:
        """One dashboard with its widgets, by numeric id (int or digits) or by slug.

        :raises DashNotFoundError: when it does not exist.
        """
        return Dashboard.from_json(self._json(_routes.get_dashboard_request(dashboard)))

    def create_dashboard(self, name: str) -> Dashboard:
        """Create a dashboard (Redash creates it as a draft).

        :raises DashApiError: when the server refuses it.
        """
        created = Dashboard.from_json(self._json(_routes.create_dashboard_request(name)))
        self.log.info("Created dashboard %s %r", created.id, created.name)
        return created

    def edit_dashboard(self, dashboard_id: int, **changes: Any) -> Dashboard:
        """Change fields of a dashboard (``name``, ``tags``, ``is_draft``, ``version``...).

        :return: the dashboard as saved (its slug follows a rename).
        :raises DashApiError: 409 when ``version`` is stale.
        """
        return Dashboard.from_json(self._json(_routes.edit_dashboard_request(dashboard_id, changes)))

    def archive_dashboard(self, dashboard_id: int) -> Dashboard:
        """Archive (Redash's DELETE) a dashboard.

        :return: the archived dashboard.
        """
        archived = Dashboard.from_json(self._json(_routes.archive_dashboard_request(dashboard_id)))
        self.log.info("Archived dashboard %s", dashboard_id)
        return archived

    # ------------------------------------------------------------------ server

    def get_session(self) -> dict[str, Any]:
        """``/api/session``: the key's user and ``client_config`` (``version``). User keys only.

        :raises DashAuthError: for a wrong key or a query key.
        """
        body = self._json(_routes.session_request())
        if not isinstance(body, dict):
            raise DashResponseError(f"/api/session answered {type(body).__name__}, not a JSON object")
        return body

    def list_data_sources(self) -> list[dict[str, Any]]:
        """Every data source (``id``, ``name``, ``type``...), as the server sends them."""
        body = self._json(_routes.list_data_sources_request())
        if not isinstance(body, list):
            raise DashResponseError(f"/api/data_sources answered {type(body).__name__}, not a list")
        return body

    def get_data_source(self, data_source_id: int) -> DataSource:
        """One data source; its ``options`` are ``None`` unless the key is an admin's.

        :raises DashAuthError: for a key that may not read it (a query key).
        :raises DashResponseError: when the answer is not a data source.
        """
        return DataSource.from_json(self._json(_routes.get_data_source_request(data_source_id)))

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection for Airflow's "Test" button, without retries (a UI should answer fast).

        :return: ``(ok, message)``: the message tells apart an unreachable server, a TLS failure, a
            rejected key, a working user key (user and server version) and a working query key.
        """
        try:
            config = dataclasses.replace(self.config, retries=0)
        except DashError as error:
            return False, str(error)
        base = config.base_url
        try:
            if config.query_id is not None:
                query = Query.from_json(self._json(_routes.get_query_request(config.query_id), config))
                return True, (
                    f"Query API key works on {base}: it can read query {query.id} {query.name!r}. "
                    "It cannot cancel jobs (Redash lets only user keys cancel), so a timeout or kill leaves the "
                    "job running on the server; use a user API key to have them cancelled"
                )
            session = self._json(_routes.session_request(), config)
        except DashAuthError:
            if config.query_id is not None:
                return False, (
                    f"{base} rejected the API key for query {config.query_id} (HTTP 404 Couldn't find resource): "
                    "the key is wrong or belongs to another query"
                )
            return False, (
                f"{base} rejected the API key (HTTP 404 Couldn't find resource): the key is wrong, "
                "or is a query API key — set extra query_id to check it"
            )
        except DashConnectionError as error:
            if "TLS verification failed" in str(error):
                return False, str(error)
            return False, f"Cannot reach {base}: {error}"
        except DashNotFoundError as error:
            return False, f"{base} does not look like a Redash server: {error}"
        except DashError as error:
            return False, str(error)
        user = session.get("user") if isinstance(session, dict) else None
        client_config = session.get("client_config") if isinstance(session, dict) else None
        name = user.get("name") or user.get("email") if isinstance(user, dict) else None
        version = client_config.get("version") if isinstance(client_config, dict) else None
        return True, f"Connected to {base} as {name or 'an unnamed user'} (server version {version or 'unknown'})"
