"""scan: the privacy search (GDPR): where do these terms appear on a Redash server?

Every place a person's data can sit is searched, case-insensitively, for several terms at once:
each saved query's SQL, name, description, tags and saved parameter values, and its latest result
(read as a stream, never whole in memory); each dashboard's name, slug and tags, its text widgets
and the static parameter values of its widgets. Each hit is a :class:`ScanMatch`: the kind of
object, its id, its page on the server and where in it the term was found. Queries, results and
dashboards are fetched through a bounded pool; the report is in a stable order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from airflow_provider_dash.exceptions import DashError, DashNotFoundError
from airflow_provider_dash.hooks._redash_web import dashboard_page_url, query_page_url
from airflow_provider_dash.tools.progress import NoProgress, Progress
from airflow_provider_dash.tools.redash_scan_text import Terms, search_csv_stream

if TYPE_CHECKING:
    from airflow_provider_dash.hooks.redash_client import RedashClient
    from airflow_provider_dash.models.redash_tools import DashboardLayout, SavedQuery
    from airflow_provider_dash.pool import BoundedPool

_KIND_ORDER = {"query": 0, "dashboard": 1}


class ScanPlace(BaseModel):
    """A place the scan searched: an object on the server and the place in it.

    :ivar kind: ``query`` or ``dashboard``.
    :ivar where: the place: ``name``, ``description``, ``tags``, ``SQL``, ``parameter 'x'``,
        ``latest result 12, column 'email'``, ``slug``, ``text widget 4``, ``widget 4 parameter 'x'``.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["query", "dashboard"]
    id: int
    url: str
    where: str


class ScanMatch(ScanPlace):
    """One place a term was found.

    :ivar rows: for a result, how many rows hold the term in that column (``first_row``: the first, 1-based).
    """

    term: str
    rows: int | None = None
    first_row: int | None = None


class ScanFailure(ScanPlace):
    """A place that could not be searched (the scan is then incomplete, and fails)."""

    error: str


class ScanReport(BaseModel):
    """What the scan found, in a stable order (kind, id, place, term).

    :ivar queries, results, dashboards: how many of each were searched.
    """

    model_config = ConfigDict(frozen=True)

    terms: tuple[str, ...]
    matches: tuple[ScanMatch, ...]
    failures: tuple[ScanFailure, ...] = ()
    queries: int = 0
    results: int = 0
    dashboards: int = 0

    @property
    def clean(self) -> bool:
        """True when every place was searched and no term was found."""
        return not self.matches and not self.failures

    def summary(self) -> str:
        """One line: what was searched and what was found."""
        return (
            f"{len(self.matches)} match(es) of {len(self.terms)} term(s) in {self.queries} queries, "
            f"{self.results} latest results and {self.dashboards} dashboards"
            + (f"; {len(self.failures)} place(s) could not be searched" if self.failures else "")
        )


