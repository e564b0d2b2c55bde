"""Replays every recording of the real Redash 26.3.0 server against a fresh emulator.

For each call: same status code, same JSON *shape* (keys, recursively, and JSON types), same
text/CSV header line, same presence of ``Content-Disposition`` / ``Cache-Control``.

How the replay maps the recorded world onto the emulator:

* Keys: ``REDACTED`` stands for the admin's user key, a plain user's key ("plain user: ..."), or a
  query's own key where the label says so (see :func:`_key_for`). Literal wrong keys
  (``WRONGKEY...``, ``wrongkey``) are sent as is.
* Objects a file uses without creating them (query 295 "recorded: fork source", query 297 with a
  one-minute schedule) are created first from :data:`RECORDED_QUERIES` and their ids mapped.
* Scheduled refreshes: a call labelled "after refresh N" is repeated (bounded) until the query's
  ``latest_query_data_id`` has moved past the one seen before, and fails if it never does; that
  file runs at ``time_scale`` 60, so the one-minute schedule takes a second.
* Ids: job ids, created query / dashboard / widget / visualization ids and result ids seen in
  earlier answers are mapped to the emulator's. Result ids a file uses without creating them
  (e.g. result 6 in ``query_result_downloads.json``) stand for the latest result of query 1 (the
  only query with a cached result in the demo data, as in the recorded server); ids >= 90000 are
  "unknown" on both sides.
* Each file starts from the demo data, which mirrors the state the recordings assume (queries
  1-8 with 8 archived, dashboard 1 at version 2 with its 6 widgets, query 1 with a cached result
  an hour old).
* Job polling: a GET of a job whose recorded status is terminal is repeated (bounded) until ours
  is terminal too. For unlabelled polls (the recorder's loop) a non-terminal recorded status only
  requires ours to have reached at least that status; labelled calls must match exactly.

Excluded: nothing. The ``summary`` entries of ``rate_limits.json`` (lists of statuses without
requests) are replayed as the 60 API calls and the 55 ``/login`` posts they summarise.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_dash.testing import RedashEmulator

RECORDINGS = Path(__file__).resolve().parents[2].parent / "shared" / "redash-api" / "recordings"
FILES = sorted(RECORDINGS.glob("*.json")) if RECORDINGS.is_dir() else []

# Keys whose value may be null on one side and non-null on the other, because the value depends
# on history the emulator does not share with the recorded server (which results exist, timing).
NULLABLE_KEYS = {
    "latest_query_data_id",  # query 1's latest result exists here but not always in the recording
    "retrieved_at",  # list items: null when the query has no latest result
    "runtime",  # same
    "result",  # jobs seen at a different moment of their life
    "query_result_id",  # same
    "active_at",  # the admin's user had never been active when the first recordings were made
}
# Lists that may be empty on one side only: dashboard 1's tags were set by a later recording.
EMPTINESS_MAY_DIFFER = {"tags"}
# Keys whose JSON type may differ: a job's updated_at is an ISO string while running, else 0.
ANY_TYPE_KEYS = {"updated_at"}

TERMINAL = (3, 4)

# Queries the 2026-12-03 recordings use without creating them (made earlier on the recorded server).
RECORDED_QUERIES: dict[int, dict[str, Any]] = {
    295: {
        "name": "recorded: fork source",
        "sql": "select region, sum(amount) as total from orders group by region",
        "description": "totals",
        "tags": ["finance", "daily"],
        "chart": True,
    },
    293: {"name": "recorded: slow (cancel routes)", "sql": "select pg_sleep(60) as slept"},
    294: {"name": "recorded: slow (query key cancel)", "sql": "select pg_sleep(60) as slept"},
    297: {
        "name": "recorded: scheduled every minute",
        "sql": "select datetime('now') as at, 1796283179 as tag",
        "schedule": {"time": None, "until": None, "interval": 60, "day_of_week": None},
    },
}
# Emulator settings per file. Default: the demo data, and time_scale 5 (the 5 s slow query takes 1 s).
# query_scheduled_refresh.json was recorded on a server whose query list held only its 3 queries
# (the list call compares every item's shape), and its one-minute schedule takes a second at 60.
EMULATOR_SETTINGS: dict[str, dict[str, Any]] = {
    "query_scheduled_refresh.json": {"time_scale": 60.0, "demo_data": False}
}


def _jtype(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_diff(ours: Any, recorded: Any, path: str = "$", key: str = "") -> list[str]:
    """:return: the differences in shape between ``ours`` and ``recorded`` (empty = same)."""
    to, tr = _jtype(ours), _jtype(recorded)
    if to != tr:
        if key in ANY_TYPE_KEYS:
            return []
        if key in NULLABLE_KEYS and "null" in (to, tr):
            return []
        return [f"{path}: type {to} != recorded {tr}"]
    if to == "object":
        problems = []
        if set(ours) != set(recorded):
            problems.append(f"{path}: keys {sorted(set(ours) ^ set(recorded))} differ")
        for k in set(ours) & set(recorded):
            problems += shape_diff(ours[k], recorded[k], f"{path}.{k}", k)
        return problems
    if to == "array":
        if bool(ours) != bool(recorded) and key in EMPTINESS_MAY_DIFFER:
            return []
        if bool(ours) != bool(recorded):
            return [f"{path}: empty vs non-empty list ({len(ours)} vs {len(recorded)})"]
        problems = []
        for i, item in enumerate(ours):
            # every element of ours must look like one of the recorded elements
            options = [shape_diff(item, r, f"{path}[{i}]") for r in recorded]
            if options and all(options):
                problems += min(options, key=len)
        return problems
    return []


def _is_poll(call: dict[str, Any]) -> bool:
    """The recorder's polling loop: unlabelled calls, or labels that start with "poll"."""
    return not call.get("label") or str(call["label"]).lower().startswith("poll")


