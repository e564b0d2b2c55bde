"""export-queries and import-queries against emulators: a real backup, incremental, atomic, all-or-nothing import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashApiError, DashConfigError
from airflow_provider_dash.hooks.redash_client import RedashClient
from airflow_provider_dash.models.redash_tools import SavedQuery
from airflow_provider_dash.pool import BoundedPool
from airflow_provider_dash.tools.redash_export import export_queries
from airflow_provider_dash.tools.redash_import import import_queries
from airflow_provider_dash.tools.redash_query_files import MANIFEST, parse_query_file, render_query_file

SCHEDULE = {"interval": 86400, "time": "03:00", "day_of_week": None, "until": None}


def _comparable(client: RedashClient, query: SavedQuery) -> dict[str, Any]:
    """What a backup must keep of a query (ids and times aside; the data source by name)."""
    names = {s.id: s.name for s in client.list_data_source_objects()}
    return {
        "name": query.name,
        "sql": query.query,
        "description": query.description,
        "options": query.options,
        "tags": query.tags,
        "schedule": query.schedule,
        "is_draft": query.is_draft,
        "is_archived": query.is_archived,
        "data_source": names[query.data_source_id] if query.data_source_id is not None else None,
        "visualizations": [(v.type, v.name, v.description, v.options) for v in query.visualizations],
    }


@pytest.fixture
def rich_source(dash_emulator: Any) -> dict[str, int]:
    """Queries with a schedule, tags, a draft, a dropdown fed by another query, and tricky text."""
    emu = dash_emulator
    regions = emu.add_query("Regions", "select distinct region from orders", tags=["lookup"])
    param = {"name": "region", "title": "Region", "type": "query", "queryId": regions, "value": "north"}
    dropdown = emu.add_query("By region", "select * from orders where region = '{{ region }}'", [param])
    emu.objects.queries[dropdown].schedule = dict(SCHEDULE)
    draft = emu.add_query("Draft */ with a comment end", "select 1 /* note */\n-- trailing  \n", is_draft=True)
    return {"regions": regions, "dropdown": dropdown, "draft": draft}


def test_export_then_import_into_a_second_server_gives_the_same_queries(
    client: RedashClient,
    client_of: Any,
    second_emulator: Any,
    rich_source: dict[str, int],
    pool: BoundedPool,
    tmp_path: Path,
) -> None:
    target = client_of(second_emulator)

    exported = export_queries(client, str(tmp_path), archived=True, pool=pool)
    imported = import_queries(target, str(tmp_path), pool=pool)

    assert exported.failures == ()
    assert sorted(imported.created) == sorted(exported.written) == list(range(1, 12))
    for old_id, new_id in imported.created.items():
        before = _comparable(client, client.get_saved_query(old_id))
        after = _comparable(target, target.get_saved_query(new_id))
        if old_id == rich_source["dropdown"]:  # the dropdown reads the copy of its query
            (param,) = before["options"]["parameters"]
            param["queryId"] = imported.created[rich_source["regions"]]
        assert after == before, f"query {old_id} -> {new_id}"


def test_an_incremental_export_rewrites_only_what_changed(
    dash_emulator: Any, client: RedashClient, pool: BoundedPool, tmp_path: Path
) -> None:
    export_queries(client, str(tmp_path), pool=pool)
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("query_*.sql")}
    client.edit_query(2, description="changed")
    added = dash_emulator.add_query("new one", "select 42")
    client.archive_query(3)
    (tmp_path / "query_4.sql").write_text("tampered")
    fetches_before = dash_emulator.counters.requests("/api/queries/{query_id}", "GET")

    summary = export_queries(client, str(tmp_path), pool=pool)

    assert summary.written == (2, 4, added)
    assert summary.removed == (3,)
    assert summary.unchanged == 4
    assert dash_emulator.counters.requests("/api/queries/{query_id}", "GET") - fetches_before == 3
    assert not (tmp_path / "query_3.sql").exists()
    for name in ("query_1.sql", "query_5.sql", "query_6.sql", "query_7.sql"):
        assert (tmp_path / name).stat().st_mtime_ns == stamps[name], name
    assert '"changed"' in (tmp_path / "query_2.sql").read_text()
    assert export_queries(client, str(tmp_path), pool=pool).written == ()


def test_files_of_deleted_queries_are_kept_when_asked(client: RedashClient, tmp_path: Path) -> None:
    export_queries(client, str(tmp_path))
    client.archive_query(3)

    summary = export_queries(client, str(tmp_path), keep_deleted=True)

    assert (summary.kept_deleted, summary.removed) == ((3,), ())
    assert (tmp_path / "query_3.sql").exists()
    assert '"deleted": true' in (tmp_path / MANIFEST).read_text()


def test_a_query_that_cannot_be_fetched_fails_alone_and_is_written_next_time(
    dash_emulator: Any, client: RedashClient, pool: BoundedPool, tmp_path: Path
) -> None:
    dash_emulator.set_faults(routes=["/api/queries/5"], methods=["GET"], error_rate=1.0, error_statuses=(500,))

    failed = export_queries(client, str(tmp_path), pool=pool)
    dash_emulator.clear_faults()
    again = export_queries(client, str(tmp_path), pool=pool)

    assert [f.query_id for f in failed.failures] == [5]
    assert "HTTP 500" in failed.failures[0].error
    assert failed.written == (1, 2, 3, 4, 6, 7)
    assert (again.written, again.unchanged) == ((5,), 6)


def test_an_export_goes_to_an_object_store_uri_too(client: RedashClient, tmp_path: Path) -> None:
    uri = (tmp_path / "store").as_uri()

    first = export_queries(client, uri)
    second = export_queries(client, uri)

    assert (len(first.written), second.written, second.unchanged) == (7, (), 7)
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [MANIFEST] + [
        f"query_{i}.sql" for i in range(1, 8)
    ]


def test_no_api_key_is_written_to_any_file(dash_emulator: Any, client: RedashClient, tmp_path: Path) -> None:
    export_queries(client, str(tmp_path), archived=True)

    keys = [dash_emulator.user_key] + [q.api_key for q in dash_emulator.objects.queries.values()]
    for path in tmp_path.iterdir():
        text = path.read_text()
        assert not [key for key in keys if key in text], path.name


def test_an_export_of_another_server_is_not_mixed_into_a_folder(
    client: RedashClient, client_of: Any, second_emulator: Any, tmp_path: Path
) -> None:
    export_queries(client, str(tmp_path))

    with pytest.raises(DashConfigError, match=r"holds an export of http://127.0.0.1:\d+, not of"):
        export_queries(client_of(second_emulator), str(tmp_path))


def test_an_import_with_a_missing_data_source_creates_nothing(
    client: RedashClient, client_of: Any, dash_emulator_factory: Any, tmp_path: Path
) -> None:
    other = dash_emulator_factory(demo_data=False)
    other.objects.add_data_source("warehouse", "pg")
    export_queries(client, str(tmp_path))

    with pytest.raises(DashConfigError, match=r"missing: 'sample-pg'\. Available: 'warehouse'\. Nothing was created"):
        import_queries(client_of(other), str(tmp_path))
    assert other.objects.queries == {}


def test_an_import_elsewhere_whose_dropdown_reads_a_query_not_exported_creates_nothing(
    client: RedashClient, client_of: Any, second_emulator: Any, rich_source: dict[str, int], tmp_path: Path
) -> None:
    client.archive_query(rich_source["regions"])  # an export without archived queries leaves it out
    export_queries(client, str(tmp_path))
    before = dict(second_emulator.objects.queries)

    expected = rf"query {rich_source['dropdown']} reads query {rich_source['regions']}\).*Nothing was created"
    with pytest.raises(DashConfigError, match=expected):
        import_queries(client_of(second_emulator), str(tmp_path))
    assert second_emulator.objects.queries == before


def test_an_import_that_fails_half_way_archives_what_it_created(
    client: RedashClient, client_of: Any, second_emulator: Any, pool: BoundedPool, tmp_path: Path
) -> None:
    export_queries(client, str(tmp_path))
    second_emulator.set_faults(routes=["/api/visualizations"], methods=["POST"], error_rate=1.0, error_statuses=(500,))

    with pytest.raises(DashApiError, match="HTTP 500") as failure:
        import_queries(client_of(second_emulator), str(tmp_path), pool=pool)

    made = second_emulator.objects.queries.values()
    assert made, "some queries were created before the failure"
    assert all(q.is_archived for q in made)
    assert "Archived what this run had created" in failure.value.__notes__[0]


def test_a_query_file_reads_back_exactly_and_a_bad_one_is_named(client: RedashClient) -> None:
    query = client.get_saved_query(2).model_copy(update={"name": "a */ b\nc", "query": "select 1 -- */\n*/\n  "})

    back = parse_query_file(render_query_file(query, None, "https://r.example"), "query_2.sql")

    assert (back.name, back.sql, back.all_options(), back.data_source) == (query.name, query.query, query.options, None)
    with pytest.raises(DashConfigError, match=r"query_9\.sql is not a dash-tools query export file"):
        parse_query_file(b"select 1", "query_9.sql")
    broken = render_query_file(query, None, "https://r.example").replace(b"   tags: []", b"   tags: [oops")
    with pytest.raises(DashConfigError, match=r"query_2.sql line \d+ \(tags\): the value is not JSON"):
        parse_query_file(broken, "query_2.sql")


def test_the_files_are_written_atomically_no_temporary_file_is_left(client: RedashClient, tmp_path: Path) -> None:
    export_queries(client, str(tmp_path))

    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]
