"""What the SQL table extractor answers: the tables (as named) a text reads and writes, and any error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableRef:
    """One table as the SQL names it, without quotes.

    :param catalog: the catalog, project or database part, if written (``proj`` in ``proj.ds.t``).
    :param schema: the schema or dataset part, if written.
    :param name: the table's name.
    """

    catalog: str | None
    schema: str | None
    name: str

    @property
    def qualified(self) -> str:
        """The parts that were written, unquoted, joined with dots: ``proj.dataset.events``."""
        return ".".join(part for part in (self.catalog, self.schema, self.name) if part is not None)


@dataclass(frozen=True)
class TableExtraction:
    """What :func:`extract_tables` found in one SQL text.

    :param reads: tables read, de-duplicated, in order of first appearance.
    :param writes: tables created, changed or dropped, likewise.
    :param parameter_tables: table names made from a Redash parameter, with the placeholder as written
        (``{{ table }}``, ``analytics.events_{{ day }}``), read or written.
    :param warnings: statements the parser kept as opaque commands, whose tables are not listed.
    :param error: the parser's message for the first statement that did not parse, else None.
    :param error_line: 1-based line of that error in the SQL text, when the parser gives one.
    :param error_column: 1-based column of that error, when the parser gives one.
    """

    reads: tuple[TableRef, ...] = ()
    writes: tuple[TableRef, ...] = ()
    parameter_tables: tuple[TableRef, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    error_line: int | None = None
    error_column: int | None = None

    @property
    def ok(self) -> bool:
        """True when every statement parsed."""
        return self.error is None