class Replayer:
    """Replays one recording file against one emulator."""

    def __init__(self, emu: RedashEmulator, name: str) -> None:
        self.emu = emu
        self.name = name
        self.session = requests.Session()
        self.ids: dict[str, dict[Any, Any]] = {k: {} for k in ("job", "query", "dashboard", "widget", "viz", "result")}
        # statuses of the rate_limits.json bursts, so "#N" samples are sent as the Nth request
        self.bursts: dict[str, list[int]] = {"login": [], "api": []}
        # latest_query_data_id last seen per recorded query id, for "after refresh N"
        self.latest: dict[int, Any] = {}
        # the query whose key a "query key" call without a query in its path uses (the last one named)
        self.query_key_of: int | None = None

    def create_recorded_queries(self, text: str) -> None:
        """Create the queries of :data:`RECORDED_QUERIES` that the file mentions, and map their ids."""
        if not self.emu.objects.data_sources:
            self.emu.objects.add_data_source("sample-pg", "pg", {"host": "127.0.0.1", "dbname": "sampledb"})
        for recorded_id, spec in RECORDED_QUERIES.items():
            if f"/api/queries/{recorded_id}" not in text and f'"query_id": {recorded_id}' not in text:
                continue
            query_id = self.emu.add_query(
                spec["name"], spec["sql"], description=spec.get("description"), tags=spec.get("tags")
            )
            if spec.get("chart"):
                self.emu.objects.add_visualization(query_id, type="CHART", name="Chart", options={})
            if spec.get("schedule"):
                self.emu.objects.queries[query_id].schedule = dict(spec["schedule"])
            self.ids["query"][recorded_id] = query_id

    # -- mapping -------------------------------------------------------------------------------
    def result_id(self, recorded: int) -> int:
        if recorded >= 90000:
            return recorded
        if recorded not in self.ids["result"]:
            latest = self.emu.objects.queries[1].latest_query_data_id
            assert latest is not None
            return latest
        return int(self.ids["result"][recorded])

    def map_path(self, path: str, key: str) -> str:
        path = path.replace("api_key=REDACTED", f"api_key={key}")
        for rec, ours in self.ids["job"].items():
            path = path.replace(rec, ours)

        def sub_num(prefix: str, kind: str, p: str) -> str:
            def repl(m: re.Match[str]) -> str:
                num = int(m.group(2))
                mapped = self.result_id(num) if kind == "result" else self.ids[kind].get(num, num)
                return f"{m.group(1)}{mapped}"

            return re.sub(prefix, repl, p)

        path = sub_num(r"(/api/query_results/)(\d+)", "result", path)
        path = sub_num(r"(/api/queries/\d+/results/)(\d+)", "result", path)
        path = sub_num(r"(/api/queries/)(\d+)", "query", path)
        path = sub_num(r"(/api/dashboards/)(\d+)", "dashboard", path)
        path = sub_num(r"(/api/widgets/)(\d+)", "widget", path)
        path = sub_num(r"(/api/visualizations/)(\d+)", "viz", path)
        return path

    def map_body(self, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        out = dict(body)
        for field, kind in (("visualization_id", "viz"), ("dashboard_id", "dashboard"), ("query_id", "query")):
            if isinstance(out.get(field), int):
                out[field] = self.ids[kind].get(out[field], out[field])
        if isinstance(out.get("latest_query_data_id"), int):
            out["latest_query_data_id"] = self.result_id(out["latest_query_data_id"])
        return out

    def _key_for(self, label: str, path: str) -> str:
        """The key ``REDACTED`` stands for in this call (see the module docstring)."""
        uses_query_key = self.name == "auth_query_api_key.json" or any(
            s in label for s in ("query key", "query's own", "own key", "query API key", "ANOTHER query's key")
        )
        if not uses_query_key:
            return self.emu.plain_user_key if label.startswith("plain user") else self.emu.user_key
        m = re.search(r"/api/queries/(\d+)", path)
        path_qid = self.ids["query"].get(int(m.group(1)), int(m.group(1))) if m else self.query_key_of
        self.query_key_of = path_qid
        if label.startswith("plain user"):
            return self.emu.plain_user_key
        if "ANOTHER" in label:
            return self.emu.query_key(5 if path_qid == 1 else 1)
        if "query A" in label or "key A" in label:
            return self.emu.query_key(1)  # the recorder's "query A" is query 1
        return self.emu.query_key(path_qid if path_qid is not None else 1)

    # -- replay --------------------------------------------------------------------------------
    def send(self, call: dict[str, Any]) -> requests.Response:
        req = call["request"]
        label = call.get("label") or ""
        key = self._key_for(label, req["path"])
        headers = {}
        for name, value in (req.get("headers") or {}).items():
            headers[name] = value.replace("REDACTED", key) if isinstance(value, str) else value
        url = self.emu.url + self.map_path(req["path"], key)
        body = self.map_body(req.get("json"))
        if body is None and req["method"] in ("POST", "PUT") and "not JSON" in label:
            return self.session.request(req["method"], url, headers=headers, data=b"this is {not json")
        if body is None:
            return self.session.request(req["method"], url, headers=headers)
        return self.session.request(req["method"], url, headers=headers, data=json.dumps(body))

    def learn_ids(self, call: dict[str, Any], ours: Any) -> None:
        rec = call["response"].get("json")
        req = call["request"]
        if call["response"]["status"] != 200 or not isinstance(rec, dict) or not isinstance(ours, dict):
            return
        if "job" in rec and "id" in rec["job"]:
            known = self.ids["job"].get(rec["job"]["id"])
            assert known in (None, ours["job"]["id"]), "the recorded server returned the same job id here"
            self.ids["job"][rec["job"]["id"]] = ours["job"]["id"]
            if rec["job"].get("query_result_id") and ours["job"].get("query_result_id"):
                self.ids["result"][rec["job"]["query_result_id"]] = ours["job"]["query_result_id"]
        if "query_result" in rec and "id" in rec["query_result"]:
            self.ids["result"].setdefault(rec["query_result"]["id"], ours["query_result"]["id"])
        if req["method"] == "POST":
            kind = {
                "/api/queries": "query",
                "/api/dashboards": "dashboard",
                "/api/widgets": "widget",
                "/api/visualizations": "viz",
            }.get(req["path"])
            if re.match(r"/api/queries/\d+/fork$", req["path"]):
                kind = "query"
            if kind:
                self.ids[kind][rec["id"]] = ours["id"]

    def poll_job(self, call: dict[str, Any], response: requests.Response) -> requests.Response:
        rec = call["response"].get("json")
        if (
            call["request"]["method"] != "GET"
            or not isinstance(rec, dict)
            or "job" not in rec
            or response.status_code != 200
        ):
            return response
        want = rec["job"]["status"]
        labelled = not _is_poll(call)
        deadline = time.monotonic() + 15
        while True:
            status = response.json()["job"]["status"]
            done = status in TERMINAL if want in TERMINAL else (status == want if labelled else status >= want)
            if done or time.monotonic() > deadline:
                return response
            time.sleep(0.02)  # pacing between polls of a condition, not a wait for a fixed time
            response = self.send(call)

    def await_refresh(self, call: dict[str, Any], response: requests.Response) -> requests.Response:
        """For "after refresh N": repeat the GET until the query's latest result has moved on."""
        match = re.match(r"/api/queries/(\d+)$", call["request"]["path"])
        if not str(call.get("label") or "").startswith("after refresh") or match is None:
            return response
        recorded_id = int(match.group(1))
        before = self.latest.get(recorded_id)
        deadline = time.monotonic() + 15
        while response.status_code == 200 and response.json()["latest_query_data_id"] in (None, before):
            assert time.monotonic() < deadline, f"{self.name}: query {recorded_id} was never refreshed by the scheduler"
            time.sleep(0.05)  # pacing between looks at a condition the server's scheduler changes
            response = self.send(call)
        return response

    def remember_latest(self, call: dict[str, Any], response: requests.Response) -> None:
        match = re.match(r"/api/queries/(\d+)$", call["request"]["path"])
        if match and call["request"]["method"] == "GET" and response.status_code == 200:
            self.latest[int(match.group(1))] = response.json().get("latest_query_data_id")

    def _burst_kind(self, label: str) -> str | None:
        if self.name != "rate_limits.json":
            return None
        return "login" if "login" in label else "api" if "burst" in label or "summary" in label else None

    def _burst_one(self, kind: str) -> int:
        if kind == "login":
            status = self.session.post(
                self.emu.url + "/login", data={"email": "admin@example.com", "password": "wrong"}
            ).status_code
        else:
            status = self.session.get(self.emu.url + "/api/queries?page_size=1", headers=self.emu.headers()).status_code
        self.bursts[kind].append(status)
        return status

    def check(self, index: int, call: dict[str, Any]) -> None:
        label = call.get("label") or "(poll)"
        where = f"{self.name}[{index}] {label}: {call['request']['method']} {call['request']['path']}"
        kind = self._burst_kind(label)
        number = re.search(r"#(\d+)", label)
        if kind and number:
            while len(self.bursts[kind]) < int(number.group(1)) - 1:
                self._burst_one(kind)
        response = self.await_refresh(call, self.poll_job(call, self.send(call)))
        self.remember_latest(call, response)
        if kind and number:
            self.bursts[kind].append(response.status_code)
        rec = call["response"]
        assert response.status_code == rec["status"], (
            f"{where}: status {response.status_code} != {rec['status']}: {response.text[:300]}"
        )
        for header in ("Content-Disposition", "Cache-Control", "Retry-After"):
            assert (header in response.headers) == (header in rec["headers"]), (
                f"{where}: header {header} presence differs"
            )
        if "Content-Disposition" in rec["headers"]:
            pattern = re.sub(
                r"filename=.*_\d{4}_\d{2}_\d{2}\.(\w+)$",
                r"filename=.+_\\d{4}_\\d{2}_\\d{2}\\.\1$",
                rec["headers"]["Content-Disposition"],
            )
            assert re.match(pattern, response.headers["Content-Disposition"]), where
        rec_type = rec["headers"].get("Content-Type", "").split(";")[0]
        assert response.headers.get("content-type", "").split(";")[0] == rec_type, f"{where}: content type"
        if "json" in rec and rec["json"] is not None:
            ours = response.json()
            problems = shape_diff(ours, rec["json"])
            assert not problems, f"{where}: " + "; ".join(problems[:10])
            if (
                isinstance(rec["json"], dict)
                and "job" in rec["json"]
                and "status" in rec["json"]["job"]
                and not _is_poll(call)
            ):
                assert ours["job"]["status"] == rec["json"]["job"]["status"], f"{where}: job status"
            self.learn_ids(call, ours)
        elif "text" in rec and rec["text"] is not None:
            text = response.text
            if rec_type == "application/json":
                assert text.strip() == rec["text"].strip(), where
            elif rec_type in ("text/csv", "text/tab-separated-values"):
                assert text.split("\r\n")[0] == rec["text"].split("\r\n")[0], f"{where}: header line"
                assert "\r\n" in text
            elif rec["status"] != 200:
                assert re.sub(r"\s+", " ", rec["text"]).split("<p>")[0] in re.sub(r"\s+", " ", text), where

    def replay_summary(self, call: dict[str, Any]) -> None:
        """A ``summary`` entry: complete the summarised burst and compare every status."""
        kind = self._burst_kind(call["label"])
        assert kind, call["label"]
        while len(self.bursts[kind]) < len(call["statuses"]):
            self._burst_one(kind)
        assert self.bursts[kind][: len(call["statuses"])] == call["statuses"], call["label"]


@pytest.mark.skipif(not FILES, reason=f"recordings not found at {RECORDINGS}")
@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_recording_replays_with_same_statuses_and_shapes(path: Path) -> None:
    recording = json.loads(path.read_text())
    # time_scale 5: the 5 s slow query takes 1 s, still long enough to be seen queued/running.
    with RedashEmulator(**{"time_scale": 5.0, **EMULATOR_SETTINGS.get(path.name, {})}) as emu:
        replayer = Replayer(emu, path.name)
        replayer.create_recorded_queries(path.read_text())
        for index, call in enumerate(recording["calls"]):
            if "request" not in call:
                replayer.replay_summary(call)
                continue
            replayer.check(index, call)
