"""The sync transport of the PostHog hook: the connection, one ``httpx.Client``, retries, errors, the generation.

Routes, error texts, run bodies and the retry policy are shared with the async client
(:mod:`._posthog_routes`, :mod:`._posthog_errors`, :mod:`._posthog_runs`, :mod:`airflow_provider_dash.retry`);
only the transport is here. :class:`~airflow_provider_dash.hooks.posthog.PostHogHook` builds the
Endpoints workflows on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from airflow.sdk import BaseHook

from airflow_provider_dash import _POSTHOG_UI_FIELD_BEHAVIOUR
from airflow_provider_dash import retry as _retry
from airflow_provider_dash.connections import hook_field_behaviour, warn_if_verification_off
from airflow_provider_dash.hooks import _posthog_errors as _errors
from airflow_provider_dash.hooks._posthog_config import G3, PostHogConfig, config_from_connection
from airflow_provider_dash.hooks._posthog_routes import Request
from airflow_provider_dash.polling import is_past

if TYPE_CHECKING:
    import httpx

#: The generation each (server, project) was found to speak, learnt once per process.
_generations: dict[tuple[str, int], str] = {}
_generations_lock = threading.Lock()


def known_generation(config: PostHogConfig) -> str | None:
    """The generation of the connection's server: the connection's extra, else what was detected, else ``None``."""
    if config.generation is not None:
        return config.generation
    with _generations_lock:
        return _generations.get(config.cache_key)


def remember_generation(config: PostHogConfig, generation: str) -> None:
    """Remember what the server answered like (so only that generation's keys are sent from now on)."""
    with _generations_lock:
        _generations[config.cache_key] = generation


def judge(status: int, headers: Any, content: bytes, want_json: bool) -> Any:
    """What one answer means to the retry policy: raise what it must judge, else return the JSON body.

    :return: the parsed body (``None`` when empty or an error status).
    :raises RetryableStatus: 429 and 5xx (``Retry-After``, or the wait PostHog's 429 text names).
    :raises MalformedBody: a success whose body is not JSON.
    """
    import json

    if _retry.is_retryable_status(status):
        raise _retry.RetryableStatus(status, content, _errors.retry_after(headers.get("Retry-After"), content))
    if not want_json or status >= 400 or not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        raise _retry.MalformedBody(status, content[:200].decode("utf-8", "replace")) from None


def checked_answer(
    request: Request,
    status: int,
    body: Any,
    content: bytes,
    config: PostHogConfig,
    accept: Callable[[int, bytes], bool] | None,
) -> tuple[int, Any]:
    """What the last answer to ``request`` gives its caller, once retrying is over (sync and async alike).

    :param accept: an error answer ``accept(status, content)`` returns True for is handed back.
    :return: the status and the parsed body; ``(status, None)`` for an accepted error answer.
    :raises DashError: the error an error status maps to.
    """
    if status >= 400 and accept is not None and accept(status, content):
        return status, None
    error = _errors.error_for_response(request, status, content, config)
    if error is not None:
        raise error
    return status, body


class PostHogTransport(BaseHook):
    """The hook's connection and transport: one ``httpx.Client``, the shared retry policy.

    :param posthog_conn_id: the Airflow connection: host = PostHog URL, password = API key, extra
        ``project_id`` (and ``verify``, ``timeout``, ``run_timeout``, ``retries``, ``generation``).
    """

    conn_name_attr = "posthog_conn_id"
    default_conn_name = "posthog_default"
    conn_type = "posthog"
    hook_name = "PostHog Endpoints"

    def __init__(self, posthog_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.posthog_conn_id = posthog_conn_id
        self._config: PostHogConfig | None = None
        self._client: httpx.Client | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout for Airflow < 3.2 (newer versions read it from the provider info).

        :return: the provider info's declaration, with the keys spelled the way the hook method spells them.
        """
        return hook_field_behaviour(_POSTHOG_UI_FIELD_BEHAVIOUR)

    @property
    def config(self) -> PostHogConfig:
        """The connection's normalised configuration, read once per hook.

        :raises DashConfigError: when the connection lacks a host, key or project, or has a bad extra.
        """
        if self._config is None:
            self._config = config_from_connection(self.get_connection(self.posthog_conn_id))
        return self._config

    @property
    def generation(self) -> str | None:
        """``"g3"``/``"g1"`` once known (the connection's extra, or detected), else ``None``."""
        return known_generation(self.config)

    def get_conn(self) -> httpx.Client:
        """The hook's ``httpx.Client`` (created on first use, reused for every call)."""
        if self._client is None:
            # httpx is imported here, not at module top: Airflow imports hooks just to read metadata.
            import httpx

            config = self.config
            warn_if_verification_off(self.log, config)
            # No redirects: the Authorization header must never follow one to another host.
            self._client = httpx.Client(verify=config.verify, follow_redirects=False)
        return self._client

    def close(self) -> None:
        """Close the client (a new one is made if the hook is used again)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _exchange(
        self,
        request: Request,
        *,
        want_json: bool = True,
        timeout: float | None = None,
        deadline: float | None = None,
        accept: Callable[[int, bytes], bool] | None = None,
        before_retry: Callable[[BaseException], None] | None = None,
    ) -> tuple[int, Any]:
        """Send ``request`` with the shared retry policy; return the status and the parsed JSON body.

        :param timeout: read timeout of each attempt (a run's), default the connection's ``timeout``.
        :param deadline: epoch seconds: no attempt waits past it, and none starts after it.
        :param accept: an error answer ``accept(status, body)`` returns True for is handed back
            (status and ``None``) instead of raised (a run rejected as the other generation).
        :param before_retry: called with the failure before each retry (a run cancels its lost attempt).
        :raises DashError: the mapped error once retrying is over (or not allowed).
        """
        import httpx
        import tenacity

        config = self.config
        client = self.get_conn()
        url = request.url(config.base_url)
        per_attempt = timeout or config.timeout
        attempts = 0

        def attempt() -> tuple[int, Any, bytes]:
            nonlocal attempts
            attempts += 1
            read = per_attempt if deadline is None else max(0.001, min(per_attempt, deadline - time.time()))
            limit = httpx.Timeout(read, connect=min(config.timeout, read))
            self.log.debug("%s %s (attempt %d)", request.method, url, attempts)
            try:
                response = client.request(request.method, url, json=request.json, headers=config.headers, timeout=limit)
            except httpx.HTTPError as exc:
                raise _retry.httpx_failure(exc) from None
            content = response.content
            return response.status_code, judge(response.status_code, response.headers, content, want_json), content

        def before_sleep(state: tenacity.RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            self.log.warning(
                "%s %s for %s: %s; retrying in %.1f s (retry %d of %d)",
                request.method,
                url,
                request.what,
                failure,
                state.upcoming_sleep,
                state.attempt_number,
                config.retries,
            )
            if before_retry is not None and failure is not None:
                before_retry(failure)

        policy = _retry.tenacity_kwargs(request, config.retries)
        budget = policy.pop("stop")
        policy["stop"] = lambda state: budget(state) or is_past(deadline)
        retrying = tenacity.Retrying(**policy, before_sleep=before_sleep)
        try:
            status, body, content = retrying(attempt)
        except (_retry.TransportFailure, _retry.RetryableStatus, _retry.MalformedBody) as failure:
            raise _errors.final_error(request, failure, config) from None
        return checked_answer(request, status, body, content, config, accept)

    def _generation_for_run(self) -> str:
        """The generation whose keys a run sends: known, else G3 (the current one; a G1 server's 400 tells)."""
        return self.generation or G3
