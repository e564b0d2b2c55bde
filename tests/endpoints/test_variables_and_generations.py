"""Variables checked against the endpoint's definition before any run; the generation told by the server's answer."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dash.exceptions import DashConfigError, DashVariableError
from airflow_provider_dash.hooks._posthog_runs import RunSpec, rejected_as_other_generation, run_body

from .helpers import RUN, requests

TRENDS = {
    "kind": "TrendsQuery",
    "series": [{"kind": "EventsNode", "event": "$pageview"}],
    "breakdownFilter": {"breakdown": "$browser"},
}


def test_unknown_variable_names_the_endpoint_and_the_allowed_names(ph: Any, hook: Any) -> None:
    with pytest.raises(DashVariableError) as caught:
        hook.check_variables("daily_signups", {"countr": "DE"})

    error = caught.value
    assert str(error) == "endpoint 'daily_signups' has no variable(s) 'countr'; its variables are: country"
    assert (error.endpoint, error.variable, error.allowed) == ("daily_signups", "countr", ("country",))
    assert requests(ph, RUN) == 0


def test_a_materialized_version_needs_every_variable(ph: Any, hook: Any) -> None:
    ph.materialize("daily_signups")

    with pytest.raises(DashVariableError, match=r"is materialized and needs every variable: 'country' not given"):
        hook.check_variables("daily_signups", {})
    hook.check_variables("daily_signups", {}, refresh="direct")  # direct bypasses the materialized table
    hook.check_variables("daily_signups", {"country": "DE"})


def test_insight_variables_are_its_breakdowns_and_dates(ph: Any, hook: Any) -> None:
    ph.add_endpoint("browsers", TRENDS, insight_results=[{"label": "Chrome", "count": 3}])

    hook.check_variables("browsers", {"$browser": "Chrome", "date_from": "-7d"})
    with pytest.raises(DashVariableError, match=r"its variables are: \$browser, date_from, date_to"):
        hook.check_variables("browsers", {"browser": "Chrome"})


def test_a_value_that_is_not_json_is_named(hook: Any) -> None:
    with pytest.raises(
        DashVariableError, match="variable 'country' of endpoint 'daily_signups' has a value that is not JSON"
    ):
        hook.run_endpoint("daily_signups", {"country": object()})


def test_a_bad_refresh_is_refused_before_sending(ph: Any, hook: Any) -> None:
    with pytest.raises(DashConfigError, match="refresh must be one of 'cache', 'force', 'direct'"):
        hook.run_endpoint("daily_signups", refresh="blocking")
    assert requests(ph, RUN) == 0


# ---------------------------------------------------------------- generations


def test_g3_body_has_only_g3_keys_and_g1_body_only_g1_keys() -> None:
    spec = RunSpec("e", {"country": "DE"}, version=2, refresh="force", client_query_id="q")

    assert run_body(spec, "g3") == {
        "variables": {"country": "DE"},
        "refresh": "force",
        "version": 2,
        "client_query_id": "q",
    }
    assert run_body(spec, "g1") == {
        "variables_values": {"country": "DE"},
        "refresh": "force_blocking",
        "version": 2,
        "client_query_id": "q",
    }
    with pytest.raises(DashConfigError, match=r"G1.*cannot page"):
        run_body(spec.page(10, None), "g1")
    with pytest.raises(DashConfigError, match="'direct' does not exist on this first-generation"):
        run_body(spec.with_refresh("direct"), "g1")


def test_a_g1_server_is_detected_from_its_400_and_then_only_g1_keys_are_sent(
    ph_g1: Any, ph_connection: Any, make_hook: Any
) -> None:
    hook = make_hook(ph_connection(emulator=ph_g1))

    first = hook.run_endpoint("daily_signups", {"country": "DE"})
    second = hook.run_endpoint("daily_signups", {"country": "FR"})

    assert (first.row_count, second.row_count) == (90, 90)
    assert requests(ph_g1, RUN, "POST", 400) == 1  # the G3 body, once
    assert requests(ph_g1, RUN, "POST", 200) == 2
    assert hook.generation == "g1"
    assert ph_g1.counters.executions("daily_signups", {"country": "FR"}) == 1


def test_a_g3_server_named_g1_by_mistake_is_detected_from_its_400(ph: Any, ph_connection: Any, make_hook: Any) -> None:
    from airflow_provider_dash.hooks._posthog_transport import remember_generation

    hook = make_hook(ph_connection())
    remember_generation(hook.config, "g1")  # as if learnt from an older server behind the same URL

    assert hook.run_endpoint("daily_signups", {"country": "DE"}).row_count == 90
    assert requests(ph, RUN, "POST", 400) == 1
    assert requests(ph, RUN, "POST", 200) == 1
    assert hook.generation == "g3"


def test_the_rejections_of_the_reference_are_told_apart() -> None:
    import json

    def envelope(type_: str, code: str, detail: str, attr: str | None) -> bytes:
        return json.dumps({"type": type_, "code": code, "detail": detail, "attr": attr}).encode()

    g1_refuses_g3 = envelope("invalid_request", "parse_error", "1 validation error for RunBodyG1", None)
    g3_refuses_g1 = envelope("validation_error", "invalid_input", "Extra inputs are not permitted", "variables_values")
    unknown_variable = envelope("validation_error", "invalid_input", "Unknown variable(s): x", "variables")

    assert rejected_as_other_generation(400, g1_refuses_g3, "g3")
    assert rejected_as_other_generation(400, g3_refuses_g1, "g1")
    assert not rejected_as_other_generation(400, unknown_variable, "g3")
    assert not rejected_as_other_generation(400, unknown_variable, "g1")
    assert not rejected_as_other_generation(404, g1_refuses_g3, "g3")
