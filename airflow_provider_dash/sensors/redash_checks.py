"""QueryResultSensor: re-run a saved Redash query every poke until its result passes a check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_dash.arguments import (
    as_id,
    as_max_age,
    as_parameters,
    check_id,
    check_max_age,
    check_parameters,
)
from airflow_provider_dash.checks import CheckSpec
from airflow_provider_dash.defaults import default_deferrable
from airflow_provider_dash.events import read_job_event
from airflow_provider_dash.exceptions import DashConfigError, DashError
from airflow_provider_dash.links import QUERY_URL_KEY, RedashQueryLink, query_page_url
from airflow_provider_dash.models import QueryResult
from airflow_provider_dash.models.redash import raise_for_job
from airflow_provider_dash.operators._redash_waiting import JOB_ID_KEY, RedashJobTaskMixin
from airflow_provider_dash.polling import DEFAULT_POLL_INTERVAL, check_poll_interval, is_past

if TYPE_CHECKING:
    from airflow.sdk import Context

Condition = Callable[[QueryResult], bool]


class QueryResultSensor(RedashJobTaskMixin, BaseSensorOperator):
    """Re-run a saved query every poke until its result passes ``condition``; return that result's id.

    Each poke submits a run (``max_age=0`` by default, so the data is read afresh), waits for it
    and judges the result. ``condition`` is a callable ``(QueryResult) -> bool``, or a check spec as
    :class:`~airflow_provider_dash.operators.redash_checks.QueryCheckOperator` takes it
    (``{"min_rows": 1, "column_checks": {...}}``); by default the result needs at least one row
    with every first-row value truthy ("the data is there").

    * ``poke`` and ``reschedule`` modes: the run and its wait happen in the poke.
    * deferrable: the worker submits each run and defers to
      :class:`~airflow_provider_dash.triggers.redash.JobTrigger` to wait for it; when the result does
      not pass yet, it defers to Airflow's ``TimeDeltaTrigger`` for ``poke_interval`` and then
      submits the next run. The triggers only wait: a restarted triggerer never runs the query.

    The sensor's ``timeout`` counts from the task's start, across deferrals. A failed or cancelled
    run fails the sensor (skips it with ``soft_fail=True``), as does the timeout.

    :param query_id: the saved query (templated).
    :param parameters: parameter values by name (templated).
    :param condition: a callable on the :class:`~airflow_provider_dash.models.QueryResult`, or a
        check spec mapping (keys ``min_rows``, ``max_rows``, ``column_checks``, ``check_first_row``).
    :param max_age: reuse a cached result up to this many seconds old (templated; default 0:
        every poke runs the query).
    :param poll_interval: the longest pause between two polls of a run's job, in seconds.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param dash_conn_id: the Airflow connection of the server.
    :return: the id of the first result that passed.
    :raises DashJobFailedError: a run failed (unless ``soft_fail``).
    :raises AirflowSensorTimeout: ``timeout`` passed without a passing result.
    """

    template_fields: Sequence[str] = ("query_id", "parameters", "max_age")
    template_fields_renderers = {"parameters": "json"}
    operator_extra_links = (RedashQueryLink(),)
    ui_color = "#ff7667"

    def __init__(
        self,
        *,
        query_id: int | str,
        parameters: Mapping[str, Any] | str | None = None,
        condition: Condition | Mapping[str, Any] | None = None,
        max_age: int | str | None = 0,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deferrable: bool = default_deferrable(),
        dash_conn_id: str = "dash_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_id(query_id)
        check_parameters(parameters)
        check_max_age(max_age)
        if condition is None:
            self.condition: Condition | CheckSpec = CheckSpec()
        elif isinstance(condition, Mapping):
            self.condition = CheckSpec.from_mapping(condition)
        elif callable(condition):
            self.condition = condition
        else:
            raise DashConfigError(f"condition must be a callable on the QueryResult or a check spec, got {condition!r}")
        self.query_id = query_id
        self.parameters = parameters
        self.max_age = max_age
        self.poll_interval = check_poll_interval(poll_interval)
        self.deferrable = deferrable
        self.dash_conn_id = dash_conn_id
        self._job: tuple[str, int, bool] | None = None  # (job id, query id, owned) while waiting in a poke

    def _fail(self, error: DashError) -> NoReturn:
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping (soft_fail): {error}") from error
        raise error

    def _timeout(self, message: str) -> NoReturn:
        if self.soft_fail:
            raise AirflowSkipException(f"Skipping (soft_fail): {message}")
        raise AirflowSensorTimeout(message)

    def _passes(self, query_id: int, result_id: int) -> bool:
        """Fetch result ``result_id`` and judge it with ``condition``."""
        result = self._lineage_result(query_id, result_id)  # kept for the lineage: fetched once
        if isinstance(self.condition, CheckSpec):
            failures = self.condition.evaluate(result)
        else:
            failures = [] if self.condition(result) else ["the condition returned False"]
        if failures:
            # Only a passing result is kept for the lineage: a long poke-mode sensor keeps none of the others.
            self._lineage()["results"].pop(result_id, None)
            self.log.info(
                "Query %s result %s (%d rows) does not pass yet: %s",
                query_id,
                result_id,
                result.row_count,
                "; ".join(failures),
            )
            return False
        self.log.info("Query %s result %s (%d rows) passed", query_id, result_id, result.row_count)
        return True

    def _submit(self, context: Context) -> tuple[int, int | None, Any, bool]:
        """Submit one run: (query id, result id when answered at once, the job otherwise, whether
        the job is this task's to cancel: not one Redash shares with another run in flight)."""
        query_id = as_id(self.query_id)
        hook = self._get_hook()
        context["ti"].xcom_push(key=QUERY_URL_KEY, value=query_page_url(hook.config.base_url, query_id))
        run = hook.execute_query(query_id, as_parameters(self.parameters), max_age=as_max_age(self.max_age))
        if run.query_result_id is not None:
            return query_id, run.query_result_id, None, False
        assert run.job is not None
        context["ti"].xcom_push(key=JOB_ID_KEY, value=run.job.id)
        return query_id, None, run.job, run.shared is not True

    # ------------------------------------------------------------------ poke / reschedule

    def poke(self, context: Context) -> PokeReturnValue:
        """Run the query, wait for it in the worker, and judge the result."""
        query_id, result_id, job, owned = self._submit(context)
        if result_id is None:
            self._job = (job.id, query_id, owned)
            try:
                done = self._get_hook().wait_for_job(
                    job.id,
                    query_id=query_id,
                    timeout=self.timeout if self.timeout and self.timeout < float("inf") else None,
                    poll_interval=self.poll_interval,
                    cancel_on_timeout=owned,
                )
            except DashError as error:
                self._fail(error)
            finally:
                self._job = None
            result_id = done.query_result_id
            assert result_id is not None
        passed = self._passes(query_id, result_id)
        if passed:
            self._lineage_record(context, query_id, job.id if job is not None else None, result_id)
        return PokeReturnValue(is_done=passed, xcom_value=result_id if passed else None)

    def on_kill(self) -> None:
        """Cancel the run being waited on in a poke (never one shared with another run)."""
        if self._job is None:
            return
        job_id, query_id, owned = self._job
        if not owned:
            self.log.info("Not cancelling job %s: it is shared with another run of the same query", job_id)
            return
        self._get_hook().cancel_summary(job_id, query_id)  # logs the outcome

    # ------------------------------------------------------------------ deferrable

    def execute(self, context: Context) -> Any:
        """Poke or reschedule as usual; deferrable: submit a run in the worker and defer its wait."""
        if not self.deferrable:
            return super().execute(context)
        return self._poke_deferred(context)

    def _deadline(self, context: Context) -> float | None:
        if not self.timeout or self.timeout == float("inf"):
            return None
        start = getattr(context.get("ti"), "start_date", None)  # kept across deferrals
        started = start.timestamp() if start is not None else dt.datetime.now(dt.UTC).timestamp()
        return started + float(self.timeout)

    def _poke_deferred(self, context: Context) -> int:
        deadline = self._deadline(context)
        if is_past(deadline):
            self._timeout(f"Query {self.query_id} did not pass within the sensor timeout of {self.timeout:g} s")
        query_id, result_id, job, owned = self._submit(context)
        if result_id is None:
            job = self._get_hook().get_job(job.id, query_id)  # one check: a fast run needs no triggerer
            if job.is_terminal:
                try:
                    raise_for_job(job, query_id)
                except DashError as error:
                    self._fail(error)
                result_id = job.query_result_id
            else:
                self._defer_to_job(job.id, query_id, owned=owned, end_time=deadline)
        assert result_id is not None
        return self._after_result(context, query_id, result_id, deadline, job.id if job is not None else None)

    def _after_result(
        self, context: Context, query_id: int, result_id: int, deadline: float | None, job_id: str | None
    ) -> int:
        if self._passes(query_id, result_id):
            self._lineage_record(context, query_id, job_id, result_id)
            return result_id
        if deadline is not None and is_past(deadline - self.poke_interval):
            self._timeout(
                f"Query {query_id} did not pass within the sensor timeout of {self.timeout:g} s "
                f"(last result {result_id})"
            )
        # Imported here: the standard provider's triggers are only needed by a deferred sensor.
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.defer(
            trigger=TimeDeltaTrigger(dt.timedelta(seconds=self.poke_interval)),
            method_name="poke_again",
        )

    def poke_again(self, context: Context, event: Any = None, **_: Any) -> int:
        """Resume after the poke interval: submit the next run (in the worker)."""
        return self._poke_deferred(context)

    def execute_complete(self, context: Context, event: dict[str, Any], **_: Any) -> int:
        """Resume after :class:`JobTrigger`: judge the run's result, or fail (skip with ``soft_fail``)."""
        outcomes = read_job_event(event)
        state = outcomes.state
        job_id, query_id = str(state["job_id"]), int(state["query_id"])
        if outcomes.status == "timeout":
            fate = (
                f"the job was {self._get_hook().cancel_summary(job_id, query_id)}"
                if state.get("owned")
                else "it was left running: it is shared with another run of the same query"
            )
            self._timeout(
                f"Query {query_id} did not pass within the sensor timeout of {self.timeout:g} s "
                f"(its last run, job {job_id}, was still running; {fate})"
            )
        try:
            outcomes.raise_for_failures()
        except DashError as error:
            self._fail(error)
        result_id = outcomes.result_id(job_id)
        assert result_id is not None
        return self._after_result(context, query_id, result_id, self._deadline(context), job_id)
