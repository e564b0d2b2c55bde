"""The one SQL table extractor: which tables a saved query reads and writes (find-tables, lineage).

Product-neutral ground: it knows SQL and Redash's ``{{ parameter }}`` placeholders, nothing of hooks or
operators. sqlglot, the parser, is imported only when a function runs, so importing this package is
cheap (Airflow imports operator modules on every DAG parse).

>>> result = extract_tables("SELECT * FROM public.orders o JOIN {{ t }} x ON o.id = x.id", dialect_for("pg"))
>>> [t.qualified for t in result.reads], [t.qualified for t in result.parameter_tables], result.ok
(['public.orders'], ['{{ t }}'], True)
"""

from __future__ import annotations

from airflow_provider_dash.sql.dialects import DIALECTS, dialect_for
from airflow_provider_dash.sql.tables import TableExtraction, TableRef, extract_tables

__all__ = ["DIALECTS", "TableExtraction", "TableRef", "dialect_for", "extract_tables"]
