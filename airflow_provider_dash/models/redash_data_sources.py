"""The Redash data source model: what ``GET /api/data_sources/<id>`` answers (frozen pydantic).

Follows ``data_source_get.json``: an admin's key sees ``options`` (host, port, dbname...; the
password comes back masked), a plain user's key sees no ``options`` key at all. Lineage needs the
options to name the tables a query reads; without them it names them by the data source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_dash.exceptions import DashResponseError


class DataSource(BaseModel):
    """One Redash data source.

    :ivar id: the data source id.
    :ivar name: its display name.
    :ivar type: the query runner's type name (``pg``, ``mysql``, ``bigquery``...).
    :ivar options: its connection options, or ``None`` when the key may not read them (a
        non-admin user's key). Never logged: they name hosts and users.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    name: str = ""
    type: str
    options: Mapping[str, Any] | None = None

    @property
    def options_visible(self) -> bool:
        """True when the key could read the options (an admin's key)."""
        return self.options is not None

    @classmethod
    def from_json(cls, body: Any) -> DataSource:
        """Parse a data source object.

        :raises DashResponseError: naming the field when the body is not a data source.
        """
        if not isinstance(body, dict):
            raise DashResponseError(f"The data source answer is {type(body).__name__}, not a JSON object")
        try:
            return cls.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(body)"
            raise DashResponseError(
                f"The server's data source {body.get('id', '?')} has a bad field {field!r}: {first['msg']}"
            ) from None
