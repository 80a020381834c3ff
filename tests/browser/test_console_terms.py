"""Membership terms, card types and partner-shop stamps in the console, in a real browser
(issue 13): renew an expired member (fee recorded), change a card type with a reason (it
shows in the ledger), enter a stamp card with its own date, preview and run a term close,
the terms page in Thai and English. Set ``PRIVCARD_SCREENSHOTS=docs`` (or a folder) to keep the screenshots.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from tests.browser.conftest import sign_in_page
from tests.browser.test_console_browser import balance, enrol, flash, submit
from tests.browser.web_support import shot


def uid() -> str:
    return "04" + uuid.uuid4().hex[:8].upper()


def test_renew_tier_and_stamp_date_on_the_member_page(admin_page, console):
    page = admin_page
    mid = enrol(page, console, "Term Student", uid(), group="U1")
    # a U1 member's rights end with this semester
    assert "ends with the semester" in page.inner_text("#term-card")
    assert page.inner_text("#valid-until").strip() != "—"
    assert "points earned in term" in page.inner_text("#privilege-basis")
    # rights ended yesterday: the page says expired; renewing records the fee
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    page.click("summary:has-text('Edit member')")
    page.fill("#edit-form input[name=valid_until]", yesterday)
    submit(page, "#edit-form button")
    assert "expired" in page.inner_text("#valid-until")
    submit(page, "#renew-button")
    assert "Membership renewed until" in flash(page) and "renewal fee 50 baht recorded" in flash(page)
    assert "expired" not in page.inner_text("#valid-until")
    page.click("summary:has-text('Cards')")
    assert "renewal" in page.inner_text("ul.fees") or "Renewal" in page.inner_text("ul.fees")

    # a card type changed by hand needs a reason, and shows in the ledger with it
    page.select_option("#tier-form select[name=tier]", "gold")
    page.click("#tier-form button")  # empty reason: the browser refuses to submit
    assert re.search(rf"/members/{mid}$", page.url)
    page.fill("#tier-form input[name=reason]", "library sponsor")
    submit(page, "#tier-form button")
    assert "Card type is now Gold card" in flash(page)
    row = page.locator("table.ledger tr", has_text="Card type changed")
    assert "Silver card → Gold card" in row.inner_text() and "library sponsor" in row.inner_text()
    assert row.locator(".xbtn").count() == 0  # a tier change is not voided

    # a partner-shop stamp card entered for the stamp's own date, by the programme's shop name
    page.select_option("#credit-activity", "partner_purchase")
    assert page.is_visible("#credit-form input[name=stamp_date]")
    page.select_option("select[name=shop]", "Oasis สาขา 1")
    stamp = date.today() - timedelta(days=5)
    page.fill("#credit-form input[name=stamp_date]", stamp.isoformat())
    before = balance(page)
    submit(page, "#credit-form button")
    assert "Credited 5 points" in flash(page), flash(page)
    assert balance(page) == before + 5
    row = page.locator("table.ledger tr", has_text="Oasis สาขา 1")
    assert f"{stamp.day:02d}/{stamp.month:02d}" in row.inner_text() or str(stamp.day) in row.inner_text()
    shot(page, "console-member-terms-en")


def test_terms_page_preview_and_close_in_english_and_thai(browser, console):
    page = sign_in_page(browser, console)
    try:
        mid = enrol(page, console, "Lapsing Reader", uid(), group="U1")
        page.click("summary:has-text('Edit member')")
        page.fill("#edit-form input[name=valid_until]", (date.today() - timedelta(days=3)).isoformat())
        submit(page, "#edit-form button")
        page.click("nav >> text=Terms")
        text = page.inner_text("main")
        assert "Membership terms" in text and "Card types" in text and "Term close" in text
        assert "ends with the semester" in page.inner_text("#groups")
        assert "points earned in the term" in page.inner_text("#basis")
        submit(page, "#term-close-form button[value='0']")
        assert "Would lapse" in page.inner_text("#term-report")
        assert "Lapsing Reader" in page.inner_text("#term-close")
        shot(page, "console-terms-en", full=True)
        page.once("dialog", lambda d: d.accept())
        submit(page, "#term-close-form button[value='1']")
        assert "Term close done" in flash(page)
        submit(page, "#term-close-form button[value='0']")
        assert "Lapsing Reader" not in page.inner_text("#term-close")  # closed once
        page.goto(f"{console.url}/members/{mid}")
        assert balance(page) == 250  # shipped rule: points are kept
        page.click("text=ไทย")
        page.goto(f"{console.url}/terms")
        text = page.inner_text("main")
        assert "อายุสมาชิกและประเภทบัตร" in text and "สิ้นสุดเมื่อจบภาคการศึกษา" in text
        assert "คะแนนที่ได้รับในภาค/ปีการศึกษานี้" in page.inner_text("#basis")
        assert "บัตรทอง" in page.inner_text("#tiers")
        shot(page, "console-terms-th", full=True)
        page.goto(f"{console.url}/members/{mid}")
        assert "ต่ออายุสมาชิก" in page.inner_text("#term-card") and "ประเภทบัตร" in page.inner_text("#tier-card")
        shot(page, "console-member-terms-th")
    finally:
        page.context.close()
