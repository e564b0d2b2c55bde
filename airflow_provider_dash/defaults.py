"""Defaults read from Airflow's configuration, in one place (cheap: no hook or HTTP imports)."""

from __future__ import annotations

try:
    from airflow.sdk import conf
except ImportError:  # Airflow 3.0: the SDK does not export conf yet
    from airflow.configuration import conf  # type: ignore[assignment]


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (False when unset): the default of every ``deferrable`` argument."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))
