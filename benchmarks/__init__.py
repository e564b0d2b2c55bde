"""Benchmarks with budgets for airflow-provider-dash: ``python -m benchmarks [name ...]``.

See ``benchmarks/README.md`` for what each measures, how, and its budget.
"""
