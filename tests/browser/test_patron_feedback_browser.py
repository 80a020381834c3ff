""" "My feedback" on the patron's own page in Chromium, on a phone (390x844, JavaScript off),
against a real ``privcard server --http``: the patron sends a book request backed with points
(Thai and HTML in the text), staff answer it with ``privcard admin feedback answer`` and
decline it (the points come back), the patron reads the answer, escaped, in Thai and English.

Screenshots ``patron-feedback-th.png`` / ``patron-feedback-en.png`` go to docs/screenshots/
with PRIVCARD_SCREENSHOTS=docs, else to a temporary folder.
"""

from __future__ import annotations

import pytest

from tests.browser.test_patron_browser import PHONE, context, fits, sign_in, submit
from tests.browser.web_support import ADMIN, ConsoleServer, add_staff_cli
from tests.helpers import close_store, open_service, run_admin

CARD = "04FEED0001"
TEXT = "ขอให้ซื้อหนังสือ <b>Dune</b> ฉบับแปลไทย"
ANSWER = "<i>ขออภัย</i> หนังสือเล่มนี้หมดพิมพ์ คืนคะแนนให้แล้ว"


@pytest.fixture(scope="module")
def world(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("patron-feedback")
    db_url = f"sqlite:///{tmp / 'privcard.db'}"
    add_staff_cli(db_url, ADMIN[0], "admin", ADMIN[1])
    svc = open_service(db_url)
    m = svc.members.add("วิภาวรรณ ทองมา", CARD)
    svc.patrons.set_pin(m.id, "2468", actor="web:alice")
    close_store()
    srv = ConsoleServer(db_url, broker.url, tmp).start()
    try:
        yield {"srv": srv, "db": db_url}
    finally:
        srv.stop()


def test_phone_send_a_book_request_read_the_answer(browser, world):
    url = world["srv"].url
    ctx = context(browser, PHONE, js=False)
    page = ctx.new_page()
    try:
        sign_in(page, url, CARD, "2468")
        page.select_option("#fb-category", "book_request")
        page.fill("#fb-text", TEXT)
        page.check("#feedback-form input[name=pledge]")
        submit(page, "#feedback-form button[type=submit]")
        assert "ห้องสมุดได้รับข้อความของท่านแล้ว" in page.inner_text("#feedback")
        item = page.locator("#my-feedback li").first
        assert TEXT in item.inner_text() and "สนับสนุน 100 คะแนน" in item.inner_text()
        code, rows = run_admin(world["db"], "feedback", "list")
        assert code == 0 and rows[0]["channel"] == "patron_page" and rows[0]["pledge_points"] == 100
        code, d = run_admin(
            world["db"], "feedback", "answer", str(rows[0]["id"]), "--text", ANSWER, "--decision", "declined"
        )
        assert code == 0 and d["decision"] == "declined", d
        page.goto(f"{url}/me/")
        item = page.locator("#my-feedback li").first
        assert ANSWER in item.inner_text() and "ตอบแล้ว" in item.inner_text()
        assert "ไม่จัดซื้อ (คืนคะแนน)" in item.inner_text()
        assert page.locator("#my-feedback b, #my-feedback i").count() == 0  # markup shown as text
        fits(page)
        page.locator("#feedback").screenshot(path=str(_path("patron-feedback-th")))
        page.goto(f"{url}/me/lang/en")
        page.goto(f"{url}/me/")
        item = page.locator("#my-feedback li").first
        assert "Answered" in item.inner_text() and "Declined (points given back)" in item.inner_text()
        fits(page)
        page.locator("#feedback").screenshot(path=str(_path("patron-feedback-en")))
    finally:
        ctx.close()


def _path(name: str):
    from tests.browser.web_support import screenshot_dir

    return screenshot_dir() / f"{name}.png"