def scan(
    client: RedashClient,
    terms: Iterable[str],
    *,
    archived: bool = True,
    results: bool = True,
    dashboards: bool = True,
    pool: BoundedPool | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Search every query, latest result and dashboard for ``terms`` (case-insensitive).

    :param terms: the texts to find (an e-mail address, a name...).
    :param archived: search the archived queries too (their SQL and results are still on the server).
    :param results: search the latest result of each query (streamed).
    :param dashboards: search the dashboards (the list holds no archived ones: Redash lists none).
    :param pool: fetch pages, results and dashboards through it (concurrently).
    :return: the matches and the places that could not be searched, in a stable order.
    :raises DashConfigError: when no term (or an empty one) is given.
    :raises DashError: when a list cannot be read at all.
    """
    wanted = Terms(terms)
    progress = progress or NoProgress()
    base_url = client.config.base_url
    matches: list[ScanMatch] = []
    failures: list[ScanFailure] = []
    counts = {"queries": 0, "results": 0, "dashboards": 0}

    def one_query(query: SavedQuery) -> tuple[list[ScanMatch], list[ScanFailure], bool]:
        found = list(_query_matches(query, wanted, base_url))
        if not results or query.latest_query_data_id is None:
            return found, [], False
        try:
            found += _result_matches(client, query, wanted, base_url)
        except DashNotFoundError:
            return found, [], False  # the result is gone (nothing left to hold the terms)
        except DashError as error:
            where = f"latest result {query.latest_query_data_id}"
            return (
                found,
                [ScanFailure(kind="query", id=query.id, url=_url(base_url, query), where=where, error=str(error))],
                False,
            )
        return found, [], True

    progress.begin("Searching queries and their latest results", None)
    for found, failed, read_result in _map(pool, one_query, _all_queries(client, archived, pool)):
        matches += found
        failures += failed
        counts["queries"] += 1
        counts["results"] += read_result
        progress.advance()
    if dashboards:
        progress.begin("Searching dashboards", None)
        for found, failed in _map(
            pool, lambda d: _one_dashboard(client, d, wanted, base_url), client.iter_dashboard_layouts(pool=pool)
        ):
            matches += found
            failures += failed
            counts["dashboards"] += 1
            progress.advance()
    return ScanReport(
        terms=wanted.terms,
        matches=tuple(sorted(matches, key=lambda m: (_KIND_ORDER[m.kind], m.id, m.where, wanted.terms.index(m.term)))),
        failures=tuple(sorted(failures, key=lambda f: (_KIND_ORDER[f.kind], f.id, f.where))),
        **counts,
    )


def _all_queries(client: RedashClient, archived: bool, pool: BoundedPool | None) -> Iterator[SavedQuery]:
    yield from client.iter_saved_queries(pool=pool)
    if archived:
        yield from client.iter_saved_queries(archived=True, pool=pool)


def _map(pool: BoundedPool | None, call: Any, items: Iterable[Any]) -> Iterator[Any]:
    if pool is None:
        return (call(item) for item in items)
    return pool.map_ordered(call, items)


def _leaf_text(value: Any) -> str:
    """Every text and number inside ``value`` (nested lists and objects), one per line; keys are not text."""
    if isinstance(value, dict):
        return "\n".join(_leaf_text(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return "\n".join(_leaf_text(item) for item in value)
    return "" if value is None else str(value)


def _url(base_url: str, query: SavedQuery) -> str:
    return query_page_url(base_url, query.id)


def _query_matches(query: SavedQuery, terms: Terms, base_url: str) -> Iterator[ScanMatch]:
    """The hits in a query's own fields (no result)."""
    places: list[tuple[str, str | None]] = [
        ("name", query.name),
        ("description", query.description),
        ("SQL", query.query),
    ]
    places += [(f"tag {tag!r}", tag) for tag in query.tags]
    for parameter in query.parameters:
        # The saved value, title and enum options: a default value may well be somebody's address.
        shown = [value for key, value in parameter.items() if key not in ("name", "type")]
        places.append((f"parameter {parameter.get('name')!r}", _leaf_text(shown)))
    for where, text in places:
        for term in terms.found_in(text):
            yield ScanMatch(kind="query", id=query.id, url=_url(base_url, query), where=where, term=term)


def _result_matches(client: RedashClient, query: SavedQuery, terms: Terms, base_url: str) -> list[ScanMatch]:
    """The hits in a query's latest result, read as a CSV stream."""
    result_id = query.latest_query_data_id
    assert result_id is not None
    with client.open_query_result_stream(result_id, file_format="csv") as chunks:
        hits = search_csv_stream(chunks, terms)
    return [
        ScanMatch(
            kind="query",
            id=query.id,
            url=_url(base_url, query),
            where=f"latest result {result_id}, " + ("column names" if hit.first_row == 0 else f"column {hit.column!r}"),
            term=hit.term,
            rows=hit.rows,
            first_row=hit.first_row,
        )
        for hit in hits
    ]


def _one_dashboard(
    client: RedashClient, listed: DashboardLayout, terms: Terms, base_url: str
) -> tuple[list[ScanMatch], list[ScanFailure]]:
    url = dashboard_page_url(base_url, listed.id, listed.slug)
    try:
        dashboard = client.get_dashboard_layout(listed.id)
    except DashError as error:
        return [], [ScanFailure(kind="dashboard", id=listed.id, url=url, where="widgets", error=str(error))]
    places: list[tuple[str, str | None]] = [("name", dashboard.name), ("slug", dashboard.slug)]
    places += [(f"tag {tag!r}", tag) for tag in dashboard.tags]
    for widget in dashboard.widgets:
        if widget.is_text:
            places.append((f"text widget {widget.id}", widget.text))
        mappings = widget.options.get("parameterMappings")
        for name, mapping in mappings.items() if isinstance(mappings, dict) else ():
            if isinstance(mapping, dict):
                text = _leaf_text([mapping.get("value"), mapping.get("title")])
                if text:
                    places.append((f"widget {widget.id} parameter {name!r}", text))
    found = [
        ScanMatch(kind="dashboard", id=dashboard.id, url=url, where=where, term=term)
        for where, text in places
        for term in terms.found_in(text)
    ]
    return found, []
