"""A bounded pool of threads for I/O-bound calls, whose results come back in input order (product-neutral).

The tools fetch thousands of objects from a server; one request at a time spends most of the wall
time waiting on the network. :class:`BoundedPool` runs at most ``workers`` calls at once and hands
the results back in the order of the inputs, so the output of a run is stable whatever order the
answers arrive in. Inputs are read lazily and at most ``window`` results wait to be taken, so
memory does not grow with the number of inputs.

>>> with BoundedPool(4) as pool:
...     list(pool.map_ordered(lambda n: n * n, range(6)))
[0, 1, 4, 9, 16, 25]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Self, TypeVar

from airflow_provider_dash.exceptions import DashConfigError

#: Requests in flight at once by default: enough to hide a 20-50 ms round trip, gentle on a server.
DEFAULT_CONCURRENCY = 8
#: The most a caller may ask for (a Redash server is one gunicorn pool; more only queues there).
MAX_CONCURRENCY = 64

_In = TypeVar("_In")
_Out = TypeVar("_Out")


def check_concurrency(value: object) -> int:
    """``value`` as a number of workers, 1 to :data:`MAX_CONCURRENCY`.

    :raises DashConfigError: naming what was expected.
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise DashConfigError(f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, got {value!r}")
    return value


class BoundedPool:
    """At most ``workers`` calls at once, results in input order.

    With one worker every call runs in the caller's thread, one after another (no thread at all):
    that is the one-request-at-a-time baseline the benchmarks compare with.

    :param workers: calls in flight at most (1 to :data:`MAX_CONCURRENCY`).
    :raises DashConfigError: for another number of workers.
    """

    def __init__(self, workers: int = DEFAULT_CONCURRENCY) -> None:
        self.workers = check_concurrency(workers)
        self._executor: ThreadPoolExecutor | None = None

    def map_ordered(
        self, call: Callable[[_In], _Out], items: Iterable[_In], *, window: int | None = None
    ) -> Iterator[_Out]:
        """Yield ``call(item)`` for each item, in the order of ``items``.

        ``items`` is read lazily (it may itself be fed by this pool: only the caller's thread reads
        it, so no worker ever waits on another). The first exception raised by a call is raised
        here, in order; the calls not started yet are cancelled and the ones running are waited
        for, so once this stops no call it started is still running (a caller can then undo what
        the calls made).

        :param window: results submitted but not yet taken, at most (default: twice the workers).
        :return: an iterator of the results.
        """
        if self.workers == 1:
            for item in items:
                yield call(item)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="dash-pool")
        limit = max(1, window if window is not None else 2 * self.workers)
        pending: deque[Future[_Out]] = deque()
        try:
            for item in items:
                pending.append(self._executor.submit(call, item))
                while len(pending) >= limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            wait(pending)

    def close(self) -> None:
        """Wait for the calls in flight and stop the threads (a new executor is made if used again)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
