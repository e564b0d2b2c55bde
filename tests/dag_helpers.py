"""Helpers for the operator tests: dag.test() results and direct calls (with stand-ins for Airflow's context)."""

from __future__ import annotations

import json
import threading
from typing import Any


def register_dag(dag: Any) -> None:
    """Write ``dag`` to the metadata DB the way the DAG processor would (dag.test() needs it there)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


class DagResult:
    """What one dag.test() run left behind: task states and XComs."""

    def __init__(self, dag_run: Any) -> None:
        self.dag_run = dag_run

    @property
    def state(self) -> str:
        return str(self.dag_run.state)

    def task_state(self, task_id: str) -> str:
        from airflow.utils.session import create_session

        with create_session() as session:
            ti = self.dag_run.get_task_instance(task_id, session=session)
            assert ti is not None, task_id
            return str(ti.state)

    def try_number(self, task_id: str) -> int:
        from airflow.utils.session import create_session

        with create_session() as session:
            ti = self.dag_run.get_task_instance(task_id, session=session)
            assert ti is not None, task_id
            return int(ti.try_number)

    def xcoms(self) -> list[tuple[str, str, Any]]:
        """Every XCom row of the run as (task id, key, stored value as the DB holds it)."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.execute(
                select(XComModel.task_id, XComModel.key, XComModel.value).where(
                    XComModel.dag_id == self.dag_run.dag_id, XComModel.run_id == self.dag_run.run_id
                )
            ).all()
        return [(str(task_id), str(key), value) for task_id, key, value in rows]

    def rendered_fields(self) -> dict[str, Any]:
        """Every task's rendered template fields as stored for the run (task id -> fields)."""
        from airflow.models.renderedtifields import RenderedTaskInstanceFields
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.execute(
                select(RenderedTaskInstanceFields.task_id, RenderedTaskInstanceFields.rendered_fields).where(
                    RenderedTaskInstanceFields.dag_id == self.dag_run.dag_id,
                    RenderedTaskInstanceFields.run_id == self.dag_run.run_id,
                )
            ).all()
        return {str(task_id): fields for task_id, fields in rows}

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            value = session.scalar(
                select(XComModel.value).where(
                    XComModel.dag_id == self.dag_run.dag_id,
                    XComModel.run_id == self.dag_run.run_id,
                    XComModel.task_id == task_id,
                    XComModel.key == key,
                )
            )
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


# --------------------------------------------------------------------------- direct calls
# The stand-ins ship with the emulator, so users (and the benchmarks) can run tasks the same way.
from airflow_provider_dash.testing.inline import make_context, run_inline, run_trigger  # noqa: E402


def run_in_thread(operator: Any, context: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``operator.execute(context)`` in a daemon thread; its return value or error lands in the list."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(operator.execute(context))
        except BaseException as error:  # the test inspects it
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def job_id_pushed(context: Any) -> threading.Event:
    """An event set when the task pushes its job id (it is then waiting on the job)."""
    pushed = threading.Event()

    def on_push(key: str, value: Any) -> None:
        if key == "job_id":
            pushed.set()

    context["ti"].on_push = on_push
    return pushed


__all__ = ["DagResult", "job_id_pushed", "make_context", "register_dag", "run_in_thread", "run_inline", "run_trigger"]
