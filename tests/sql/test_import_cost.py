"""Importing the extractor stays cheap: sqlglot is loaded only when a function runs."""

from __future__ import annotations

import subprocess
import sys

_PROBE = (
    "import sys\n"
    "import airflow_provider_dash.sql\n"
    "print(sorted(m for m in sys.modules if m == 'sqlglot' or m.startswith('sqlglot.')))\n"
    "airflow_provider_dash.sql.extract_tables('SELECT 1')\n"
    "print('sqlglot' in sys.modules)\n"
)


def test_importing_the_sql_package_does_not_import_sqlglot() -> None:
    # A fresh interpreter: in this one, other tests have imported sqlglot already.
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == ["[]", "True"]
