"""Reading which tables a SQL text reads and writes, with the sqlglot parser.

sqlglot is imported inside the functions: Airflow imports operator modules on every DAG parse, and
importing this module must stay cheap.

What counts (each rule has a test in ``tests/sql/``):

* every statement of the text (split on ``;``) counts; comments are ignored;
* a table in ``FROM``/``JOIN``, a subquery (``FROM``, ``IN``, ``EXISTS``, scalar), ``USING``, ``DESCRIBE``
  is *read*; the target of ``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``, ``CREATE TABLE|VIEW``,
  ``SELECT ... INTO``, ``ALTER``, ``DROP`` and ``TRUNCATE`` is *written* (and read too only when the
  statement also selects from it, as in ``INSERT INTO t SELECT ... FROM t``);
* a CTE name is not a table where the CTE is visible: in the statement's body, in later CTEs, and in
  its own body when it is recursive (``WITH RECURSIVE``, or any CTE in T-SQL, Oracle and Snowflake,
  where recursion needs no keyword). Elsewhere a CTE named like a table refers to the table, so
  ``WITH orders AS (SELECT * FROM orders) ...`` reads the table ``orders``;
* table functions (``generate_series(...)``, ``numbers(10)``, ``read_csv(...)``, ``TABLE(...)``),
  ``VALUES``, ``UNNEST``, ``LATERAL FLATTEN``, Snowflake stages (``@stage``) and DuckDB file paths
  (``FROM 'file.parquet'``) are not tables, though a subquery inside them still counts;
* temporary tables the text makes itself (``CREATE TEMP TABLE``, ``SELECT ... INTO TEMP``, T-SQL
  ``#name``/``##name``) are scratch space: neither read nor written. ``DUAL`` is not a table in Oracle
  and MySQL;
* a table named by a Redash parameter (``FROM {{ table }}``, ``analytics.events_{{ day }}``) is listed
  apart, with the placeholder as written, never as an invented table;
* names keep the case and the parts they were written with (``orders``, ``public.orders``,
  ``proj.dataset.events``); quotes are removed (``"My Table"`` -> ``My Table``). Two spellings that
  differ only in case are two entries: whether they are the same table depends on the database;
* a statement sqlglot cannot parse makes ``ok`` False with the parser's message and position; the
  tables of the other statements are still listed. A statement sqlglot only keeps as an opaque
  command (``EXPLAIN``, ``VACUUM``, ...) adds a warning, since its tables cannot be listed.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from airflow_provider_dash.sql.extraction import TableExtraction, TableRef
from airflow_provider_dash.sql.placeholders import MaskedSql

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.parser import Parser
    from sqlglot.tokens import Token

# Dialects where a CTE that names itself is recursive without the RECURSIVE keyword.
_IMPLICIT_RECURSION = frozenset({"tsql", "fabric", "oracle", "snowflake"})
# Dialects where an unqualified DUAL is the built-in one-row pseudo-table.
_DUAL_DIALECTS = frozenset({"oracle", "mysql"})
# Longest source excerpt quoted in an error or a warning.
_EXCERPT = 60


def extract_tables(sql: str, dialect: str | None = None) -> TableExtraction:
    """List the tables a SQL text reads and writes.

    Redash's ``{{ parameter }}`` placeholders are allowed anywhere. SQL that does not parse is
    reported in the result (``ok`` False, ``error``), never raised.

    :param sql: one or more SQL statements, as saved in Redash.
    :param dialect: a sqlglot dialect name (see :func:`~airflow_provider_dash.sql.dialect_for`), or
        None for sqlglot's generic dialect.
    :return: the tables read and written, and the parse error if any.
    :raises TypeError: if ``sql`` is not a string or ``dialect`` is neither a string nor None.
    :raises ValueError: if ``dialect`` names no sqlglot dialect.
    """
    if not isinstance(sql, str):
        raise TypeError(f"sql must be a str, not {type(sql).__name__}")
    if dialect is not None and not isinstance(dialect, str):
        raise TypeError(f"dialect must be a str or None, not {type(dialect).__name__}")
    name = dialect.split(",", 1)[0].strip().lower() if dialect else ""
    return _Reader(MaskedSql.of(sql), _dialect(dialect), name).run()


@functools.lru_cache(maxsize=64)
def _dialect(dialect: str | None) -> Dialect:
    # sqlglot is imported here, not at module level: see the module docstring.
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise(dialect)


class _Reader:
    """Splits, parses and walks the statements of one SQL text; collects what it finds."""

    def __init__(self, masked: MaskedSql, dialect: Dialect, dialect_name: str) -> None:
        self.masked = masked
        self.dialect = dialect
        self.recursive_by_default = dialect_name in _IMPLICIT_RECURSION
        self.dual_is_builtin = dialect_name in _DUAL_DIALECTS
        # key -> (offset of its first appearance in the text, the reference)
        self.reads: dict[tuple[str | None, ...], tuple[int, TableRef]] = {}
        self.writes: dict[tuple[str | None, ...], tuple[int, TableRef]] = {}
        self.parameter_tables: dict[tuple[str | None, ...], tuple[int, TableRef]] = {}
        self.temporary: set[tuple[str | None, ...]] = set()
        self.warnings: list[str] = []
        self.error: tuple[str, int | None, int | None] | None = None

    def run(self) -> TableExtraction:
        from sqlglot.errors import TokenError

        parser = self.dialect.parser()
        try:
            self.chunks = self._chunks()
        except TokenError as err:
            self._tokenizer_error(err)
            self.chunks = []
        for index in range(len(self.chunks)):
            statement = self._parse(parser, index)
            if statement is None:
                continue
            try:
                self._statement(statement, self.chunks[index])
            except Exception as err:  # a sqlglot tree we do not expect must not crash a DAG
                self._fail(f"{type(err).__name__} while reading the parsed SQL: {err}", None)
        line, column = (self.error[1], self.error[2]) if self.error else (None, None)
        return TableExtraction(
            reads=_in_text_order(self.reads),
            writes=_in_text_order(self.writes),
            parameter_tables=_in_text_order(self.parameter_tables),
            warnings=tuple(self.warnings),
            error=self.error[0] if self.error else None,
            error_line=line,
            error_column=column,
        )

    # -- tokens and statements ---------------------------------------------------------------------

    def _chunks(self) -> list[list[Token]]:
        from sqlglot.tokens import TokenType

        self.tokenizer = self.dialect.tokenizer()
        chunks: list[list[Token]] = [[]]
        for token in self.tokenizer.tokenize(self.masked.text):
            if token.token_type == TokenType.SEMICOLON:
                chunks.append([])
            else:
                chunks[-1].append(token)
        return [chunk for chunk in chunks if chunk]

    def _parse(self, parser: Parser, index: int) -> exp.Expr | None:
        from sqlglot.errors import ParseError, TokenError

        # Each retry moves one placeholder the parser stumbled on to its next form (word, number,
        # nothing), so there are at most two retries per placeholder.
        while True:
            try:
                parsed = parser.parse(self.chunks[index], self.masked.text)
                return parsed[0] if parsed else None
            except ParseError as err:
                span = self._error_span(err)
                placeholder = self.masked.at(*span) if span else None
                retry = self.masked.with_next_form(placeholder) if placeholder is not None else None
                if retry is None:
                    detail = err.errors[0] if err.errors else {}
                    self._fail(str(detail.get("description") or err), span)
                    return None
                self.masked = retry
                try:
                    self.chunks = self._chunks()
                except TokenError:  # cannot happen with our same-length replacements; be safe
                    self._fail(str(err), span)
                    return None
            except Exception as err:  # sqlglot bugs on odd input must not crash a DAG either
                self._fail(f"{type(err).__name__} from the SQL parser: {err}", None)
                return None

    def _error_span(self, err: Any) -> tuple[int, int] | None:
        detail = err.errors[0] if getattr(err, "errors", None) else {}
        line, column, highlight = detail.get("line"), detail.get("col"), detail.get("highlight") or ""
        if not isinstance(line, int) or not isinstance(column, int) or line < 1:
            return None
        text = self.masked.text
        starts = _line_starts(text)
        if line > len(starts):
            return None
        # sqlglot points at the last character of the offending token.
        end = starts[line - 1] + column
        start = end - len(highlight)
        if start < 0 or text[start:end] != highlight:
            start = max(end - 1, 0)
        return start, end

    def _tokenizer_error(self, err: Exception) -> None:
        from sqlglot.errors import TokenError

        # The tokenizer keeps where the token it could not finish started (not public API: optional).
        core = getattr(self.tokenizer, "_core", self.tokenizer)
        start = getattr(core, "_start", None)
        cause = err.__cause__
        if isinstance(start, int) and self.masked.original.startswith("/*", start):
            message = "Unterminated /* comment"
        else:
            message = str(cause) if isinstance(cause, TokenError) else str(err)
        self._fail(message, (start, start + 20) if isinstance(start, int) else None)

    def _fail(self, message: str, span: tuple[int, int] | None) -> None:
        if self.error is not None:
            return
        if span is None:
            self.error = (message, None, None)
            return
        original = self.masked.original
        start = min(span[0], len(original))
        line = original.count("\n", 0, start) + 1
        column = start - (original.rfind("\n", 0, start) + 1) + 1
        near = original[start : max(span[1], start + 1)][:_EXCERPT].split("\n", 1)[0]
        self.error = (f"{message} (line {line}, column {column}, near {near!r})", line, column)

    # -- walking the tree ----------------------------------------------------------------------------

    def _statement(self, statement: exp.Expr, tokens: list[Token]) -> None:
        from sqlglot import exp

        if isinstance(statement, exp.Command):
            text = " ".join(self.masked.original[tokens[0].start : tokens[-1].end + 1].split())
            self.warnings.append(
                f"{statement.name or 'A statement'} is not understood by the SQL parser, so its "
                f"tables are not listed: {text[:_EXCERPT]!r}"
            )
            return
        if isinstance(statement, (exp.Condition, exp.Alias, exp.Star)) and not isinstance(statement, exp.Query):
            # sqlglot reads a lone expression as a statement: `SELEC * FRM t` is `SELEC * FRM AS t`.
            self._fail(
                "Not a SQL statement (the parser read only an expression)", (tokens[0].start, tokens[-1].end + 1)
            )
            return
        self._visit(statement, frozenset())

    def _visit(self, root: exp.Expr, ctes: frozenset[str]) -> None:
        from sqlglot import exp

        # A stack, not recursion: `a = 1 OR b = 2 OR ...` is a tree as deep as the chain is long.
        stack = [(root, ctes)]
        while stack:
            node, visible = stack.pop()
            if isinstance(node, exp.Table):
                self._table(node, visible, write=False)
                continue
            if isinstance(node, (exp.Use, exp.Command)):
                continue  # USE names a database or schema, not a table
            with_ = node.args.get("with_") or node.args.get("with")
            if isinstance(with_, exp.With):
                visible = self._with(with_, visible)
            skip = {id(with_)}
            for child, table, temporary in _targets(node):
                skip.add(id(child))
                if table is not None:
                    self._table(table, visible, write=True, temporary=temporary)
            stack.extend((child, visible) for child in node.iter_expressions(reverse=True) if id(child) not in skip)

    def _with(self, with_: exp.With, outer: frozenset[str]) -> frozenset[str]:
        recursive = bool(with_.args.get("recursive")) or self.recursive_by_default
        visible = set(outer)
        for cte in with_.expressions:
            name = cte.alias_or_name.casefold()
            body_sees = visible | {name} if recursive else visible
            if cte.this is not None:
                self._visit(cte.this, frozenset(body_sees))
            visible.add(name)
        return frozenset(visible)

    def _table(self, table: exp.Table, ctes: frozenset[str], *, write: bool, temporary: bool = False) -> None:
        from sqlglot import exp

        # Joins hang off the table in MySQL's UPDATE/DELETE; time travel and samples may hold subqueries.
        for arg, value in table.args.items():
            if arg not in ("this", "db", "catalog"):
                for child in value if isinstance(value, list) else [value]:
                    if isinstance(child, exp.Expr):
                        self._visit(child, ctes)
        parts = [part for part in table.parts if isinstance(part, exp.Identifier)]
        if not parts or len(parts) != len(table.parts):
            if isinstance(table.this, exp.Expr):
                self._visit(table.this, ctes)  # a table function: its arguments may hold subqueries
            return
        if any(part.args.get(flag) for part in parts for flag in ("temporary", "global_", "global")):
            return  # T-SQL #temp / ##global temp table
        if parts[-1].quoted and self._written_as_string(parts[-1]):
            return  # DuckDB's FROM 'file.parquet'
        names = [part.name for part in parts]
        restored = [self.masked.restore(name) for name in names]
        names = [new if new is not None else old for new, old in zip(restored, names, strict=True)]
        ref = TableRef(".".join(names[:-2]) or None, names[-2] if len(names) > 1 else None, names[-1])
        key = (ref.catalog, ref.schema, ref.name)
        start = parts[0].meta.get("start")
        # The tree's order is not always the text's (sqlglot keeps clauses in parse order).
        seen = (start if isinstance(start, int) else len(self.masked.original), ref)
        if any(new is not None for new in restored):
            _first(self.parameter_tables, key, seen)
            return
        unqualified = len(names) == 1
        if unqualified and not write and ref.name.casefold() in ctes:
            return
        if unqualified and self.dual_is_builtin and ref.name.upper() == "DUAL":
            return
        if key in self.temporary:
            return
        if write and temporary:
            self.temporary.add(key)
            return
        _first(self.writes if write else self.reads, key, seen)

    def _written_as_string(self, identifier: exp.Identifier) -> bool:
        start = identifier.meta.get("start")
        return isinstance(start, int) and self.masked.text[start : start + 1] == "'"


def _targets(node: exp.Expr) -> Iterator[tuple[Any, exp.Table | None, bool]]:
    """The children of a statement that name the table(s) it writes: (child, table or None, temporary).

    A child with no table (``CREATE SCHEMA s``, ``INSERT INTO FUNCTION ...``) is skipped, not read.
    """
    from sqlglot import exp

    if isinstance(node, (exp.Insert, exp.Update, exp.Merge)):
        yield node.this, _unwrap(node.this), False
    elif isinstance(node, exp.Delete):
        # MySQL's multi-table DELETE names its targets apart, often by alias; `this` is then the FROM.
        targets = node.args.get("tables")
        if targets:
            sources = [node.this, *(join.this for join in node.this.args.get("joins") or [])]
            by_alias = {t.alias_or_name.casefold(): t for t in sources if isinstance(t, exp.Table)}
            for target in targets:
                table = _unwrap(target)
                if table is not None and not table.db:
                    table = by_alias.get(table.name.casefold(), table)
                yield target, table, False
        else:
            yield node.this, _unwrap(node.this), False
    elif isinstance(node, exp.Create):
        properties = node.args.get("properties")
        temporary = properties is not None and any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions)
        yield node.this, _unwrap(node.this) if _is_table_kind(node) else None, temporary
    elif isinstance(node, exp.Drop):
        for target in node.args.get("tables") or [node.this]:
            yield target, _unwrap(target) if _is_table_kind(node) else None, False
    elif isinstance(node, exp.TruncateTable):
        for target in node.expressions:
            yield target, _unwrap(target), False
    elif isinstance(node, exp.Alter):
        yield node.this, _unwrap(node.this) if _is_table_kind(node) else None, False
    elif isinstance(node, exp.Into):
        yield node.this, _unwrap(node.this), bool(node.args.get("temporary"))


def _first(
    found: dict[tuple[str | None, ...], tuple[int, TableRef]], key: tuple[str | None, ...], seen: tuple[int, TableRef]
) -> None:
    if key not in found or seen[0] < found[key][0]:
        found[key] = seen


def _in_text_order(found: dict[tuple[str | None, ...], tuple[int, TableRef]]) -> tuple[TableRef, ...]:
    return tuple(ref for _, ref in sorted(found.values(), key=lambda seen: seen[0]))


def _is_table_kind(node: exp.Expr) -> bool:
    kind = node.args.get("kind")
    return isinstance(kind, str) and kind.upper() in ("TABLE", "VIEW")


def _unwrap(node: Any) -> exp.Table | None:
    from sqlglot import exp

    if isinstance(node, exp.Schema):  # INSERT INTO t (a, b) / CREATE TABLE t (a int)
        node = node.this
    return node if isinstance(node, exp.Table) else None


def _line_starts(text: str) -> list[int]:
    starts = [0]
    position = text.find("\n")
    while position != -1:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    return starts
