"""OpenLineage facets of the Redash tasks and the ``redash`` asset URI scheme.

Nothing here is imported on a DAG parse but :mod:`.redash_assets` (the URI normaliser Airflow
calls for ``redash://`` assets) and :mod:`.redash_tasks` (the operators' mixin); both import the
standard library only. The OpenLineage provider is imported inside the functions that build facets.
"""
