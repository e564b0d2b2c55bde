"""The Redash emulator's static parts of ``/api/config`` and ``/api/session``, as the recorded server sends them."""

from __future__ import annotations

from typing import Any

from .objects import ADMIN_EMAIL, AVATAR

PERMISSIONS = [
    "admin",
    "super_admin",
    "create_dashboard",
    "create_query",
    "edit_dashboard",
    "edit_query",
    "view_query",
    "view_source",
    "execute_query",
    "list_users",
    "schedule_query",
    "list_dashboards",
    "list_alerts",
    "list_data_sources",
]


def client_config(base_path: str) -> dict[str, Any]:
    """:return: ``client_config`` of ``/api/config`` (no version: that is only in the session)."""
    return {
        "allowScriptsInUserInput": False,
        "showPermissionsControl": False,
        "hidePlotlyModeBar": False,
        "disablePublicUrls": False,
        "multiByteSearchEnabled": False,
        "allowCustomJSVisualizations": True,
        "autoPublishNamedQueries": True,
        "extendedAlertOptions": False,
        "mailSettingsMissing": True,
        "dashboardRefreshIntervals": [60, 300, 600, 1800, 3600, 43200, 86400],
        "queryRefreshIntervals": [
            60,
            300,
            600,
            900,
            1800,
            3600,
            7200,
            10800,
            14400,
            18000,
            21600,
            25200,
            28800,
            32400,
            36000,
            39600,
            43200,
            86400,
            604800,
            1209600,
            2592000,
        ],
        "googleLoginEnabled": False,
        "ldapLoginEnabled": False,
        "pageSize": 20,
        "pageSizeOptions": [5, 10, 20, 50, 100],
        "tableCellMaxJSONSize": 50000,
        "basePath": base_path,
        "dateFormat": "DD/MM/YY",
        "dateFormatList": ["DD/MM/YY", "YYYY-MM-DD", "MM/DD/YY"],
        "timeFormatList": ["HH:mm:ss.SSS", "HH:mm", "HH:mm:ss"],
        "dateTimeFormat": "DD/MM/YY HH:mm",
        "integerFormat": "0,0",
        "floatFormat": "0,0.00",
        "nullValue": "null",
    }


def session_user() -> dict[str, Any]:
    """:return: the ``user`` of ``/api/session``."""
    return {
        "profile_image_url": AVATAR,
        "id": 1,
        "name": "Admin",
        "email": ADMIN_EMAIL,
        "groups": [1, 2],
        "permissions": list(PERMISSIONS),
    }
