"""TLS against the emulator served over HTTPS with a self-signed certificate (``trustme``).

Verification is on by default: the hook and the async client (the JobTrigger's path) refuse the
certificate at once (one handshake, no retry, no HTTP request), trust it with the CA bundle in
extra ``verify``, and work with ``verify: false`` while logging a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from dag_helpers import run_trigger

from airflow_provider_dash.exceptions import DashConnectionError
from airflow_provider_dash.hooks.dash import DashHook
from airflow_provider_dash.triggers.dash import JobTrigger

VERIFY_OFF = "TLS certificate verification is OFF"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throw-away certificate authority nobody trusts."""
    return trustme.CA()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> str:
    """The CA's certificate as a PEM file (what a user puts in extra ``verify``)."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def https_emu(ca: trustme.CA, tmp_path: Path, dash_emulator_factory: Callable[..., Any]) -> Any:
    """The emulator over HTTPS with a certificate for 127.0.0.1 signed by ``ca`` (quick queries)."""
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    emu = dash_emulator_factory(ssl_certfile=server_pem, time_scale=20)
    assert emu.url.startswith("https://127.0.0.1:")
    return emu


def _submit(https_emu: Any, conn_id: str) -> tuple[str, int]:
    """Start a job of demo query 5 through a trusted hook; return (job id, query id)."""
    with DashHook(conn_id) as hook:
        run = hook.execute_query(5, max_age=0)
    assert run.job is not None
    return run.job.id, 5


def test_hook_refuses_a_self_signed_certificate_at_once_and_says_how_to_fix(
    https_emu: Any, dash_connection: Callable[..., str]
) -> None:
    conn_id = dash_connection("dash_tls", emulator=https_emu, retries=3)
    with DashHook(conn_id) as hook, pytest.raises(DashConnectionError) as caught:
        hook.get_session()
    text = str(caught.value)
    assert f"TLS verification failed for {https_emu.url}" in text
    assert "Set the connection's extra 'verify' to a CA bundle path" in text
    assert https_emu.counters.tls_handshakes == 1  # retries=3, yet one handshake: not retried
    assert https_emu.counters.requests() == 0  # nothing reached the HTTP layer
    ok, message = DashHook(conn_id).test_connection()
    assert not ok
    assert "TLS verification failed" in message


def test_trigger_refuses_a_self_signed_certificate_at_once_and_says_how_to_fix(
    https_emu: Any, dash_connection: Callable[..., str], ca_bundle: str
) -> None:
    job_id, query_id = _submit(https_emu, dash_connection("dash_tls_ok", emulator=https_emu, verify=ca_bundle))
    handshakes = https_emu.counters.tls_handshakes
    requests = https_emu.counters.requests()
    conn_id = dash_connection("dash_tls", emulator=https_emu, retries=3)
    event = run_trigger(JobTrigger([job_id], dash_conn_id=conn_id, poll_interval=0.1, query_ids={job_id: query_id}))
    assert event["status"] == "error"
    assert f"TLS verification failed for {https_emu.url}" in event["message"]
    assert "extra 'verify' to a CA bundle path" in event["message"]
    assert https_emu.counters.tls_handshakes - handshakes == 1
    assert https_emu.counters.requests() == requests


def test_hook_trusts_the_ca_bundle_given_in_verify(
    https_emu: Any, dash_connection: Callable[..., str], ca_bundle: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn_id = dash_connection("dash_tls_ok", emulator=https_emu, verify=ca_bundle)
    with DashHook(conn_id) as hook:
        assert hook.get_session()["client_config"]["version"] == https_emu.version
        assert hook.run_query(5, poll_interval=0.1) > 0
    assert https_emu.counters.connections_seen == 1  # one session, one TLS connection, reused
    assert VERIFY_OFF not in caplog.text


def test_trigger_trusts_the_ca_bundle_given_in_verify(
    https_emu: Any, dash_connection: Callable[..., str], ca_bundle: str
) -> None:
    conn_id = dash_connection("dash_tls_ok", emulator=https_emu, verify=ca_bundle)
    job_id, query_id = _submit(https_emu, conn_id)
    event = run_trigger(JobTrigger([job_id], dash_conn_id=conn_id, poll_interval=0.1, query_ids={job_id: query_id}))
    assert event["status"] == "success", event["message"]
    assert event["jobs"][job_id]["query_result_id"] == https_emu.job(job_id)["query_result_id"]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_hook_with_verify_false_works_and_warns(
    https_emu: Any, dash_connection: Callable[..., str], capfd: pytest.CaptureFixture[str]
) -> None:
    conn_id = dash_connection("dash_tls_off", emulator=https_emu, verify=False)
    with DashHook(conn_id) as hook:
        assert hook.get_query(1).id == 1
        assert hook.get_query(5).id == 5
    # The hook logs through Airflow's task logger (structlog, written to the task log / stdout).
    warnings = [line for line in capfd.readouterr().out.splitlines() if VERIFY_OFF in line]
    assert len(warnings) == 1  # once per session, not per request
    assert "[warning" in warnings[0]
    assert "'dash_tls_off'" in warnings[0]


def test_trigger_with_verify_false_works_and_warns(
    https_emu: Any, dash_connection: Callable[..., str], ca_bundle: str, caplog: pytest.LogCaptureFixture
) -> None:
    job_id, query_id = _submit(https_emu, dash_connection("dash_tls_ok", emulator=https_emu, verify=ca_bundle))
    caplog.set_level(logging.WARNING)
    conn_id = dash_connection("dash_tls_off", emulator=https_emu, verify="false")
    event = run_trigger(JobTrigger([job_id], dash_conn_id=conn_id, poll_interval=0.1, query_ids={job_id: query_id}))
    assert event["status"] == "success", event["message"]
    warnings = [r for r in caplog.records if VERIFY_OFF in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "'dash_tls_off'" in warnings[0].getMessage()
