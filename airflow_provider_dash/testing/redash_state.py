"""Everything one Redash emulator holds, in one object its app and handlers share.

The server builds a :class:`RedashState` and hands it to the app; the app and its handlers never see
the server, so imports run one way: server -> app -> handlers -> state -> the parts below it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from .clock import EmulatedClock
from .counters import Counters
from .faults import FaultConfig, FaultInjector
from .objects import ObjectStore, new_api_key
from .redash_jobs_engine import JobManager
from .redash_sql import ResultStore
from .scheduler import Scheduler
from .sqlite_database import Database

log = logging.getLogger("airflow_provider_dash.testing")


@dataclass
class RedashState:
    """The parts of one emulated Redash (saved objects, results, jobs, scheduler, faults, counters,
    clock, keys) and where it is served (host, port, scheme, base path)."""

    clock: EmulatedClock
    counters: Counters
    faults: FaultInjector
    db: Database
    results: ResultStore
    objects: ObjectStore
    jobs: JobManager
    scheduler: Scheduler
    user_key: str
    #: The API key of a plain (non-admin) user: it cannot read data source options.
    plain_user_key: str
    version: str
    host: str
    port: int
    scheme: str
    base_path: str
    #: Open connections by peer address, so an injected fault can drop one without answering.
    transports: dict[tuple[str, int], asyncio.BaseTransport] = field(default_factory=dict)
    #: Login attempts by client address, for ``/login``'s rate limit.
    login_attempts: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        seed: int,
        time_scale: float,
        workers: int,
        job_ttl: float,
        faults: FaultConfig | None,
        sql_threads: int,
        user_key: str | None,
        version: str,
        host: str,
        port: int,
        scheme: str,
        base_path: str,
    ) -> RedashState:
        """Build the parts and wire them together (the parameters are :class:`~.server.RedashEmulator`'s).

        :return: the state, with no data loaded.
        """
        clock = EmulatedClock(time_scale)
        counters = Counters()
        db = Database(threads=max(sql_threads, 1))
        results = ResultStore(db, clock)
        objects = ObjectStore()
        objects.result_lookup = results.get
        jobs = JobManager(results, clock, counters, workers, job_ttl, objects.note_result)
        return cls(
            clock=clock,
            counters=counters,
            faults=FaultInjector(seed=seed, config=faults or FaultConfig()),
            db=db,
            results=results,
            objects=objects,
            jobs=jobs,
            scheduler=Scheduler(objects, results, jobs, clock),
            user_key=user_key or new_api_key(),
            plain_user_key=new_api_key(),
            version=version,
            host=host,
            port=port,
            scheme=scheme,
            base_path=base_path,
        )

    @property
    def url(self) -> str:
        """:return: the base URL clients use (``http[s]://<host>:<port>[/base_path]``)."""
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"

    @staticmethod
    def log_exception() -> None:
        """Log the exception being handled (a handler crashed: the client gets a 500)."""
        log.exception("emulator handler failed")
