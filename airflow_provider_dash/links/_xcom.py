"""The one read of a page URL a task pushed to XCom, for every product's extra link (product-neutral)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey


def pushed_url(ti_key: TaskInstanceKey, key: str) -> str:
    """The URL the task pushed to XCom ``key`` ("" before it ran, or when it pushed something else)."""
    # The Task SDK's XCom from Airflow 3.1; Airflow 3.0 resolves links through the core model.
    try:
        from airflow.sdk.execution_time.xcom import XCom
    except ImportError:  # pragma: no cover - Airflow 3.0
        from airflow.models.xcom import XCom  # type: ignore[no-redef]

    value = XCom.get_value(ti_key=ti_key, key=key)
    return value if isinstance(value, str) else ""
