"""The feedback desk in the console, in a real browser (Chromium) against the real server: staff
record a phone complaint whose text is HTML and script, see it in the queue (escaped, no
script runs), assign it, start on it, answer it with the action taken; an anonymous item
says there is no channel back; the pages in English and Thai. Screenshots to
``PRIVCARD_SCREENSHOTS=docs`` (or a folder) (docs/screenshots/console-feedback*.png).
"""

from __future__ import annotations

from tests.browser.conftest import sign_in_page
from tests.browser.test_console_browser import enrol, flash, submit
from tests.browser.web_support import shot

EVIL = "<script>alert('fb')</script><img src=x onerror=alert(1)> ห้องน้ำชั้น 3 ไม่สะอาด"


def record(page, console, *, channel: str, category: str, text: str, member: str = "") -> int:
    page.goto(f"{console.url}/feedback")
    page.select_option("#feedback-record-form select[name=channel]", channel)
    page.select_option("#feedback-record-form select[name=category]", category)
    page.fill("#feedback-record-form input[name=member]", member)
    page.fill("#feedback-record-form textarea[name=text]", text)
    submit(page, "#feedback-record-form button[type=submit]")
    return int(page.url.rsplit("/", 1)[1])


def test_record_assign_answer_in_english_and_thai(browser, console):
    page = sign_in_page(browser, console)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        mid = enrol(page, console, "Mallory <b>สมชาย</b>", "04FB0000A1")
        fid = record(page, console, channel="phone", category="complaint", text=EVIL, member=str(mid))
        assert f"Feedback {fid} recorded." in flash(page)
        assert page.inner_text("#fb-text") == EVIL  # shown exactly as typed: text, never markup
        assert page.inner_text("#fb-status") == "New"
        assert "Phone" in page.inner_text("#fb-channel")
        assert "Mallory <b>สมชาย</b>" in page.inner_text("#fb-member")
        anon = record(page, console, channel="counter", category="suggestion", text="More power sockets, please")
        assert "there is no channel back to the patron" in page.inner_text("#fb-channel-back")
        record(page, console, channel="email", category="compliment", text="ขอบคุณเจ้าหน้าที่ชั้น 2 ที่ช่วยค้นหนังสือ")

        page.goto(f"{console.url}/feedback")
        rows = page.locator("#feedback-rows tbody tr")
        assert rows.count() == 3
        first = page.locator(f"tr[data-feedback='{fid}']")
        assert EVIL[:60] in first.inner_text() and "Complaint" in first.inner_text()
        shot(page, "console-feedback-en")
        page.select_option("#feedback-filters select[name=channel]", "counter")
        submit(page, "#feedback-filters button")
        assert page.locator("#feedback-rows tbody tr").count() == 1
        assert page.locator(f"tr[data-feedback='{anon}']").count() == 1

        page.goto(f"{console.url}/feedback/{fid}")
        page.select_option("#fb-assign select[name=assignee]", "bob")
        submit(page, "#fb-assign button")
        assert f"Feedback {fid} assigned." in flash(page)
        submit(page, "#fb-move button[value=in_progress]")
        assert page.inner_text("#fb-status") == "In progress"
        page.fill("#fb-answer-form textarea[name=answer]", "We cleaned it today <em>and</em> booked a daily check.")
        page.fill("#fb-answer-form textarea[name=action]", "Cleaning contractor told; daily check at 10:00")
        submit(page, "#fb-answer-form button[type=submit]")
        assert f"Feedback {fid} answered." in flash(page)
        assert page.inner_text("#fb-status") == "Answered"
        assert page.inner_text("#fb-answer") == "We cleaned it today <em>and</em> booked a daily check."
        assert "daily check at 10:00" in page.inner_text("#fb-action")
        assert "on their own page" in page.inner_text("#fb-channel-back")  # no e-mail address on file
        shot(page, "console-feedback-item-en")
        assert dialogs == []  # no script from the patron's text ever ran
    finally:
        page.context.close()

    th = sign_in_page(browser, console, lang="th")
    th.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        th.goto(f"{console.url}/feedback")
        assert th.inner_text("h1") == "ความคิดเห็น"
        heads = th.inner_text("#feedback-rows thead")
        assert "สถานะ" in heads and "ช่องทาง" in heads and "ผู้รับผิดชอบ" in heads
        assert "ตอบแล้ว" in th.locator(f"tr[data-feedback='{fid}']").inner_text()
        assert "บันทึกความคิดเห็นที่รับทางเคาน์เตอร์ อีเมล หรือโทรศัพท์" in th.inner_text("#feedback-record")
        shot(th, "console-feedback-th")
        th.goto(f"{console.url}/feedback/{anon}")
        assert "ไม่มีช่องทางส่งคำตอบกลับถึงผู้ใช้บริการ" in th.inner_text("#fb-channel-back")
        assert th.inner_text("#fb-status") == "ใหม่"
        shot(th, "console-feedback-item-th")
        th.goto(f"{console.url}/reports")
        assert "ความคิดเห็นตามประเภทและช่องทาง" in th.inner_text("#report-feedback_desk")
        assert "ระยะเวลาถึงคำตอบแรก" in th.inner_text("#report-feedback_answer_time")
        shot(th.locator("#report-feedback_desk"), "console-feedback-report-th")
        assert dialogs == []
    finally:
        th.context.close()
