"""The console's library-system (ILS) pages in a real browser, against a real
``privcard server --http --ils URL`` and a test ILS speaking real SIP2 in its own
process (:mod:`tests.sip2_ils`): the patron id in the member forms, the member page's
ILS panel (fines, items, flags; "not reachable" when the ILS is down), a fine discount
confirmed, refused with the ILS's message, and left pending when the ILS dies, then
settled once from the pending payments page — in Thai and English.

Screenshots console-member-ils(-en).png and console-ils-pending(-en).png go to
docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs, else to a temporary folder.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.browser.conftest import sign_in_page
from tests.browser.web_support import ADMIN, STAFF, ConsoleServer, add_staff_cli, shot
from tests.sip2_ils import start_ils

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ils(tmp_path_factory):
    """The test ILS: P100 owes 35 baht and has an overdue book, P200 owes nothing."""
    with start_ils(tmp_path_factory.mktemp("ils")) as server:
        yield server


@pytest.fixture(scope="module")
def console(broker, ils, tmp_path_factory):
    """The whole server with the console, linked to the test ILS."""
    tmp = tmp_path_factory.mktemp("console-ils")
    db_url = f"sqlite:///{tmp / 'privcard.db'}"
    add_staff_cli(db_url, ADMIN[0], "admin", ADMIN[1])
    add_staff_cli(db_url, STAFF[0], "staff", STAFF[1])
    # the background retry a day away: what settles a pending payment here is "Settle now";
    # a lost answer is checked as soon as it is asked to be (recheck_after_s 0)
    config = tmp / "library.toml"
    config.write_text("[ils]\nretry_interval_s = 86400\nrecheck_after_s = 0\n", encoding="utf-8")
    srv = ConsoleServer(db_url, broker.url, tmp, extra=("--ils", ils.url, "--config", str(config))).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def page(browser, console):
    p = sign_in_page(browser, console)
    yield p
    p.context.close()


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def flash(page) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def enrol(page, console, name: str, patron_id: str = "") -> int:
    """Enrol through the form, with the ILS's patron id; the member id."""
    page.goto(f"{console.url}/members")
    page.fill("form.stack input[name=name]", name)
    page.fill("form.stack input[name=card]", "04" + uuid.uuid4().hex[:8].upper())
    page.fill("form.stack input[name=patron_id]", patron_id)
    submit(page, "form.stack button[type=submit] >> nth=-1")
    page.wait_for_url(re.compile(r"/members/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def new_patron(ils, pid: str, fines: float = 35.0) -> str:
    """A patron like P100 (fines, one overdue book) under a new id: a patron id belongs to one member."""
    ils.update(lambda s: s["patrons"].__setitem__(pid, {**s["patrons"]["P100"], "fines": fines}))
    return pid


def redeem_fine(page, points: int) -> None:
    page.select_option("#redeem-reward", "fine_discount")
    page.fill("#redeem-form input[name=points]", str(points))
    submit(page, "#redeem-form button")


def test_member_page_shows_what_the_ils_says_in_english_and_thai(page, console, ils):
    mid = enrol(page, console, "สมชาย ใจดี", "P100")
    assert page.inner_text("#patron-id") == "P100"
    panel = page.inner_text("#ils-panel")
    assert "Library system (ILS)" in panel
    assert page.inner_text("#ils-fines") == "35.00 baht"
    assert "valid" in panel and "allowed" in panel
    assert page.locator("#ils-flags li").all_inner_texts() == ["too many items overdue"]
    shot(page, "console-member-ils-en")
    page.goto(f"{console.url}/lang/th?next=/members/{mid}")
    assert page.inner_text("#ils-fines") == "35.00 บาท"
    assert "ระบบห้องสมุด (ILS)" in page.inner_text("#ils-panel")
    assert page.locator("#ils-flags li").all_inner_texts() == ["มีรายการเกินกำหนดส่งมากเกินไป"]
    assert "ชำระผ่าน ILS" in page.inner_text("nav.main")  # the pending page is linked when an ILS is configured
    shot(page, "console-member-ils")

    # the ILS blocks the patron: the panel says so, with the flags in words
    ils.update(lambda s: s["patrons"]["P100"].update(blocked=True))
    try:
        page.goto(f"{console.url}/lang/en?next=/members/{mid}")
        assert "blocked" in page.inner_text("#ils-panel")
        flags = page.locator("#ils-flags li").all_inner_texts()
        assert "may not borrow" in flags and "may not renew" in flags
    finally:
        ils.update(lambda s: s["patrons"]["P100"].update(blocked=False))


def test_no_panel_without_a_patron_id_and_the_patron_id_can_be_set(page, console):
    mid = enrol(page, console, "Jane Reader")
    assert page.locator("#ils-panel").count() == 0 and page.inner_text("#patron-id") == "—"
    page.click("summary:has-text('Edit member')")
    page.fill("#edit-form input[name=patron_id]", "P200")
    submit(page, "#edit-form button")
    assert "Member saved." in flash(page)
    assert page.inner_text("#patron-id") == "P200"
    assert page.inner_text("#ils-fines") == "0.00 baht"
    page.goto(f"{console.url}/members/{mid}")
    page.click("summary:has-text('Edit member')")
    page.fill("#edit-form input[name=patron_id]", "")
    submit(page, "#edit-form button")
    assert page.locator("#ils-panel").count() == 0  # cleared


def test_fine_discount_confirmed_refused_pending_then_settled_once(page, console, ils):
    pid = new_patron(ils, "P101")
    mid = enrol(page, console, "Malee Rakdee", pid)
    before = float(ils.fines(pid))
    start = int(page.inner_text("#balance"))

    redeem_fine(page, 25)  # 5 baht
    assert "The library system confirmed the payment" in flash(page), flash(page)
    assert int(page.inner_text("#balance")) == start - 25
    assert float(ils.fines(pid)) == pytest.approx(before - 5)
    paid = len(ils.payments())

    ils.update(refuse_fee_paid="Cashier closed: pay at the circulation desk")
    try:
        redeem_fine(page, 25)
        text = flash(page)
        assert "refused" in text and "Cashier closed: pay at the circulation desk" in text, text
        assert int(page.inner_text("#balance")) == start - 25  # the points came back
    finally:
        ils.update(refuse_fee_paid=False)

    ils.fault("die_on_37")  # the ILS dies on the next Fee Paid, before recording it
    redeem_fine(page, 25)
    assert "pending" in flash(page), flash(page)
    ils.wait_exit()
    page.goto(f"{console.url}/members/{mid}")
    assert page.inner_text("#ils-state") == "library system not reachable"

    page.goto(f"{console.url}/ils/pending")
    rows = page.locator("#ils-pending tbody tr")
    assert rows.count() == 1
    bk = rows.locator("td:nth-child(7)").inner_text()
    assert pid in rows.inner_text() and "5.00" in rows.inner_text()
    shot(page, "console-ils-pending-en")
    page.goto(f"{console.url}/lang/th?next=/ils/pending")
    assert "การชำระค่าปรับที่รอระบบห้องสมุด" in page.inner_text("h1")
    shot(page, "console-ils-pending")

    ils.restart()
    submit(page, "#settle-form button")
    assert "ยืนยัน 1 รายการ" in flash(page), flash(page)
    assert page.locator("#ils-pending").count() == 0 and page.locator("#ils-none").count() == 1
    assert [p["bk"] for p in ils.payments(bk)] == [bk]  # paid exactly once
    assert len(ils.payments()) == paid + 1
    page.goto(f"{console.url}/lang/en?next=/members/{mid}")
    assert int(page.inner_text("#balance")) == start - 50


def test_json_api_patron_pending_settle_and_openapi(page, console, ils):
    pid = new_patron(ils, "P102", fines=20.0)
    mid = enrol(page, console, "Api Patron", pid)
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    r = page.request.get(f"{console.url}/api/members/{mid}/ils")
    assert r.status == 200, r.text()
    body = r.json()
    assert body["state"] == "ok" and body["patron_id"] == pid and body["valid"] is True
    assert body["fines_baht"] == pytest.approx(20.0)
    assert body["flags"] == ["too_many_items_overdue"] and body["overdue"] == 1

    r = page.request.patch(f"{console.url}/api/members/{mid}", data={"patron_id": None}, headers={"X-CSRFToken": csrf})
    assert r.status == 200, r.text()
    assert page.request.get(f"{console.url}/api/members/{mid}/ils").status == 400  # no patron id now
    r = page.request.patch(f"{console.url}/api/members/{mid}", data={"patron_id": pid}, headers={"X-CSRFToken": csrf})
    assert r.status == 200, r.text()

    r = page.request.get(f"{console.url}/api/ils/pending")
    assert r.status == 200 and r.json()["pending"] == []
    assert page.request.post(f"{console.url}/api/ils/settle").status == 400  # no CSRF token: refused
    r = page.request.post(f"{console.url}/api/ils/settle", headers={"X-CSRFToken": csrf})
    assert r.status == 200, r.text()
    assert r.json() == {"results": [], "confirmed": 0, "refused": 0, "pending": 0}

    ils.kill()
    try:
        r = page.request.get(f"{console.url}/api/members/{mid}/ils")
        assert r.status == 503 and r.json()["state"] == "unreachable"
    finally:
        ils.restart()

    paths = page.request.get(f"{console.url}/api/openapi.json").json()["paths"]
    assert {"/members/{ref}/ils", "/ils/pending", "/ils/settle"} <= set(paths)
    assert (
        "patron_id"
        in paths["/members/{ref}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )


def test_a_payment_the_fines_cannot_tell_is_resolved_from_the_pending_page(page, console, ils):
    """An ILS that pays every 37 (Koha): a lost answer, then a fine added meanwhile — "Settle now"
    sends nothing and the row says why; staff mark it not paid and the points come back, once."""
    pid = new_patron(ils, "P104", fines=35.0)
    mid = enrol(page, console, "Lost Answer", pid)
    start = int(page.inner_text("#balance"))
    ils.update(dedupe_bk=False)
    try:
        ils.fault("silent:38")  # paid in the ILS, its answer lost
        redeem_fine(page, 25)
        assert "pending" in flash(page), flash(page)
        ils.update(lambda s: s["patrons"][pid].update(fines=60.0))  # a new fine on top
        page.goto(f"{console.url}/ils/pending")
        submit(page, "#settle-form button")
        row = page.locator(f"#ils-pending tbody tr:has-text('{pid}')")
        assert "60.00" in row.inner_text() and "ils resolve" in row.inner_text()
        bk = row.locator("td:nth-child(7)").inner_text()
        assert ils.state()["fee_paid_log"].count(bk) == 1  # not sent again
        page.goto(f"{console.url}/lang/th?next=/ils/pending")
        row = page.locator(f"#ils-pending tbody tr:has-text('{pid}')")
        assert row.locator("button[data-paid='0']").inner_text() == "ไม่ได้ชำระ"
        page.once("dialog", lambda d: d.accept())
        with page.expect_navigation():
            row.locator("button[data-paid='0']").click()
        assert f"บันทึกแล้วว่า {bk} ไม่ได้ชำระ" in flash(page), flash(page)
        assert page.locator(f"#ils-pending tbody tr:has-text('{pid}')").count() == 0
        page.goto(f"{console.url}/lang/en?next=/members/{mid}")
        assert int(page.inner_text("#balance")) == start  # the 25 points are back
        csrf = page.get_attribute("meta[name=csrf-token]", "content")
        r = page.request.post(
            f"{console.url}/api/ils/resolve", data={"transaction": bk, "paid": True}, headers={"X-CSRFToken": csrf}
        )
        assert r.status == 400 and "already refused" in r.text(), r.text()
        r = page.request.post(
            f"{console.url}/api/ils/resolve", data={"transaction": bk, "paid": "yes"}, headers={"X-CSRFToken": csrf}
        )
        assert r.status == 400 and "paid" in r.text()
        assert int(page.inner_text("#balance")) == start
    finally:
        ils.update(dedupe_bk=True)


def test_a_payment_reversed_in_the_ils_gives_its_points_back_from_the_void_page(page, console, ils):
    """A confirmed fine discount cannot be voided; when staff reversed the payment in the ILS by
    hand, its ✕ leads to "reversed in the library system", which gives the points back once."""
    pid = new_patron(ils, "P105", fines=35.0)
    mid = enrol(page, console, "Reversed Payment", pid)
    start = int(page.inner_text("#balance"))
    redeem_fine(page, 50)  # 10 baht
    assert "The library system confirmed the payment" in flash(page), flash(page)
    entry = page.locator("section.ledger-card table.ledger tbody tr").first.get_attribute("data-entry")
    page.goto(f"{console.url}/members/{mid}/entries/{entry}/void")
    assert "cannot be voided" in page.inner_text("#ils-paid")
    assert page.locator("#void-form").count() == 0 and page.locator("#ils-reverse-form").count() == 1
    page.goto(f"{console.url}/lang/th?next=/members/{mid}/entries/{entry}/void")
    assert "ยกเลิกรายการไม่ได้" in page.inner_text("#ils-paid")
    page.fill("#ils-reverse-form input[name=reason]", "ยกเลิกค่าปรับที่เคาน์เตอร์ คืนเงินใน Koha แล้ว")
    shot(page, "console-ils-reverse")
    submit(page, "#ils-reverse-form button[type=submit]")
    assert "คืน 50 คะแนนแล้ว" in flash(page), flash(page)
    page.goto(f"{console.url}/lang/en?next=/members/{mid}")
    assert int(page.inner_text("#balance")) == start
    bk = ils.payments()[-1]["bk"]
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    r = page.request.post(
        f"{console.url}/api/ils/reversed", data={"transaction": bk, "reason": "again"}, headers={"X-CSRFToken": csrf}
    )
    assert r.status == 400 and "already reversed" in r.text(), r.text()
    r = page.request.post(f"{console.url}/api/ils/reversed", data={"transaction": bk}, headers={"X-CSRFToken": csrf})
    assert r.status == 400 and "reason" in r.text(), r.text()
    assert int(page.inner_text("#balance")) == start
    assert "/ils/reversed" in page.request.get(f"{console.url}/api/openapi.json").json()["paths"]


def test_every_ils_word_the_console_shows_has_thai():
    """The flags' and outcomes' words are looked up in tables, so the catalogue scan does not see them."""
    from server import catalogue
    from server.ils.base import PATRON_FLAGS
    from server.web import views

    assert set(views.ILS_FLAGS) == set(PATRON_FLAGS)  # every flag the ILS can set has words
    for text in [*views.ILS_FLAGS.values(), *views.ILS_OUTCOMES.values()]:
        assert catalogue.TH.get(text, text) != text, text
