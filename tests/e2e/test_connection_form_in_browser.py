"""The Redash connection form in Airflow's real UI, driven in headless Chromium.

A real Airflow API server (the only component the UI needs; SQLite in a temporary home, connection
testing enabled) serves the React UI. Playwright drives Debian's ``chromium`` (never a browser of its
own) through Admin -> Connections: the form for the type "Redash" shows the fields the provider
declares, a connection saved from it passes Airflow's Test button against the Redash emulator, and
the same connection edited with a wrong key fails it with the hook's "rejected the API key" message.

Airflow 3.3.2's Test button sends ``port: 0`` for a connection without a port, which its API then
refuses (400) as "a different destination" (apache/airflow#73298, merged after 3.3.2). A Redash
connection never has a port (it is part of the Base URL), so every test here but the one pinning
that bug sends the port as null, which is what the fix makes the API accept.

On failure, the screenshots (the filled form, and the page as it was) and the API server's log tail
are printed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

from airflow_provider_dash import get_provider_info
from airflow_provider_dash.testing import RedashEmulator

from .airflow_cluster import AirflowCluster, poll_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CHROMIUM = Path(os.environ.get("DASH_CHROMIUM", "/usr/lib/chromium/chromium"))
UI_TIMEOUT_MS = 20_000
"""For every UI action and expectation: generous, since the two cores are shared with other tests."""
TEST_ROUTE = "**/api/v2/connections/test"
TEST_TOAST = re.compile(r"Test Connection (Successful|Failed)")
(CONNECTION_TYPE,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "dash"]


def _unavailable(reason: str) -> None:
    """Fail under CI (the Makefile installs what the test needs), skip with the reason elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _send_missing_port_as_null(route: Route) -> None:
    """Stand in for apache/airflow#73298: the Test button's ``port: 0`` means "no port"."""
    body = route.request.post_data_json
    if isinstance(body, dict) and body.get("port") == 0:
        body["port"] = None
    route.continue_(post_data=json.dumps(body))


class ConnectionsPage:
    """Admin -> Connections in Airflow 3.3's UI, found by roles and labels as a person reads them.

    :param page: a fresh browser page.
    :param base_url: the Airflow API server's URL.
    """

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.dialog = page.get_by_role("dialog")

    def open(self) -> None:
        """Open the home page, then Admin -> Connections from the navigation menu."""
        self.page.goto(self.base_url + "/")
        self.page.get_by_role("button", name="Admin").click()
        self.page.get_by_role("menuitem", name="Connections").click()
        expect(self.page.get_by_role("button", name="Add Connection")).to_be_visible()

    def add_redash(self, conn_id: str) -> Locator:
        """Open the Add Connection dialog, name the connection and choose the type "Redash".

        :return: the dialog.
        """
        self.page.get_by_role("button", name="Add Connection").click()
        self.dialog.get_by_label("Connection ID").fill(conn_id)  # its label ends in a "*" (required)
        self.dialog.get_by_role("combobox", name="Connection Type").fill(CONNECTION_TYPE["hook-name"])
        self.page.get_by_role("option", name=CONNECTION_TYPE["hook-name"], exact=True).click()
        return self.dialog

    def field(self, label: str) -> Locator:
        """The dialog's input labelled exactly ``label``."""
        return self.dialog.get_by_label(label, exact=True)

    def save(self) -> None:
        """Save the dialog and wait until it has closed."""
        self.dialog.get_by_role("button", name="Save").click()
        expect(self.dialog).to_be_hidden()

    def row(self, conn_id: str) -> Locator:
        """The connection list's row of ``conn_id``."""
        return self.page.get_by_role("row").filter(has=self.page.get_by_role("cell", name=conn_id, exact=True))

    def edit(self, conn_id: str) -> Locator:
        """Open the Edit Connection dialog of ``conn_id``.

        :return: the dialog.
        """
        self.row(conn_id).get_by_role("button", name="Edit Connection").click()
        expect(self.field("Base URL")).to_be_visible()
        return self.dialog

    def test(self, conn_id: str) -> Locator:
        """Press the row's Test button.

        :return: the notification that reports the test's outcome.
        """
        self.row(conn_id).get_by_role("button", name="Test Connection").click()
        return self.page.get_by_role("status").filter(has_text=TEST_TOAST)

    def screenshot(self, path: Path) -> None:
        """Save a screenshot of the page as it is, dialogs' opening animations finished."""
        self.page.screenshot(path=path, animations="disabled", full_page=True)

    def add_emulator_connection(self, conn_id: str, emulator: RedashEmulator, key: str, screenshot: Path) -> None:
        """Add a Redash connection to ``emulator`` with ``key``; screenshot the filled form, then save."""
        self.add_redash(conn_id)
        self.field("Base URL").fill(emulator.url)
        self.field("API key").fill(key)
        self.screenshot(screenshot)
        self.save()
        expect(self.row(conn_id)).to_be_visible()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (Debian's chromium package: `make chromium` installs it as root)")
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowCluster]:
    """A real Airflow API server (SQLite, temporary home) with the Test button enabled."""
    home = tmp_path_factory.mktemp("airflow-ui-home")
    (home / "dags").mkdir()
    with AirflowCluster(home, home / "dags", extra_env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}) as cluster:
        try:
            cluster.migrate()
            cluster.start("api-server")
            poll_until(
                lambda: _database_healthy(cluster),
                timeout=120,
                what="the API server",
                on_tick=lambda: cluster.check_alive("api-server"),
            )
        except BaseException:
            print(cluster.log_tails())
            raise
        yield cluster


