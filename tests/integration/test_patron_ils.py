"""Signing in to the patron page with the ILS PIN, checked by a real SIP2 server process
(:mod:`tests.sip2_ils`: 63 Patron Information with the patron password ``AD``, its
``CQ`` "valid patron password" answer), and the page's fines and "not reachable".
"""

from __future__ import annotations

import json

import pytest

from server import store
from server.ils.config import build
from server.services.patrons import PatronGuard
from server.store import Audit
from tests.browser.web_support import text
from tests.helpers import new_uid
from tests.patron_support import client, patron_app, pin_sign_in
from tests.sip2_ils import start_ils


@pytest.fixture
def ils(tmp_path):
    with start_ils(tmp_path) as server:
        yield server


@pytest.fixture
def app(tmp_db_url, ils):
    app = patron_app(tmp_db_url, ils=build({"reply_timeout_s": 2, "connect_timeout_s": 1}, ils.url))
    yield app
    app.extensions["privcard.service"].ils.close()
    store.db.close()


def test_the_ils_checks_the_pin_and_the_page_shows_the_fines(app, ils):
    svc = app.extensions["privcard.service"]
    uid = new_uid()
    m = svc.members.add("สมชาย ใจดี", uid, patron_id="P100")
    svc.patrons.set_pin(m.id, "5555", actor="test")  # a counter PIN is not what the ILS member uses
    c = client(app, "10.9.0.1", lang="en")
    r = pin_sign_in(c, "P100", "9999")  # the library card number (patron id) and a wrong PIN
    assert r.status_code == 401 and "The card number or PIN is wrong." in text(r.text)
    assert pin_sign_in(c, "P100", "5555").status_code == 401  # the ILS decides, not the counter PIN
    assert PatronGuard.get_by_id(f"member:{m.id}").failures == 2
    r = pin_sign_in(c, "P100", "1234")  # the ILS's PIN for P100
    assert r.status_code == 302 and r.location.endswith("/me/")
    assert PatronGuard.get_by_id(f"member:{m.id}").failures == 0
    t = text(c.get("/me/").text)
    assert "Fines owed: 35.00 baht" in t and "Items on loan: 1 · overdue: 1" in t
    checks = [a.detail for a in Audit.select().where(Audit.action == "ils.pin_check").order_by(Audit.id)]
    assert [d["outcome"] for d in checks] == ["refused", "refused", "ok"]
    assert [a.detail["method"] for a in Audit.select().where(Audit.action == "patron.signin")] == ["ils"]
    dump = json.dumps([a.detail for a in Audit.select()])
    assert "9999" not in dump and '"1234"' not in dump and "5555" not in dump  # never a PIN in the audit
    # the card's UID signs in as well, the ILS still checking the PIN
    assert pin_sign_in(client(app, "10.9.0.2"), uid, "1234").status_code == 302

    # the ILS goes down: the page says so instead of fines; a PIN cannot be checked and is not counted
    ils.kill()
    t = text(c.get("/me/").text)
    assert "Library system not reachable" in t and "Fines owed" not in t
    r = pin_sign_in(client(app, "10.9.0.3", lang="en"), "P100", "1234")
    assert r.status_code == 503 and "library system is not reachable" in text(r.text)
    assert PatronGuard.get_by_id(f"member:{m.id}").failures == 0
    ils.restart()
    assert pin_sign_in(client(app, "10.9.0.4"), "P100", "1234").status_code == 302


def test_five_wrong_ils_pins_lock_the_card_in_privcard_too(app, ils):
    svc = app.extensions["privcard.service"]
    m = svc.members.add("Jane Reader", new_uid(), patron_id="P200")
    c = client(app, "10.9.1.1", lang="en")
    codes = [pin_sign_in(c, "P200", f"86{i}1").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    before = len(Audit.select().where(Audit.action == "ils.pin_check"))
    r = pin_sign_in(client(app, "10.9.1.2"), "P200", "0000")  # the right PIN, but locked
    assert r.status_code == 429
    assert len(Audit.select().where(Audit.action == "ils.pin_check")) == before  # not even asked
    assert PatronGuard.get_by_id(f"member:{m.id}").locked_until is not None
