"""One ``httpx.AsyncClient`` per event loop and server, shared by every trigger of a triggerer that talks to it.

Product-neutral. A triggerer runs every trigger in one event loop; a client of each trigger's own
would keep one TCP (or TLS) connection open per deferred task: 1,000 deferred tasks, 1,000
connections, more than a stock nginx in front of the server accepts (768). Here every client of
one loop and one (base URL, TLS setting) shares one pool, closed when its last user releases it,
and :func:`gate` admits a bounded number of requests to a server at a time, so the pool never
holds more connections than that bound (plus the few kept alive). Authentication and timeouts
travel with each request, never as the shared client's defaults, so connections with different
keys can share one pool.
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.exceptions import DashConfigError

if TYPE_CHECKING:
    import ssl

    import httpx

#: Requests in flight at once to one server from one event loop, across all clients (triggers),
#: unless the Airflow option ``[dash] max_requests_in_flight`` sets another number (1 to 64).
#: httpcore's pool looks at every connection for every request (and counts its idle ones once per
#: idle connection), so fewer is cheaper: measured with 1,000 triggers (``benchmarks.triggerer``),
#: 32 cost 1.44x the CPU per poll of a bare httpx client with 8 in flight, 8 cost 1.11-1.15x, 6 about
#: 1.02x and 4 0.94-1.0x. 4 is also what a stock Redash answers at once (4 gunicorn web workers); a
#: server 100 ms away still gets 40 polls a second, 1,200 tasks at the default 30 s poll interval.
MAX_CONCURRENT_REQUESTS = 4
#: The Airflow option that overrides :data:`MAX_CONCURRENT_REQUESTS` (declared in the provider info).
CONFIG_SECTION, CONFIG_OPTION = "dash", "max_requests_in_flight"
_MOST_IN_FLIGHT = 64
#: Seconds an idle connection of a shared pool is kept for the next request.
KEEPALIVE_SECONDS = 60.0
#: The gate and pool every short request uses (Redash's polls, PostHog's CRUD and cancels).
DEFAULT = "requests"

_Key = tuple[str, bool | str, str]


@dataclass
class _Shared:
    client: httpx.AsyncClient
    users: int = 0


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, _Shared]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, asyncio.Lock]] = weakref.WeakKeyDictionary()
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def gate(base_url: str, name: str = DEFAULT, limit: int | None = None) -> asyncio.Semaphore:
    """The semaphore admitting requests to ``base_url`` from the running event loop.

    Each ``name`` is a gate of its own, sized by the first caller's ``limit`` (default
    :func:`requests_in_flight`). Short requests use the default gate. A request the server holds open for a whole
    run (a PostHog G3 run) takes a gate of its own with a limit sized for runs: behind the default
    gate, 500 two-second runs would go a few at a time (measured behind 32: 32.6 s instead of 2 s), and they would
    starve the short requests (a cancel) of their turn.

    asyncio runs every callback that is ready in one turn before it looks at its timers again.
    1,000 triggers whose answers arrive together would each parse, decide and send in that one
    turn, and the loop stalls for hundreds of ms (``benchmarks.triggerer``). Admitting
    :func:`requests_in_flight` at a time wakes one waiter per finished request instead, so a
    turn holds at most that many; when the loop is overloaded, polls wait their turn rather than
    blocking it. It also spares the server a thousand simultaneous requests, and bounds the
    connections of the shared pool.
    """
    per_loop = _gates.setdefault(asyncio.get_running_loop(), {})
    semaphore = per_loop.get((base_url, name))
    if semaphore is None:
        semaphore = per_loop[(base_url, name)] = asyncio.Semaphore(requests_in_flight() if limit is None else limit)
    return semaphore


def requests_in_flight() -> int:
    """The default gate's size: ``[dash] max_requests_in_flight`` if set, else :data:`MAX_CONCURRENT_REQUESTS`.

    Read when a gate or pool is made (once per event loop and server), so a triggerer picks up a
    change on restart.

    :raises DashConfigError: naming the option, when it is not a whole number from 1 to 64.
    """
    conf: Any
    try:
        from airflow.sdk import conf
    except ImportError:  # no Airflow (a plain script), or an Airflow without airflow.sdk.conf
        try:
            from airflow.configuration import conf as core_conf
        except ImportError:
            return MAX_CONCURRENT_REQUESTS
        conf = core_conf
    raw = conf.get(CONFIG_SECTION, CONFIG_OPTION, fallback=None)
    if raw is None or str(raw).strip() == "":
        return MAX_CONCURRENT_REQUESTS
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= _MOST_IN_FLIGHT:
        raise DashConfigError(
            f"[{CONFIG_SECTION}] {CONFIG_OPTION} must be a whole number from 1 to {_MOST_IN_FLIGHT} "
            f"(requests in flight to one server from one triggerer), got {raw!r}"
        )
    return int(text)


@functools.lru_cache(maxsize=16)
def _tls_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS context for a ``verify`` setting, built once per process (a CA bundle parse costs
    milliseconds of CPU and about 800 KiB). A CA file changed on disk is read again after a restart."""
    import ssl

    import httpx

    if isinstance(verify, str):
        # A CA directory (c_rehash'ed, as requests accepts) or a bundle file.
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


