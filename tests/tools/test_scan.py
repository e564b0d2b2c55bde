"""The privacy scan against the emulator: a term planted in each searchable place is found there, and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashConfigError
from airflow_provider_dash.hooks.redash_client import RedashClient
from airflow_provider_dash.pool import BoundedPool
from airflow_provider_dash.tools.redash_scan import ScanReport, scan
from airflow_provider_dash.tools.redash_scan_text import Terms, search_csv_stream

EMAIL = "jane.doe@example.com"
# Near misses planted next to the real ones: none of them holds the term.
DECOYS = ("jane.doe@example.org", "john.doe@example.com", "jane doe", "doe@example.com")


@pytest.fixture
def planted(dash_emulator: Any) -> set[tuple[str, int, str]]:
    """The e-mail planted once in each place (letter case varied), decoys elsewhere; returns the expected hits."""
    emu = dash_emulator
    add = emu.add_query
    expected: set[tuple[str, int, str]] = set()
    expected.add(("query", add("Report for Jane.Doe@Example.COM", "select 1"), "name"))
    expected.add(("query", add("described", "select 2", description=f"asked by {EMAIL}"), "description"))
    expected.add(("query", add("sql", f"select * from orders where customer = '{EMAIL.upper()}'"), "SQL"))
    expected.add(("query", add("tagged", "select 3", tags=["gdpr", EMAIL]), f"tag {EMAIL!r}"))
    param = {"name": "who", "title": "Who", "type": "text", "value": EMAIL}
    expected.add(("query", add("parameter", "select '{{ who }}' as who", [param]), "parameter 'who'"))
    expected.add(("query", add("archived", f"select '{EMAIL}'", is_archived=True), "SQL"))
    emu.add_table("people", ["name", "email"], [("Jane", EMAIL), ("John", DECOYS[1]), ("Janet", EMAIL.title())])
    in_result = add("people", "select name, email from people")
    emu.seed_result(in_result)
    expected.add(("query", in_result, "latest result 2, column 'email'"))
    for decoy in DECOYS:
        add(f"decoy {decoy}", f"select '{decoy}' as who", description=decoy, tags=[decoy])
    dashboards = emu.objects
    expected.add(("dashboard", emu.add_dashboard(f"Sales for {EMAIL}"), "name"))
    expected.add(("dashboard", dashboards.add_dashboard("Odd slug", slug=EMAIL, is_draft=False).id, "slug"))
    expected.add(("dashboard", emu.add_dashboard("Tagged", tags=[EMAIL]), f"tag {EMAIL!r}"))
    text = emu.add_dashboard("Notes", [1, f"Ask {EMAIL} first"])
    expected.add(("dashboard", text, f"text widget {max(emu.objects.widgets)}"))
    mapping = {"region": {"name": "region", "type": "static-value", "mapTo": "region", "value": EMAIL, "title": ""}}
    static = emu.add_dashboard("Static", [{"query_id": 6, "parameterMappings": mapping}])
    expected.add(("dashboard", static, f"widget {max(emu.objects.widgets)} parameter 'region'"))
    emu.add_dashboard("Decoys " + " ".join(DECOYS), list(DECOYS), tags=list(DECOYS))
    return expected


def _places(report: ScanReport) -> set[tuple[str, int, str]]:
    return {(m.kind, m.id, m.where) for m in report.matches}


def test_a_planted_address_is_found_in_every_place_and_nowhere_else(
    client: RedashClient, pool: BoundedPool, planted: set[tuple[str, int, str]]
) -> None:
    report = scan(client, [EMAIL], pool=pool)

    assert _places(report) == planted
    assert report.failures == ()
    assert not report.clean
    (result,) = [m for m in report.matches if m.where.startswith("latest result")]
    assert (result.rows, result.first_row) == (2, 1)  # Jane and Janet (another case), not John


def test_the_report_is_in_a_stable_order_with_links_to_each_object(
    client: RedashClient, pool: BoundedPool, planted: set[tuple[str, int, str]], dash_emulator: Any
) -> None:
    one_by_one = scan(client, [EMAIL])
    concurrent = scan(client, [EMAIL], pool=pool)

    assert concurrent == one_by_one
    kinds_and_ids = [(m.kind, m.id) for m in concurrent.matches]
    assert kinds_and_ids == sorted(kinds_and_ids, key=lambda k: (k[0] != "query", k[1]))
    query = next(m for m in concurrent.matches if m.kind == "query")
    assert query.url == f"{dash_emulator.url}/queries/{query.id}"
    dashboard = next(m for m in concurrent.matches if m.kind == "dashboard")
    assert dashboard.url.startswith(f"{dash_emulator.url}/dashboards/{dashboard.id}-")


def test_several_terms_are_searched_at_once_and_each_hit_names_its_term(
    dash_emulator: Any, client: RedashClient, pool: BoundedPool
) -> None:
    first = dash_emulator.add_query("first", f"select '{EMAIL}'")
    second = dash_emulator.add_query("second", "select 'max.mustermann@example.de'")

    report = scan(client, [EMAIL, "MAX.Mustermann@example.de", "nobody@example.net"], pool=pool)

    assert {(m.id, m.where, m.term) for m in report.matches} == {
        (first, "SQL", EMAIL),
        (second, "SQL", "MAX.Mustermann@example.de"),
    }


def test_latest_results_are_read_as_a_stream_never_whole(
    dash_emulator: Any, client: RedashClient, planted: set[tuple[str, int, str]]
) -> None:
    scan(client, [EMAIL])

    targets = dash_emulator.counters.targets()
    assert any(t.endswith("/api/query_results/2.csv") for t in targets)
    assert not any(t.endswith("/api/queries/2/results") or t.endswith("/api/query_results/2") for t in targets)


def test_archived_queries_results_and_dashboards_can_be_left_out(
    client: RedashClient, pool: BoundedPool, planted: set[tuple[str, int, str]]
) -> None:
    report = scan(client, [EMAIL], archived=False, results=False, dashboards=False, pool=pool)

    assert {kind for kind, _, _ in _places(report)} == {"query"}
    assert not any(where.startswith("latest result") for _, _, where in _places(report))
    assert report.queries == 7 + 10  # the demo's 7 active queries and the 10 planted, not the archived one


def test_a_result_that_cannot_be_read_is_a_failure_and_the_scan_goes_on(
    dash_emulator: Any, client: RedashClient, pool: BoundedPool, planted: set[tuple[str, int, str]]
) -> None:
    dash_emulator.set_faults(routes=["/api/query_results/2.csv"], error_rate=1.0, error_statuses=(500,))

    report = scan(client, [EMAIL], pool=pool)

    (in_result,) = [qid for _, qid, where in planted if where.startswith("latest result")]
    assert [(f.id, f.where) for f in report.failures] == [(in_result, "latest result 2")]
    assert _places(report) == {p for p in planted if not p[2].startswith("latest result")}
    assert not report.clean


def test_no_term_or_an_empty_term_is_refused() -> None:
    with pytest.raises(DashConfigError, match="at least one term"):
        Terms([])
    with pytest.raises(DashConfigError, match="non-empty"):
        Terms(["ok", "  "])


def test_a_csv_stream_cut_anywhere_is_searched_record_by_record() -> None:
    text = (
        'id,note,email\r\n1,"two\r\nlines Jöhn",x\r\n2,plain,JÖHN@example.com\r\n3,"quoted, ""jöhn@example.com""",y\r\n'
    )
    data = text.encode("utf-8")
    one_byte_chunks = [data[i : i + 1] for i in range(len(data))]

    hits = search_csv_stream(one_byte_chunks, Terms(["jöhn@example.com", "lines"]))

    assert [(h.column, h.term, h.first_row, h.rows) for h in hits] == [
        ("note", "jöhn@example.com", 3, 1),
        ("note", "lines", 1, 1),
        ("email", "jöhn@example.com", 2, 1),
    ]


def test_a_term_in_a_column_name_is_a_hit_at_row_zero() -> None:
    hits = search_csv_stream([b"id,jane_doe_notes\r\n1,x\r\n"], Terms(["JANE_DOE"]))

    assert [(h.column, h.first_row) for h in hits] == [("jane_doe_notes", 0)]


def test_a_term_in_a_column_name_and_its_values_is_two_hits_and_the_header_is_not_counted_as_a_row() -> None:
    hits = search_csv_stream([b"id,jane_notes\r\n1,jane\r\n2,x\r\n3,Jane again\r\n"], Terms(["jane"]))

    assert [(h.column, h.first_row, h.rows) for h in hits] == [("jane_notes", 0, 1), ("jane_notes", 1, 2)]
