"""Browser tests: a real portal served over HTTP on a free loopback port, on its own database
(migrations + demo region; what the tests commit there stays for the next browser test), driven
by Playwright in Debian's chromium — never a downloaded browser."""
from __future__ import annotations

import contextlib
import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import (
    DEMO_PASSWORD,
    fresh_database,
    live_demo_app,
    missing,
)

CHROMIUM = os.environ.get("PREAU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-extensions", "--no-first-run"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_database(tmp_path_factory) -> str:
    """The live portal's database (see tests.conftest.fresh_database)."""
    return fresh_database(tmp_path_factory, "live")


@pytest.fixture(scope="session")
def live_app(live_database, tmp_path_factory):
    app = live_demo_app(tmp_path_factory, live_database, "live")
    app.config["TESTING"] = False
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    """Base URL of the portal, served by a threaded WSGI server as a browser sees it."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        missing(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, _clicks_wait_for_the_next_page():
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def _clicks_wait_for_the_next_page():
    """A click that follows a link or submits a form returns once the next page has started
    loading: what a test read then could be a document not parsed yet (CI once counted the 0
    rows of a results table, and axe met an empty document). During the browser tests, every
    `Locator.click` (unless told `no_wait_after`) also waits for the page's load, as a person
    waits for the page to show; a click that starts no navigation finds the page loaded and
    does not wait. Other actions that navigate (`press("Enter")`, a script's
    `location.assign`) still wait explicitly where a test needs it."""
    from playwright.sync_api import Locator

    click = Locator.click

    def click_then_wait(self, *args, **kwargs):
        click(self, *args, **kwargs)
        if not (kwargs.get("no_wait_after") or kwargs.get("trial")):
            self.page.wait_for_load_state()

    Locator.click = click_then_wait
    try:
        yield
    finally:
        Locator.click = click


class PageProblems:
    """What the page reported that a person would not want: script errors, dialogs, CSP
    violations in the console."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.problems = PageProblems(page)
    yield page
    context.close()


def browser_login(page, login: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    assert "/connexion" not in page.url, page.content()


def axe_check(page) -> None:
    """No serious or critical accessibility violation on the current page (axe-core).

    A click on a link returns before the new page has loaded: axe then met a document
    still empty (« Cannot read properties of null »), or one that a navigation replaced
    under it. It waits for the page's load, and runs once more if a navigation came
    between."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Error as PlaywrightError

    page.wait_for_load_state()
    try:
        results = Axe().run(page)
    except PlaywrightError:
        page.wait_for_load_state()
        results = Axe().run(page)
    bad = [violation for violation in results.response["violations"]
           if violation["impact"] in ("serious", "critical")]
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5]) for v in bad)
