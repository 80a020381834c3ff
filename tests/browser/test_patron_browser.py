"""The patron's own page in Chromium against a real ``privcard server --http --ils --smtp``,
a test ILS speaking real SIP2 (:mod:`tests.sip2_ils`) and a real SMTP server
(:mod:`tests.smtp_server`): on a phone (390x844, JavaScript off: the basics need none)
and on a desktop, in Thai and English; sign-in with the ILS PIN, by the e-mailed link,
lock-out after five wrong PINs.

Screenshots ``patron-*.png`` go to docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs,
else to a temporary folder.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.web_support import ADMIN, ConsoleServer, add_staff_cli, shot
from tests.helpers import close_store, open_service
from tests.patron_support import LINK_RE
from tests.sip2_ils import start_ils
from tests.smtp_server import start_smtp, text_of

REPO = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
EVIL = "Jane <script>alert(1)</script> Reader"


@pytest.fixture(scope="module")
def world(broker, tmp_path_factory):
    """The server with the ILS and SMTP linked, and three members."""
    tmp = tmp_path_factory.mktemp("patron")
    ils = start_ils(tmp)
    smtp = start_smtp(tmp)
    db_url = f"sqlite:///{tmp / 'privcard.db'}"
    add_staff_cli(db_url, ADMIN[0], "admin", ADMIN[1])
    svc = open_service(db_url)
    somchai = svc.members.add("สมชาย ใจดี", "04A1B2C3D4", patron_id="P100", email="somchai@example.org", group="U1")
    for i in range(4):
        svc.points.award(somchai.id, "volunteer", item=f"shelving-{i}", actor="web:alice")
    svc.points.award(somchai.id, "db_training", item="Scopus", actor="web:alice")
    svc.messages.set_preferences(somchai, consent_ranking=True)
    jane = svc.members.add(EVIL, "04C0FFEE01", email="jane@example.org")
    svc.patrons.set_pin(jane.id, "2468", actor="web:alice")
    locked = svc.members.add("Locked Out", "04DEAD0001")
    svc.patrons.set_pin(locked.id, "1111", actor="web:alice")
    today = svc.today()
    svc.campaigns.add(
        {
            "code": "exam_week",
            "th": "สัปดาห์สอบ คะแนนสองเท่า",
            "en": "Exam week: double points",
            "kind": "multiplier",
            "multiplier": "2",
            "starts": f"{today - timedelta(days=1)} 00:00",
            "ends": f"{today + timedelta(days=6)} 23:59",
        },
        actor="web:alice",
    )
    close_store()
    config = tmp / "library.toml"
    srv = ConsoleServer(db_url, broker.url, tmp, extra=("--ils", ils.url, "--smtp", smtp.url, "--config", str(config)))
    config.write_text(f'[mail]\npublic_url = "{srv.url}"\nrate_per_second = 50\n', encoding="utf-8")
    srv.start()
    try:
        yield {"srv": srv, "ils": ils, "smtp": smtp}
    finally:
        srv.stop()
        smtp.stop()
        ils.close()


def context(browser, viewport, *, js: bool = True):
    ctx = browser.new_context(viewport=viewport, java_script_enabled=js, device_scale_factor=1)
    ctx.set_default_timeout(15000)
    return ctx


def fits(page) -> None:
    """Nothing wider than the screen (no sideways scrolling on a phone)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def sign_in(page, url: str, card: str, pin: str) -> None:
    page.goto(f"{url}/me/")
    page.fill("#card", card)
    page.fill("#pin", pin)
    submit(page, "#pin-signin button[type=submit]")


