"""The Redash toolbelt: export and import queries, find tables, the privacy scan, clone a dashboard.

Plain functions over a :class:`~airflow_provider_dash.hooks.redash_client.RedashClient` (a
``DashHook`` is one): the operators (:mod:`airflow_provider_dash.operators.redash_tools`) and the
``dash-tools`` command line (:mod:`.redash_cli`) both call them. Nothing here imports Airflow,
except to open an object-store URI (``ObjectStoragePath``) when one is given.
"""
