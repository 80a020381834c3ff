"""Browser-test fixtures: a real ``privcard server --http`` against a Mosquitto of our
own, Playwright driving Debian's Chromium, and a signed-in page.

Missing Chromium or Playwright FAILS the tests with the install command; they are
never skipped silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.browser.web_support import ADMIN, STAFF, ConsoleServer, add_staff_cli

CHROMIUM = os.environ.get("PRIVCARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "The console's browser tests need Playwright (Python) and Debian's Chromium: "
    "`apt-get install -y chromium` and `.venv/bin/pip install playwright` "
    "(do not run `playwright install`; the tests use /usr/bin/chromium, "
    "or set PRIVCARD_CHROMIUM=/path/to/chromium)."
)


def pytest_collection_modifyitems(items):
    """Every test in this folder is a browser test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary, or a failure that says how to install it."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not path:
        pytest.fail(f"Chromium not found at {CHROMIUM}. {INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"Playwright is not installed. {INSTALL_HINT}", pytrace=False)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def console(broker, tmp_path_factory):
    """The whole server with the console, accounts made by the CLI, and the programme's defaults."""
    tmp = tmp_path_factory.mktemp("console")
    db_url = f"sqlite:///{tmp / 'privcard.db'}"
    assert "created" in add_staff_cli(db_url, ADMIN[0], "admin", ADMIN[1])
    add_staff_cli(db_url, STAFF[0], "staff", STAFF[1])
    srv = ConsoleServer(db_url, broker.url, tmp).start()
    try:
        yield srv
    finally:
        srv.stop()


def sign_in_page(browser, console, who=ADMIN, lang="en"):
    """A new browser context signed in through the form at 1366x768."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    ctx.set_default_timeout(10000)
    page = ctx.new_page()
    page.goto(f"{console.url}/lang/{lang}")
    page.goto(f"{console.url}/login")
    page.fill("input[name=username]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/")
    return page


@pytest.fixture
def admin_page(browser, console):
    """A page signed in as the admin, in English."""
    page = sign_in_page(browser, console)
    yield page
    page.context.close()
