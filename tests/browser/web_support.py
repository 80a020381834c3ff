"""Helpers shared by the console's tests: an app on a fresh database, staff accounts,
signing in through the real form (CSRF and all), and reading what the page shows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from html import unescape
from pathlib import Path

from server.domain.config import load
from tests.brokers import REPO, free_port, python_env, wait_port

ADMIN = ("alice", "alice-password-1")
STAFF = ("bob", "bob-password-22")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


#: the first SQLite database make_app made in this process (schema and the two accounts): later
#: ones start as a copy of it, so each test does not pay two Argon2 hashes (~0.25 s) for them
_TEMPLATE: list[Path] = []


def _sqlite_file(db_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL not created yet (None: another database, or a file that exists)."""
    if not db_url.startswith("sqlite:///") or "?" in db_url or db_url.endswith(":memory:"):
        return None
    path = Path(db_url[len("sqlite:///") :])
    return None if path.exists() else path


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database (the backup API), the new file 0640 as the store makes it."""
    import sqlite3

    os.close(os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640))
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def make_app(db_url: str):
    """A console app on ``db_url`` with an admin and a staff account, CSRF on.

    A new SQLite file starts as a copy of the first one made (the accounts and their Argon2
    hashes included); the schema is brought up to date on it as on any database.
    """
    from server.web import accounts, create_app

    path = _sqlite_file(db_url)
    if path is not None and _TEMPLATE and _TEMPLATE[0].exists():
        _copy_sqlite(_TEMPLATE[0], path)
        app = create_app(db_url, load(), testing=True)
        app.config["WTF_CSRF_ENABLED"] = True
        return app
    app = create_app(db_url, load(), testing=True)
    app.config["WTF_CSRF_ENABLED"] = True
    accounts.add_staff(*ADMIN[:1], "admin", ADMIN[1])
    accounts.add_staff(*STAFF[:1], "staff", STAFF[1])
    if path is not None and not _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="privcard-console-template-")) / "privcard.db"
        _copy_sqlite(path, template)
        _TEMPLATE.append(template)
    return app


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    m = CSRF_RE.search(html)
    assert m, "page has no CSRF token"
    return m.group(1)


def sign_in(client, who=ADMIN, lang: str = "en"):
    """Sign in through the form like a person; returns the response after the redirect."""
    client.get(f"/lang/{lang}")
    page = client.get("/login")
    r = client.post("/login", data={"username": who[0], "password": who[1], "csrf_token": csrf_of(page.text)})
    assert r.status_code == 302, r.text[:500]
    return client.get(r.location)


def post_form(client, page_url: str, action: str, data: dict, follow: bool = True):
    """Open ``page_url``, take its CSRF token and post ``data`` to ``action``."""
    token = csrf_of(client.get(page_url).text)
    r = client.post(action, data={**data, "csrf_token": token})
    if follow and r.status_code == 302:
        return client.get(r.location)
    return r


def flashes(html: str) -> list[str]:
    """The messages shown at the top of a page."""
    return [
        unescape(re.sub(r"<[^>]+>", "", m)).strip()
        for m in re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', html, re.S)
    ]


def text(html: str) -> str:
    """Visible text of a page, roughly (tags removed, entities decoded, spaces collapsed)."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


class ConsoleServer:
    """``privcard server --db ... --mqtt ... --http 127.0.0.1:PORT`` as a child process."""

    def __init__(self, db_url: str, mqtt_url: str, log_dir: Path, extra: tuple = ()):
        from tests.helpers import ServerProcess

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = db_url
        self.mqtt_url = mqtt_url
        self.proc = ServerProcess(
            db_url, mqtt_url, log_dir=log_dir, name="console", extra_args=("--http", f"127.0.0.1:{self.port}", *extra)
        )

    def start(self) -> ConsoleServer:
        self.proc.start()
        if not wait_port("127.0.0.1", self.port, 20):
            raise AssertionError(f"console did not listen on {self.port}:\n{self.proc.log_tail()}")
        return self

    def stop(self) -> None:
        self.proc.stop()


def add_staff_cli(db_url: str, username: str, role: str, password: str) -> str:
    """Create an account with the real CLI (``privcard admin --db URL staff add ...``)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker.dispatcher",
            "admin",
            "--db",
            db_url,
            "staff",
            "add",
            username,
            "--role",
            role,
            "--password",
            password,
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def screenshot_dir() -> Path:
    """Where the browser tests keep their screenshots: ``docs/screenshots/`` with
    ``PRIVCARD_SCREENSHOTS=docs``, the folder it names otherwise, else a temporary folder."""
    value = os.environ.get("PRIVCARD_SCREENSHOTS")
    if value == "docs":
        out = REPO / "docs" / "screenshots"
    elif value:
        out = Path(value)
    else:
        out = Path(tempfile.gettempdir()) / "privcard-screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def shot(target, name: str, full: bool = True) -> Path:
    """A screenshot of a page (the whole page when ``full``) or of one element, as ``NAME.png``."""
    from playwright.sync_api import Page

    path = screenshot_dir() / f"{name}.png"
    if isinstance(target, Page):
        target.screenshot(path=str(path), full_page=full)
    else:
        target.screenshot(path=str(path))
    return path
