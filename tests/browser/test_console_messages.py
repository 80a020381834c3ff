"""Messages to members in the console, in a real browser (issue 14): write a message to a
segment, preview its recipients (opted out and without an address counted), send it, read
its delivery log; a member's contact data and consent; HTML typed in a message shown as
text; the pages in Thai and English. Set ``PRIVCARD_SCREENSHOTS=docs`` (or a folder) to keep the screenshots.
"""

from __future__ import annotations

import uuid

from tests.browser.conftest import sign_in_page
from tests.browser.test_console_browser import flash, submit
from tests.browser.web_support import shot
from tests.helpers import close_store, open_service, run_admin


def _member(console, name, email=None, group="U3", marketing=False) -> int:
    """A member added through the service on the console's database (in this process: a CLI
    process per member cost a second each; ``privcard admin member`` has tests of its own)."""
    svc = open_service(console.db_url)
    try:
        m = svc.members.add(name, "04" + uuid.uuid4().hex[:8].upper(), group=group, email=email)
        if marketing:
            svc.members.set(m.id, consent_marketing="yes")
        return m.id
    finally:
        close_store()


def test_segment_message_preview_send_and_delivery_log(admin_page, console):
    page = admin_page
    yes = [_member(console, f"Reader {i}", f"r{i}@example.org", marketing=True) for i in range(3)]
    _member(console, "No Consent", "nc@example.org")
    _member(console, "No Address", marketing=True)
    _member(console, "Other Group", "og@example.org", group="U4", marketing=True)
    page.goto(f"{console.url}/messages")
    page.fill("input[name=subject_th]", "ข่าวห้องสมุด")
    page.fill("textarea[name=body_th]", "สวัสดีคุณ{name} <b>ตัวหนา</b>")
    page.fill("input[name=subject_en]", "Library news <script>alert(1)</script>")
    page.fill("textarea[name=body_en]", "Hello {name}, you have {balance} points")
    page.select_option("select[name=group]", "U3")
    # an unknown placeholder is refused at preview, nothing queued
    page.fill("textarea[name=body_en]", "Hello {nmae}")
    submit(page, "button[value=preview]")
    assert "unknown placeholder" in flash(page) and "{nmae}" in flash(page)
    assert page.locator("button[value=send]").count() == 0
    page.fill("textarea[name=body_en]", "Hello {name}, you have {balance} points")
    submit(page, "button[value=preview]")
    counts = page.inner_text("#preview-counts")
    assert "3 of 5 member(s) will receive it; 1 opted out, 1 without an address" in counts, counts
    shot(page, "console-messages-en", full=True)
    submit(page, "button[value=send]")
    assert "Message queued for 3 member(s); 1 opted out, 1 without an address." in flash(page)
    # the delivery log: the three pending (no SMTP server in this console), the two skipped with reasons
    log = page.inner_text("#delivery-log")
    assert log.count("pending") == 3 and "opted out" in log and "no address" in log
    for mid in yes:
        assert page.locator(f"tr[data-status=queued] a[href='/members/{mid}']").count() == 1
    # the staff's HTML is shown as text, never as markup
    assert "<script>alert(1)</script>" in page.inner_text("h1")
    assert page.locator("h1 script").count() == 0 and page.locator("pre b").count() == 0
    shot(page, "console-message-log-en", full=True)
    # the outbox summary on the messages page counts them pending
    page.goto(f"{console.url}/messages")
    assert "pending" in page.inner_text("#outbox-summary")


def test_messages_pages_and_contact_form_in_thai(browser, console):
    page = sign_in_page(browser, console, lang="th")
    try:
        mid = _member(console, "ผู้อ่าน ภาษาไทย", "th@example.org")
        page.goto(f"{console.url}/members/{mid}")
        page.click("summary:has-text('ข้อมูลติดต่อและการรับข้อความ')")
        page.fill("#contact-form input[name=phone]", "081 234 5678")
        page.check("#contact-form input[name=consent_marketing]")
        page.uncheck("#contact-form input[name=consent_ranking]")
        submit(page, "#contact-form button")
        assert "บันทึกข้อมูลติดต่อและการรับข้อความแล้ว" in flash(page)
        _, m = run_admin(console.db_url, "member", "show", str(mid))
        assert m["phone"] == "081 234 5678" and m["consent"]["marketing"] and not m["consent"]["ranking"], m
        # a bad phone: a clear error in Thai, nothing changed
        page.click("summary:has-text('ข้อมูลติดต่อและการรับข้อความ')")
        page.fill("#contact-form input[name=phone]", "abc")
        submit(page, "#contact-form button")
        assert "หมายเลขโทรศัพท์" in flash(page)
        page.click("summary:has-text('ข้อมูลติดต่อและการรับข้อความ')")
        page.locator("#contact-form button").scroll_into_view_if_needed()
        shot(page, "console-member-contact-th")
        page.goto(f"{console.url}/messages")
        assert "ข้อความถึงสมาชิก" in page.inner_text("h1")
        assert "ดูจำนวนผู้รับ" in page.inner_text("#message-form")
        shot(page, "console-messages-th", full=True)
    finally:
        page.context.close()


