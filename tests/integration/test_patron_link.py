"""Signing in to the patron page with a one-time link e-mailed through a real SMTP server
process (:mod:`tests.smtp_server`, aiosmtpd): ask for it on the sign-in page, read the
mail, follow the link, confirm; the link works once, expires, and is only ever built on
the configured public address.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from server import store
from server.messages.config import load_config
from server.services import patrons
from server.services.patrons import PatronLink
from server.store import Audit, utcnow
from tests.browser.web_support import text
from tests.helpers import new_uid
from tests.patron_support import LINK_RE, client, cookie, csrf, patron_app
from tests.smtp_server import start_smtp, text_of

PUBLIC = "https://points.library.example"


@pytest.fixture
def smtp(tmp_path):
    with start_smtp(tmp_path) as server:
        yield server


@pytest.fixture
def app(tmp_db_url, smtp):
    mail = dataclasses.replace(load_config(None, smtp.url), public_url=PUBLIC, rate_per_second=1000)
    app = patron_app(tmp_db_url, mail=mail)
    yield app
    store.db.close()


def ask_for_link(c, card: str):
    token = csrf(c.get("/me/signin").text)
    return c.post("/me/link", data={"card": card, "csrf_token": token})


def deliver(svc) -> None:
    """What the server's sender thread does each round."""
    svc.messages.send_due()


def test_a_link_by_email_signs_in_once(app, smtp):
    svc = app.extensions["privcard.service"]
    uid = new_uid()
    m = svc.members.add("Mali <b>Srisuk</b>", uid, email="mali@example.org")
    deliver(svc)
    smtp_before = len(smtp.wait_for(1))  # the welcome mail on sign-up
    c = client(app, "10.8.0.1", lang="en")
    # a Host header of the attacker's choosing must not end up in the mail
    token = csrf(c.get("/me/signin").text)
    c.set_cookie("privcard_patron_pre", cookie(c, "privcard_patron_pre"), domain="evil.example", path="/me")
    r = c.post("/me/link", data={"card": uid, "csrf_token": token}, headers={"Host": "evil.example"})
    assert r.status_code == 200 and "เราได้ส่งลิงก์เข้าสู่ระบบไปแล้ว" in text(r.text)  # (no language cookie there)
    deliver(svc)
    mail = smtp.wait_for(smtp_before + 1)[-1]
    assert mail["To"].addresses[0].addr_spec == "mali@example.org"
    body = text_of(mail)
    found = LINK_RE.search(body)
    assert found and found.group(0).startswith(f"{PUBLIC}/me/link/"), body
    assert "evil.example" not in body
    token = found.group(1)
    assert PatronLink.get_or_none(PatronLink.digest == token) is None  # only its hash is stored
    # follow the link in another browser (the phone): a confirm page first, then signed in
    phone = client(app, "10.8.0.2", lang="en")
    page = phone.get(f"/me/link/{token}")
    assert page.status_code == 200 and "This link signs you in once" in text(page.text)
    assert phone.get("/me/").status_code == 302  # opening the link alone signs nobody in (mail scanners)
    r = phone.post(f"/me/link/{token}", data={"csrf_token": csrf(page.text)})
    assert r.status_code == 302 and r.location.endswith("/me/")
    assert "Mali &lt;b&gt;Srisuk&lt;/b&gt;" in phone.get("/me/").text
    assert [a.detail["method"] for a in Audit.select().where(Audit.action == "patron.signin")] == ["link"]
    # a second use, anywhere, is refused
    other = client(app, "10.8.0.3", lang="en")
    r = other.post(f"/me/link/{token}", data={"csrf_token": csrf(other.get(f"/me/link/{token}").text)})
    assert r.status_code == 400 and "has been used or has expired" in text(r.text)
    assert other.get("/me/").status_code == 302
    assert phone.get("/me/").status_code == 200  # the session the link opened goes on
    assert PatronLink.get(PatronLink.member == m.id).used_at is not None


def test_an_expired_link_is_refused_and_unknown_cards_get_the_same_answer_and_no_mail(app, smtp):
    svc = app.extensions["privcard.service"]
    uid = new_uid()
    svc.members.add("Late", uid, email="late@example.org")
    no_mail = new_uid()
    svc.members.add("No address", no_mail)
    deliver(svc)
    base = len(smtp.wait_for(1))  # the welcome mail of the member with an address
    c = client(app, "10.8.1.1", lang="en")
    answers = {text(ask_for_link(c, card).text).split("Check your e-mail", 1)[-1] for card in (no_mail, "04FFFFFFFF")}
    assert len(answers) == 1  # a card without an address and no card at all: the same page
    deliver(svc)
    assert len(smtp.messages()) == base  # nothing sent
    ask_for_link(c, uid)
    deliver(svc)
    token = LINK_RE.search(text_of(smtp.wait_for(base + 1)[-1])).group(1)
    PatronLink.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    r = c.post(f"/me/link/{token}", data={"csrf_token": csrf(c.get(f"/me/link/{token}").text)})
    assert r.status_code == 400 and c.get("/me/").status_code == 302
    # at most three links per card per quarter hour (a mailbox is not a target)
    for _ in range(patrons.LINKS_PER_WINDOW + 2):
        ask_for_link(client(app, "10.8.1.2"), uid)
    deliver(svc)
    assert len(smtp.messages()) == base + patrons.LINKS_PER_WINDOW
