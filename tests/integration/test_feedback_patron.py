""" "My feedback" on the patron's own page (``/me``): send feedback, read the answers; a book
request backed with points; over-long text refused with nothing stored; HTML shown escaped;
one patron never sees another's feedback. Flask's test client through the real forms.
"""

from __future__ import annotations

import pytest

from server import store
from server.store import Feedback
from tests.helpers import new_uid
from tests.patron_support import client, csrf, patron_app, pin_sign_in

EVIL = '<script>alert("fb")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(tmp_db_url):
    app = patron_app(tmp_db_url)
    yield app
    store.db.close()


@pytest.fixture
def svc(app):
    return app.extensions["privcard.service"]


def signed_in(app, svc, name: str, lang: str = "en"):
    uid = new_uid()
    m = svc.members.add(name, uid)
    svc.patrons.set_pin(m.id, "2468", actor="test")
    c = client(app, lang=lang)
    assert pin_sign_in(c, uid, "2468").status_code == 302
    return m, c


def send(c, **data):
    token = csrf(c.get("/me/").text)
    return c.post("/me/feedback", data={"csrf_token": token, **data})


def test_patron_sends_feedback_and_reads_the_answer_escaped(app, svc):
    m, c = signed_in(app, svc, "Somchai")
    r = send(c, category="suggestion", text=EVIL + " เปิดห้องสมุด 24 ชั่วโมง")
    assert r.status_code == 302 and r.location.endswith("#feedback")
    page = c.get(r.location)
    assert "the library has your message" in page.text
    row = Feedback.get(Feedback.member == m.id)
    assert (row.channel, row.category, row.status) == ("patron_page", "suggestion", "new")
    svc.feedback.answer(row.id, "<b>We are trying</b> ตั้งแต่เดือนหน้า", "pilot planned")
    page = c.get("/me/").text
    assert EVIL not in page and "&lt;script&gt;alert(" in page and "<img src=x" not in page
    assert "&lt;b&gt;We are trying&lt;/b&gt; ตั้งแต่เดือนหน้า" in page and 'data-status="answered"' in page
    assert "pilot planned" not in page  # the action taken is the staff's


def test_over_long_text_is_refused_clearly_and_nothing_is_stored_in_thai(app, svc):
    _m, c = signed_in(app, svc, "Somsri", lang="th")
    r = send(c, category="question", text="ก" * 1001)
    assert r.status_code == 400
    assert "ข้อความยาว 1001 ตัวอักษร เกินกำหนด 1000 ตัวอักษร" in r.text
    assert Feedback.select().count() == 0


def test_book_request_pledges_points_and_a_short_balance_is_refused(app, svc):
    m, c = signed_in(app, svc, "Reader")  # 250 points for signing up
    assert send(c, category="book_request", text="Dune", pledge="1").status_code == 302
    assert svc.ledger.balance(m.id) == 150
    assert send(c, category="book_request", text="Foundation", pledge="1").status_code == 302
    r = send(c, category="book_request", text="Hyperion", pledge="1")
    assert r.status_code == 400 and "balance 50 is less than 100 points" in r.text
    assert Feedback.select().count() == 2 and svc.ledger.balance(m.id) == 50
    page = c.get("/me/").text
    assert page.count("100 points pledged") == 2


def test_one_patron_never_sees_anothers_feedback(app, svc):
    a, ca = signed_in(app, svc, "Alice")
    b, cb = signed_in(app, svc, "Bob")
    send(ca, category="complaint", text="alice secret complaint")
    send(cb, category="question", text="bob question", member=str(a.id))  # a member id in the form is ignored
    assert "alice secret complaint" not in cb.get("/me/").text
    assert "bob question" not in ca.get("/me/").text
    assert Feedback.get(Feedback.text == "bob question").member == b.id