def _build(verify: bool | str, max_connections: int | None = None) -> httpx.AsyncClient:
    import httpx

    # No default headers (each request carries its own key) and no redirects: the Authorization
    # header must never follow one to another host. The default pool keeps alive as many
    # connections as its gate lets be in flight, for 60 s (httpx's 20 kept alive for 5 s made 68
    # connections in 20 s for 32 in flight); a pool of its own keeps up to its limit.
    keep = requests_in_flight() if max_connections is None else min(max_connections, 100)
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=keep, keepalive_expiry=KEEPALIVE_SECONDS
    )
    return httpx.AsyncClient(verify=_tls_context(verify), follow_redirects=False, limits=limits)


async def acquire(
    base_url: str, verify: bool | str, pool: str = DEFAULT, max_connections: int | None = None
) -> httpx.AsyncClient:
    """The shared client for ``base_url`` in the running loop; :func:`release` it when done.

    The first user builds it (the TLS context is read from disk in a worker thread, off the loop);
    users arriving meanwhile wait for that one instead of building their own (1,000 triggers
    starting in one turn would otherwise build hundreds of clients to throw away).

    :param pool: the pool's name: the default one for short requests, or
        one of its own for requests held open (its connections are not taken from the short ones).
    :param max_connections: the connection limit of a pool other than the default (its first user
        sets it); keep it at least the limit of the :func:`gate` its requests pass.
    """
    loop = asyncio.get_running_loop()
    key: _Key = (base_url, verify, pool)
    per_loop = _clients.setdefault(loop, {})
    shared = per_loop.get(key)
    if shared is None or shared.client.is_closed:
        async with _locks.setdefault(loop, {}).setdefault(key, asyncio.Lock()):
            shared = per_loop.get(key)
            if shared is None or shared.client.is_closed:
                shared = per_loop[key] = _Shared(await asyncio.to_thread(_build, verify, max_connections))
    shared.users += 1
    return shared.client


async def release(base_url: str, verify: bool | str, pool: str = DEFAULT) -> None:
    """One user of the shared client for ``base_url`` (and ``pool``) is done; the last one closes it."""
    per_loop = _clients.get(asyncio.get_running_loop(), {})
    key: _Key = (base_url, verify, pool)
    shared = per_loop.get(key)
    if shared is None:
        return
    shared.users -= 1
    if shared.users <= 0:
        del per_loop[key]
        await shared.client.aclose()


def open_clients() -> int:
    """How many shared clients the running loop holds open (for tests and benchmarks)."""
    return len(_clients.get(asyncio.get_running_loop(), {}))