def _database_healthy(cluster: AirflowCluster) -> dict[str, Any] | None:
    health = cluster.health()
    return health if health and (health.get("metadatabase") or {}).get("status") == "healthy" else None


@pytest.fixture
def ui(
    browser: Browser, api_server: AirflowCluster, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ConnectionsPage]:
    """Admin -> Connections, open in a fresh browser context; screenshots and logs printed on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.route(TEST_ROUTE, _send_missing_port_as_null)
    connections = ConnectionsPage(page, api_server.base_url)
    connections.open()
    yield connections
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        connections.screenshot(tmp_path / "at-failure.png")
        print("screenshots:", *sorted(str(p) for p in tmp_path.glob("*.png")), sep="\n  ")
        print("API server log (tail):", *api_server.log_text("api-server").splitlines()[-40:], sep="\n")
    context.close()


def test_redash_type_shows_the_declared_fields_with_their_labels_and_placeholders(
    ui: ConnectionsPage, tmp_path: Path
) -> None:
    behaviour = CONNECTION_TYPE["ui-field-behaviour"]
    ui.add_redash("redash_form")

    for name, label in behaviour["relabeling"].items():
        box = ui.field(label)
        expect(box).to_be_visible()
        expect(box).to_have_attribute("name", name)
        expect(box).to_have_attribute("placeholder", behaviour["placeholders"][name])
    expect(ui.field("API key")).to_have_attribute("type", "password")
    ui.screenshot(tmp_path / "standard-fields.png")
    for hidden in behaviour["hidden-fields"]:
        expect(ui.dialog.locator(f"[name={hidden}]")).to_have_count(0)

    ui.dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    for name, declared in CONNECTION_TYPE["conn-fields"].items():
        label = ui.page.get_by_text(declared["label"], exact=True)
        expect(ui.dialog.locator(label)).to_be_visible()
        # Found by name, not label: Airflow 3.3 leaves a field of several types (verify) unlabelled.
        box = ui.dialog.get_by_role("group").filter(has=label).locator(f"[name=element_{name}]")
        expect(box).to_be_visible()
        default = declared["schema"].get("default")
        expect(box).to_have_value("" if default is None else json.dumps(default))
        if "description" in declared:
            expect(ui.dialog.get_by_text(declared["description"], exact=True)).to_be_visible()


def test_connection_saved_from_the_form_passes_the_test_button(
    ui: ConnectionsPage, dash_emulator: RedashEmulator, api_server: AirflowCluster, tmp_path: Path
) -> None:
    filled = tmp_path / "filled-form.png"
    ui.add_emulator_connection("redash_ui", dash_emulator, dash_emulator.user_key, filled)

    outcome = ui.test("redash_ui")

    seen = f"(filled form: {filled})"
    expect(outcome, f"the Test button did not succeed {seen}").to_contain_text("Test Connection Successful")
    expect(outcome, f"no success message {seen}").to_contain_text(f"Connected to {dash_emulator.url} as ")
    assert dash_emulator.user_key not in api_server.log_text("api-server"), "the API key is in the API server's log"


def test_connection_edited_with_a_wrong_key_fails_the_test_button_as_rejected(
    ui: ConnectionsPage, dash_emulator: RedashEmulator, tmp_path: Path
) -> None:
    filled = tmp_path / "filled-form.png"
    ui.add_emulator_connection("redash_wrong_key", dash_emulator, dash_emulator.user_key, filled)
    ui.edit("redash_wrong_key")
    ui.field("API key").fill("not-the-key-0000")
    ui.screenshot(tmp_path / "edited-form.png")
    ui.save()

    outcome = ui.test("redash_wrong_key")

    seen = f"(screenshots in {tmp_path})"
    expect(outcome, f"the Test button did not fail {seen}").to_contain_text("Test Connection Failed")
    expect(outcome, f"no rejected-key message {seen}").to_contain_text(f"{dash_emulator.url} rejected the API key")


def test_airflow_3_3_2_test_button_refuses_a_connection_without_port(
    ui: ConnectionsPage, dash_emulator: RedashEmulator, tmp_path: Path
) -> None:
    """Pins the Airflow bug the other tests work around: when this fails, the installed Airflow has
    apache/airflow#73298; delete this test and ``_send_missing_port_as_null``."""
    ui.page.unroute(TEST_ROUTE)
    ui.add_emulator_connection("redash_no_port", dash_emulator, dash_emulator.user_key, tmp_path / "filled-form.png")

    outcome = ui.test("redash_no_port")

    expect(outcome).to_contain_text("Test Connection Failed")
    expect(outcome).to_contain_text("Bad Request")