def test_phone_ils_pin_in_thai_then_english_without_javascript(browser, world):
    url = world["srv"].url
    ctx = context(browser, PHONE, js=False)
    page = ctx.new_page()
    page.goto(f"{url}/me/")
    assert page.url.endswith("/me/signin")
    assert page.locator("html").get_attribute("lang") == "th"
    assert "เข้าสู่ระบบด้วยหมายเลขบัตรและรหัส PIN" in page.inner_text("main")
    fits(page)
    shot(page, "patron-signin")

    sign_in(page, url, "P100", "1234")  # the ILS checks the PIN (63 with AD, its CQ)
    assert page.url.endswith("/me/")
    main = page.inner_text("main")
    assert "สวัสดี สมชาย ใจดี" in main
    assert "ค่าปรับค้างชำระ: 35.00 บาท" in main  # fines owed, from the ILS
    assert "สัปดาห์สอบ คะแนนสองเท่า" in main  # the running promotion
    assert "อันดับของฉันในภาคนี้" in main  # ranking: consented
    assert re.search(r"\d{1,2}/\d{1,2}/25\d\d", main)  # Buddhist-era dates
    fits(page)
    shot(page, "patron-home")

    submit(page, "nav.tabs a[href$='/me/history']")
    assert "ประวัติ" in page.inner_text("main") and page.locator("ol.entries li").count() == 6
    fits(page)
    shot(page, "patron-history")

    submit(page, "header .langs a[lang=en]")
    assert page.url.endswith("/me/history")
    assert "History" in page.inner_text("main")
    submit(page, "nav.tabs a[href$='/me/']")
    main = page.inner_text("main")
    assert "Fines owed: 35.00 baht" in main and "Exam week: double points" in main
    fits(page)
    shot(page, "patron-home-en")

    submit(page, "nav.tabs a[href$='/me/settings']")
    page.check("input[name=consent_statement]")
    submit(page, "#settings button[type=submit]")
    assert "Saved." in page.inner_text("main")
    assert page.is_checked("input[name=consent_statement]")
    fits(page)
    shot(page, "patron-settings-en")

    submit(page, "header form.signout button")
    assert page.url.endswith("/me/signin?bye=1") and "You are signed out." in page.inner_text("main")
    page.goto(f"{url}/me/")
    assert page.url.endswith("/me/signin")  # the session ended
    assert "AD1234" not in world["srv"].proc.log() and "|AD" not in world["srv"].proc.log()  # no PIN logged
    ctx.close()


def test_desktop_sign_in_by_emailed_link_shows_the_name_escaped(browser, world):
    url, smtp = world["srv"].url, world["smtp"]
    ctx = context(browser, DESKTOP)
    page = ctx.new_page()
    page.goto(f"{url}/me/signin")
    fits(page)
    shot(page, "patron-signin-desktop")
    before = len(smtp.messages())
    page.fill("#link-card", "04C0FFEE01")
    submit(page, "#link-signin button[type=submit]")
    assert "โปรดตรวจอีเมลของคุณ" in page.inner_text("main")
    mail = [m for m in smtp.wait_for(before + 1) if "jane@example.org" in str(m["To"])][-1]
    link = LINK_RE.search(text_of(mail)).group(0)
    assert link.startswith(f"{url}/me/link/")
    phone = context(browser, PHONE).new_page()  # opened on the phone, where the mail is read
    phone.goto(link)
    assert "ลิงก์นี้ใช้เข้าสู่ระบบได้ครั้งเดียว" in phone.inner_text("main")
    submit(phone, "#link-confirm button")
    assert phone.url.endswith("/me/")
    assert EVIL in phone.inner_text("h1")  # shown as text...
    assert phone.evaluate("document.querySelectorAll('main script').length") == 0  # ...never run as markup
    phone.context.close()
    # the same link a second time: refused
    page.goto(link)
    submit(page, "#link-confirm button")
    assert "ถูกใช้แล้วหรือหมดอายุ" in page.inner_text("main")
    log = world["srv"].proc.log()
    assert "GET /me/link/***" in log and LINK_RE.search(link).group(1) not in log  # no token in the access log
    # the desktop view of a signed-in page, in Thai
    sign_in(page, url, "04C0FFEE01", "2468")
    assert page.url.endswith("/me/")
    fits(page)
    shot(page, "patron-home-desktop")
    ctx.close()


def test_five_wrong_pins_lock_the_card(browser, world):
    url = world["srv"].url
    ctx = context(browser, PHONE)
    page = ctx.new_page()
    page.goto(f"{url}/me/lang/en?next=/me/signin")
    for i in range(5):
        sign_in(page, url, "04DEAD0001", f"90{i}9")
    assert "signing in with this card is locked until" in page.inner_text("#signin-error")
    sign_in(page, url, "04DEAD0001", "1111")  # the right PIN waits too
    assert "locked until" in page.inner_text("#signin-error")
    fits(page)
    shot(page, "patron-locked-en")
    ctx.close()
