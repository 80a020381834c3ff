"""The console's feedback desk through Flask's test client: recording at the counter, the queue
and its filters, assign, status, answer, the "no channel back" notice, escaping, Thai, reports.
"""

from __future__ import annotations

from server.store import Feedback
from tests.browser.web_support import STAFF, flashes, post_form, sign_in, text

CARD = "04A1B2C3D4"
EVIL = "<script>alert('fb')</script><img src=x onerror=alert(1)>"


def test_counter_feedback_queue_answer_and_escaping(app):
    svc = app.extensions["privcard.service"]
    m = svc.members.add("<b>Mallory</b> สมชาย", CARD)
    c = app.test_client()
    sign_in(c, STAFF, "en")
    page = post_form(
        c,
        "/feedback",
        "/feedback",
        {
            "channel": "phone",
            "category": "complaint",
            "text": EVIL + " ห้องน้ำชั้น 3 ไม่สะอาด",
            "member": CARD,
            "rating": "2",
        },
    )
    assert "Feedback 1 recorded." in flashes(page.text)
    row = Feedback.get_by_id(1)
    assert row.channel == "phone" and row.member == m.id and row.rating == 2 and row.recorded_by == "web:bob"
    for html in (page.text, c.get("/feedback").text):
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>Mallory" not in html
        assert "&lt;script&gt;alert(" in html and "&lt;b&gt;Mallory&lt;/b&gt;" in html
    q = c.get("/feedback?status=new&channel=phone")
    assert 'data-feedback="1"' in q.text
    assert 'data-feedback="1"' not in c.get("/feedback?channel=kiosk").text
    # a bad transition is refused with a clear message and changes nothing
    page = post_form(c, "/feedback/1", "/feedback/1/status", {"status": "answered"})
    assert "feedback 1 is answered by writing the answer" in flashes(page.text)
    assert Feedback.get_by_id(1).status == "new"
    page = post_form(c, "/feedback/1", "/feedback/1/assign", {"assignee": "bob"})
    assert "Feedback 1 assigned." in flashes(page.text) and Feedback.get_by_id(1).assignee == "bob"
    page = post_form(c, "/feedback/1", "/feedback/1/status", {"status": "in_progress"})
    assert Feedback.get_by_id(1).status == "in_progress"
    page = post_form(
        c, "/feedback/1", "/feedback/1/answer", {"answer": "Cleaned <em>today</em>", "action": "Cleaner booked"}
    )
    assert "Feedback 1 answered." in flashes(page.text)
    assert "Cleaned &lt;em&gt;today&lt;/em&gt;" in page.text and "Cleaner booked" in page.text
    assert Feedback.get_by_id(1).status == "answered"


def test_declining_a_request_whose_pledge_was_voided_is_recorded_not_an_error_page(app):
    """The member page's void of a pledge, then the answer form's *declined*: before, an error page (500)."""
    from server.store import LedgerEntry, Member

    svc = app.extensions["privcard.service"]
    m = svc.members.add("Somchai", CARD)
    f = svc.feedback.submit(channel="counter", category="book_request", text="Dune", member=m.id, pledge=True)
    c = app.test_client()
    sign_in(c, STAFF, "th")
    url = f"/members/{m.id}/entries/{f['pledge_entry']}/void"
    page = post_form(c, url, url, {"reason": "mistake"})
    assert page.status_code == 200 and Member.get_by_id(m.id).balance == 250
    fid = f["id"]
    r = post_form(c, f"/feedback/{fid}", f"/feedback/{fid}/answer", {"answer": "ขออภัย", "decision": "declined"})
    assert r.status_code == 200, r.text[:300]
    assert flashes(r.text) == [f"ตอบความคิดเห็น {fid} แล้ว"], flashes(r.text)
    void = LedgerEntry.get(LedgerEntry.void_of == f["pledge_entry"])
    assert f"คืนคะแนนแล้ว (รายการ {void.id})" in text(r.text)
    assert Feedback.get_by_id(fid).decision == "declined" and Member.get_by_id(m.id).balance == 250


def test_too_long_text_is_refused_and_nothing_stored_in_thai(app):
    c = app.test_client()
    sign_in(c, STAFF, "th")
    page = post_form(c, "/feedback", "/feedback", {"channel": "counter", "category": "question", "text": "ก" * 1001})
    assert "ข้อความยาว 1001 ตัวอักษร เกินกำหนด 1000 ตัวอักษร" in flashes(page.text)
    assert Feedback.select().count() == 0
    assert "บันทึกความคิดเห็นที่รับทางเคาน์เตอร์ อีเมล หรือโทรศัพท์" in text(page.text)


def test_anonymous_kiosk_feedback_says_there_is_no_channel_back(app):
    from datetime import UTC, datetime

    from broker import contract

    svc = app.extensions["privcard.service"]
    svc.devices.add("kiosk-1", "kiosk")
    fb = contract.Feedback("f1", None, datetime.now(UTC), None, category="suggestion", text="more plugs")
    assert svc.devices.record_feedback("kiosk-1", fb)
    c = app.test_client()
    sign_in(c, STAFF, "en")
    page = c.get("/feedback/1").text
    assert "there is no channel back to the patron." in text(page) and "kiosk feedback without a card" in text(page)
    sign_in(c, STAFF, "th")
    assert "ไม่มีช่องทางส่งคำตอบกลับถึงผู้ใช้บริการ" in text(c.get("/feedback/1").text)


def test_reports_count_it(app):
    svc = app.extensions["privcard.service"]
    svc.feedback.submit(channel="counter", category="compliment", text="lovely staff", rating=5)
    f = svc.feedback.submit(channel="phone", category="complaint", text="too cold")
    svc.feedback.answer(f["id"], "fixed")
    c = app.test_client()
    sign_in(c, STAFF, "en")
    page = c.get("/reports").text
    assert 'id="report-feedback_desk"' in page and 'id="report-feedback_answer_time"' in page
    csv = c.get("/reports/feedback_desk.csv").text
    assert "Compliment,0,0,1,0,0,1" in csv and "Complaint,0,0,0,0,1,1" in csv and "Total,0,0,1,0,1,2" in csv
    sat = c.get("/reports/feedback_satisfaction.csv").text
    assert ",1,5.00" in sat


def _chart(page: str, name: str) -> str:
    """The SVG chart of one report on the reports page."""
    section = page.split(f'id="report-{name}"', 1)[1].split("</section>", 1)[0]
    return section.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_the_charts_speak_the_page_language(app):
    svc = app.extensions["privcard.service"]
    svc.feedback.submit(channel="counter", category="compliment", text="lovely staff", rating=5)
    c = app.test_client()
    sign_in(c, STAFF, "th")
    desk = _chart(c.get("/reports").text, "feedback_desk")
    assert "คำชมเชย" in desk and "Compliment" not in desk
    sign_in(c, STAFF, "en")
    desk = _chart(c.get("/reports").text, "feedback_desk")
    assert "Compliment" in desk and "คำชมเชย" not in desk


def test_the_pledge_price_is_a_section_of_the_live_programme_editor(app):
    from tests.browser.web_support import ADMIN

    c = app.test_client()
    sign_in(c, ADMIN, "en")
    page = c.get("/programme?section=feedback")
    assert page.status_code == 200 and "book_request_points = 100" in page.text
    page = post_form(
        c,
        "/programme?section=feedback",
        "/programme/section",
        {"section": "feedback", "text": "[feedback]\nbook_request_points = -1\n"},
    )
    assert any("feedback.book_request_points must be an integer >= 0" in f for f in flashes(page.text))
    assert app.extensions["privcard.service"].prog.book_request_points == 100
