"""Helpers for the patron page's tests: an app with the service layer a test chooses
(a library system, an SMTP server), and signing in through the real forms like a patron.
"""

from __future__ import annotations

import re

from server.domain.config import load

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(r"https?://[^\s]+/me/link/([A-Za-z0-9_\-]+)")


def patron_app(db_url: str, *, ils=None, mail=None):
    """The web app (console and patron pages) on ``db_url``; ``ils``: an IlsConfig, ``mail``: a MailConfig."""
    from server import store
    from server.services import bootstrap
    from server.web import create_app

    store.connect(db_url)
    prog = load()
    svc = bootstrap(prog, ils=ils, mail=mail)
    app = create_app(db_url, prog, svc, connect=False, testing=True)
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def csrf(html: str) -> str:
    """The token a patron page's forms carry."""
    m = CSRF_RE.search(html)
    assert m, "page has no CSRF token"
    return m.group(1)


def client(app, ip: str = "10.0.0.1", lang: str | None = None):
    """A browser-like test client from address ``ip`` (optionally with the patron pages' language set)."""
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = ip
    if lang:
        c.get(f"/me/lang/{lang}")
    return c


def pin_sign_in(c, card: str, pin: str):
    """Post the sign-in form like a patron; the response (302 to /me/ when signed in)."""
    token = csrf(c.get("/me/signin").text)
    return c.post("/me/signin", data={"card": card, "pin": pin, "csrf_token": token})


def cookie(c, name: str = "privcard_patron") -> str | None:
    """The value of one of the client's cookies (None when it has none)."""
    got = c.get_cookie(name, path="/me")
    return got.value if got is not None else None


def set_cookie(c, value: str, name: str = "privcard_patron") -> None:
    """Give the client a (copied, swapped or forged) patron cookie."""
    c.set_cookie(name, value, path="/me")
