"""The ``redash`` asset URI scheme: the normaliser on every form, Airflow's use of it, the helpers, outlets."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow.sdk import DAG, Asset

from airflow_provider_dash.lineage.redash_assets import (
    convert_asset_to_openlineage,
    create_asset,
    parse_uri,
    redash_dashboard_asset,
    redash_query_asset,
    sanitize_uri,
)
from airflow_provider_dash.operators.redash import RunQueryOperator
from airflow_provider_dash.operators.redash_dashboard import RefreshDashboardOperator

TOTALS = 5


def _normalised(uri: str) -> str:
    return sanitize_uri(urlsplit(uri)).geturl()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("redash://redash.example.com/queries/7", "redash://redash.example.com/queries/7"),
        ("redash://redash.example.com/dashboards/3", "redash://redash.example.com/dashboards/3"),
        ("redash://Redash.Example.COM:5000/queries/007", "redash://redash.example.com:5000/queries/7"),
        ("redash://app.redash.io/acme/queries/7", "redash://app.redash.io/acme/queries/7"),
        ("redash://app.redash.io/acme/dashboards/12/", "redash://app.redash.io/acme/dashboards/12"),
        ("redash://someone@redash.example.com/queries/7", "redash://redash.example.com/queries/7"),
    ],
)
def test_the_normaliser_accepts_every_form_and_spells_it_one_way(given: str, expected: str) -> None:
    assert _normalised(given) == expected


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("redash://redash.example.com/dashboards/sales-overview", "slug changes on rename"),
        ("redash://redash.example.com/queries/", "not a Redash query or dashboard"),
        ("redash://redash.example.com/queries/0", "the query id must be a positive number"),
        ("redash://redash.example.com/visualizations/4", "not a Redash query or dashboard"),
        ("redash://redash.example.com/a/b/queries/4", "not a Redash query or dashboard"),
        ("redash:///queries/4", "names no server"),
        ("redash://redash.example.com/queries/4?max_age=0", "query string"),
        ("redash://redash.example.com/qu%20ery/queries/4", "bad org path"),
    ],
)
def test_the_normaliser_rejects_a_bad_uri_saying_why(bad: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        _normalised(bad)


def test_airflow_normalises_redash_assets_through_the_provider() -> None:
    asset = Asset(uri="redash://Redash.Example.com/acme/queries/007/")

    assert asset.uri == "redash://redash.example.com/acme/queries/7"
    with pytest.raises(ValueError, match="slug"):
        Asset(uri="redash://redash.example.com/dashboards/sales-overview")


def test_the_openlineage_dataset_of_an_asset_is_the_one_the_operators_emit() -> None:
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    asset = Asset(uri="redash://redash.example.com:5000/acme/queries/7")

    direct = convert_asset_to_openlineage(asset, None)
    through_airflow = translate_airflow_asset(asset, None)

    assert (direct.namespace, direct.name) == ("redash://redash.example.com:5000", "acme/queries/7")
    assert through_airflow is not None
    assert (through_airflow.namespace, through_airflow.name) == (direct.namespace, direct.name)


def test_the_factory_builds_a_normalised_asset() -> None:
    asset = create_asset(host="Redash.Example.com", kind="dashboards", id=3, org="acme")

    assert asset.uri == "redash://redash.example.com/acme/dashboards/3"


def test_helpers_build_the_asset_from_a_connection_with_its_org_and_no_key(dash_connection: Any) -> None:
    conn_id = dash_connection("dash_org", host="https://App.Redash.io:443/acme", key="not-in-any-uri")

    query = redash_query_asset(7, conn_id)
    dashboard = redash_dashboard_asset(3, conn_id, name="sales")

    assert query.uri == query.name == "redash://app.redash.io/acme/queries/7"
    assert (dashboard.uri, dashboard.name) == ("redash://app.redash.io/acme/dashboards/3", "sales")
    assert parse_uri(query.uri).id == 7


def test_naming_the_server_needs_no_key_and_base_url_needs_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DASH_HOST_ONLY", '{"conn_type": "dash", "host": "https://bi.example.com/acme"}')

    assert redash_query_asset(7, "dash_host_only").uri == "redash://bi.example.com/acme/queries/7"
    named = redash_dashboard_asset(3, "no_such_connection", base_url="https://bi.example.com/acme")
    assert named.uri == "redash://bi.example.com/acme/dashboards/3"


def _asset_event_extras(uri: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id).where(AssetModel.uri == uri)
        ).all()
        return [dict(row.extra) for row in rows]


def test_a_query_outlet_gets_an_event_with_the_result_id_and_row_count(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str
) -> None:
    asset = redash_query_asset(TOTALS, dash_conn_id)
    other = Asset(uri="redash://elsewhere.example.com/queries/5")  # same id, another server: no Redash extra
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False) as dag:
        RunQueryOperator(task_id="run", query_id=TOTALS, dash_conn_id=dash_conn_id, outlets=[asset, other])

    result = run_dag(dag)

    assert result.state == "success"
    (extra,) = _asset_event_extras(asset.uri)
    assert extra["query_id"] == TOTALS
    assert extra["query_result_id"] == result.xcom("run")
    assert extra["row_count"] == 4
    assert [e for e in _asset_event_extras(other.uri) if "query_result_id" in e] == []


def test_a_dashboard_outlet_gets_every_query_result_id(
    dash_emulator: Any, dash_conn_id: str, run_dag: Any, dag_id: str
) -> None:
    first = dash_emulator.add_query("a", "select region from orders")
    second = dash_emulator.add_query("b", "select 1 as one")
    dashboard = dash_emulator.add_dashboard("assets", [first, second])
    asset = redash_dashboard_asset(dashboard, dash_conn_id)
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False) as dag:
        RefreshDashboardOperator(task_id="refresh", dashboard=dashboard, dash_conn_id=dash_conn_id, outlets=[asset])

    result = run_dag(dag)

    assert result.state == "success"
    (extra,) = _asset_event_extras(asset.uri)
    runs = result.xcom("refresh")
    assert extra == {
        "dashboard_id": dashboard,
        "query_result_ids": {str(r["query_id"]): r["query_result_id"] for r in runs},
    }
