"""What the emulated PostHog keeps: projects, users, API keys, endpoints and their versions.

REFERENCE.md §7 rule 4 (endpoint state), §1 (keys and scopes). No HTTP here: the handlers read and
change these objects under :attr:`Store.lock`.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: G3 endpoint names (§2.2).
NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,127}$")
#: G3 ``data_freshness_seconds`` buckets and default (§0).
FRESHNESS_BUCKETS = (900, 1800, 3600, 21600, 43200, 86400, 604800)
DEFAULT_FRESHNESS = 86400
#: G1 ``cache_age_seconds`` range (§0: 300-86400, later 60-86400; the stricter one is kept).
G1_CACHE_AGE_RANGE = (300, 86400)
G1_DEFAULT_CACHE_AGE = 3600

ENDPOINT_READ, ENDPOINT_WRITE, QUERY_READ = "endpoint:read", "endpoint:write", "query:read"
PERSONAL, SECRET = "personal", "secret"


def new_key(prefix: str) -> str:
    """:return: a random API key with ``prefix`` (``phx_`` personal, ``phs_`` project secret)."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(43))


@dataclass(frozen=True)
class User:
    """A PostHog user (the owner of personal keys, the ``created_by`` of objects)."""

    id: int
    email: str
    first_name: str = "Emulated"
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    distinct_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        """:return: the ``UserBasic`` object PostHog nests in ``created_by``."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "distinct_id": self.distinct_id,
            "first_name": self.first_name,
            "last_name": "",
            "email": self.email,
            "is_email_verified": True,
            "hedgehog_config": None,
            "role_at_organization": None,
        }


@dataclass(frozen=True)
class ApiKey:
    """A personal key (``phx_``, scoped, maybe limited to some projects) or a project secret key (``phs_``)."""

    value: str
    kind: str
    scopes: frozenset[str]
    user: User | None = None
    project_ids: frozenset[int] | None = None  # None: every project of the organisation

    def allows(self, scope: str) -> bool:
        """:return: True if the key carries ``scope`` (``*`` is every scope; ``x:write`` implies ``x:read``)."""
        if "*" in self.scopes or scope in self.scopes:
            return True
        return scope.endswith(":read") and scope[: -len("read")] + "write" in self.scopes

    def can_access(self, project_id: int) -> bool:
        """:return: True if the key may act on ``project_id``."""
        return self.project_ids is None or project_id in self.project_ids


@dataclass
class Version:
    """One version of an endpoint: the query and the settings that belong to it."""

    number: int
    query: dict[str, Any]
    description: str
    data_freshness_seconds: int
    created_at: dt.datetime
    created_by: User | None
    is_active: bool = True
    is_materialized: bool = False
    materialized_at: dt.datetime | None = None
    materialized_emul: float | None = None  # emulated clock reading of the last materialization
    cache_age_seconds: int | None = None  # G1
    sync_frequency: str | None = None  # G1
    columns: list[tuple[str, str]] = field(default_factory=list)
    last_executed_at: dt.datetime | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    updated_at: dt.datetime | None = None

    @property
    def is_hogql(self) -> bool:
        """:return: True for a HogQL endpoint (else an insight endpoint)."""
        return self.query.get("kind") == "HogQLQuery"


@dataclass
class Endpoint:
    """An endpoint of one project; soft-deleted endpoints stay here with ``deleted`` set."""

    name: str
    project_id: int
    versions: list[Version]
    created_at: dt.datetime
    created_by: User | None
    is_active: bool = True
    deleted: bool = False
    tags: list[str] = field(default_factory=list)
    derived_from_insight: str | None = None
    bucket_overrides: dict[str, Any] | None = None
    optional_breakdown_properties: list[str] = field(default_factory=list)
    last_executed_at: dt.datetime | None = None
    last_executed_emul: float | None = None
    delay: float = 0.0  # emulated seconds every computed run takes (test knob)
    insight_results: Any = None  # results of an insight endpoint: a value, or a callable(variables)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    updated_at: dt.datetime | None = None

    @property
    def current_version(self) -> int:
        """:return: the highest version number (0 when the versions were removed)."""
        return max((v.number for v in self.versions), default=0)

    @property
    def current(self) -> Version | None:
        """:return: the newest version, or None."""
        return self.version(self.current_version)

    def version(self, number: int) -> Version | None:
        """:return: version ``number``, or None."""
        return next((v for v in self.versions if v.number == number), None)


@dataclass
class Project:
    """A project (PostHog team); ``/api/projects/{id}`` and ``/api/environments/{id}`` both name it."""

    id: int
    name: str


class Store:
    """Projects, keys and endpoints. Tests change it from their thread, the server from its loop:
    everything that reads or writes holds :attr:`lock`."""

    def __init__(self, first_project_id: int) -> None:
        self.lock = threading.RLock()
        self.projects: dict[int, Project] = {}
        self.keys: dict[str, ApiKey] = {}
        self.endpoints: list[Endpoint] = []
        self.users: list[User] = []
        self._next_project = first_project_id

    def add_user(self, email: str) -> User:
        """:return: a new user."""
        with self.lock:
            user = User(id=len(self.users) + 1, email=email)
            self.users.append(user)
            return user

    def add_project(self, name: str = "") -> Project:
        """:return: a new project with the next id."""
        with self.lock:
            project = Project(self._next_project, name or f"Project {self._next_project}")
            self._next_project += 1
            self.projects[project.id] = project
            return project

    def add_key(
        self,
        kind: str,
        scopes: Iterable[str],
        user: User | None = None,
        project_ids: Iterable[int] | None = None,
        value: str | None = None,
    ) -> ApiKey:
        """:return: a new key (personal or secret) with ``scopes``."""
        prefix = "phx_" if kind == PERSONAL else "phs_"
        key = ApiKey(
            value=value or new_key(prefix),
            kind=kind,
            scopes=frozenset(scopes),
            user=user,
            project_ids=None if project_ids is None else frozenset(project_ids),
        )
        with self.lock:
            self.keys[key.value] = key
        return key

    def live(self, project_id: int, name: str) -> Endpoint | None:
        """:return: the endpoint ``name`` of the project that is not deleted, or None."""
        with self.lock:
            return next(
                (e for e in self.endpoints if e.project_id == project_id and e.name == name and not e.deleted), None
            )

    def live_list(self, project_id: int) -> list[Endpoint]:
        """:return: the project's endpoints that are not deleted, newest first."""
        with self.lock:
            items = [e for e in self.endpoints if e.project_id == project_id and not e.deleted]
        return sorted(items, key=lambda e: e.created_at, reverse=True)

    def add(self, endpoint: Endpoint) -> None:
        """Keep a new endpoint."""
        with self.lock:
            self.endpoints.append(endpoint)

    def remove(self, endpoint: Endpoint) -> None:
        """Forget an endpoint (G1's hard delete)."""
        with self.lock:
            self.endpoints = [e for e in self.endpoints if e is not endpoint]