def test_failed_messages_listed_with_their_reason_in_thai_and_english(browser, console, tmp_path):
    """A welcome refused by the SMTP server (550), one whose building raised a bug (a subject with a
    line break, as a hand edit leaves it) and one whose tries were used up (451 to each of 3) are
    failed, in no segment message: the Messages page lists them under "Failed" with member, message,
    when queued and when failed, tries and the reason in the page's language."""
    from server.messages.config import build
    from server.services.messages import OutMessage
    from tests.smtp_server import drain_outbox, start_smtp

    smtp = start_smtp(tmp_path, refuse="bounce", tempfail="busy")
    svc = open_service(console.db_url)
    try:
        cfg = build({"rate_per_second": 500, "max_attempts": 3, "retry_first_s": 0.05, "retry_max_s": 0.1}, smtp.url)
        svc.messages.config = svc.messages.channels["email"].config = cfg
        refused = svc.members.add("Refused Address", "04" + uuid.uuid4().hex[:8].upper(), email="x@bounce.example.org")
        broken = svc.members.add("Broken Welcome", "04" + uuid.uuid4().hex[:8].upper(), email="bw@example.org")
        busy = svc.members.add("Busy Mailbox", "04" + uuid.uuid4().hex[:8].upper(), email="y@busy.example.org")
        OutMessage.update(subject="Welcome\nBcc: everyone@example.org").where(
            (OutMessage.member == broken.id) & (OutMessage.template == "welcome")
        ).execute()
        assert drain_outbox(svc)["failed"] == 3
        rows = {r.member: r for r in OutMessage.select().where(OutMessage.status == "failed")}
    finally:
        close_store()
        smtp.stop()
    bug, bounce, gave_up = rows[broken.id], rows[refused.id], rows[busy.id]
    assert bug.reason.startswith("bug: ValueError: ") and bounce.reason == "550 5.1.1 no such user here"
    assert gave_up.reason == "gave_up: 3: 451 4.3.0 try again later" and gave_up.attempts == 3
    assert all(r.failed_at is not None for r in rows.values())

    def failed_row(page, row):
        tr = page.locator(f"#failed-messages tr[data-message='{row.id}'][data-status=failed]")
        assert tr.locator(f"a[href='/members/{row.member}']").count() == 1
        return tr.inner_text()

    for lang, heading, label, refusal, used_up in (
        (
            "en",
            "Failed",
            "program error: this message could not be made or sent",
            "the mail server refused it",
            "gave up after 3 tries",
        ),
        (
            "th",
            "ส่งไม่สำเร็จ",
            "ข้อผิดพลาดของโปรแกรม สร้างหรือส่งข้อความนี้ไม่ได้",
            "เซิร์ฟเวอร์อีเมลปฏิเสธ",
            "เลิกส่งหลังจากลองส่ง 3 ครั้ง",
        ),
    ):
        page = sign_in_page(browser, console, lang=lang)
        try:
            page.goto(f"{console.url}/messages")
            assert page.inner_text("h2#failed") == heading
            text = failed_row(page, bug)
            assert label in text and "ValueError" in text and "welcome" in text, text
            # the times it was queued and failed: Buddhist era in Thai, ISO in English
            when, failed_at = text.split("\t")[4:6]
            if lang == "th":
                assert "bug:" not in text and "program error" not in text, text
                assert f"/{bug.created_at.year + 543} " in when, when
                assert f"/{bug.failed_at.year + 543} " in failed_at, failed_at
            else:
                assert "bug:" not in text and "ข้อผิดพลาด" not in text, text
                assert when.startswith(f"{bug.created_at.year}-"), when
                assert failed_at.startswith(f"{bug.failed_at.year}-"), failed_at
            assert f"{refusal} (550 5.1.1 no such user here)" in failed_row(page, bounce)
            text = failed_row(page, gave_up)
            assert f"{used_up} (451 4.3.0 try again later)" in text and "gave_up" not in text, text
            shot(page.locator("#failed-section"), f"console-messages-failed-{lang}")
        finally:
            page.context.close()
