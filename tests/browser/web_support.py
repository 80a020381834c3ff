"""Helpers shared by the console's tests: an app on a fresh database, staff accounts,
signing in through the real form (CSRF and all), and reading what the page shows.
"""

from __future__ import annotations

import re
from html import unescape

from server.domain.config import load

ADMIN = ("alice", "alice-password-1")
STAFF = ("bob", "bob-password-22")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(db_url: str):
    """A console app on ``db_url`` with an admin and a staff account, CSRF on."""
    from server.web import accounts, create_app

    app = create_app(db_url, load(), testing=True)
    app.config["WTF_CSRF_ENABLED"] = True
    accounts.add_staff(*ADMIN[:1], "admin", ADMIN[1])
    accounts.add_staff(*STAFF[:1], "staff", STAFF[1])
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
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', html, re.S)]


def text(html: str) -> str:
    """Visible text of a page, roughly (tags removed, entities decoded, spaces collapsed)."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
