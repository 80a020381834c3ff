"""The kiosk against the real points server: every screen, in Thai and English.

One Mosquitto, one ``privcard server`` process on a fresh SQLite database, and one
real ``privcard kiosk`` process under Xvfb at 800×480. Cards are tapped through the
kiosk's ``stdin`` reader (the real reader thread) or the control hook's ``tap``
(same path); buttons are pressed with simulated touches. The tests run in file
order on the one kiosk, and take kiosk-<screen>-<lang>.png screenshots (into docs/screenshots/
with PRIVCARD_SCREENSHOTS=docs; see tests/ui/harness.py).
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.helpers import ServerProcess, close_store, library_today, open_service
from tests.ui.harness import running_kiosk

pytestmark = pytest.mark.ui

SILVER = "04A1B2C3D4E5F6"
GOLD = "04B0B1B2B3"
STAFF = "04CAFE0001"
STAFF2 = "04CAFE0002"  # locked out by the lock-out test
BLOCKED = "04DEAD0001"
EXPIRED = "04EEEE0001"
UNKNOWN = "04999999"
IDLE_TIMEOUT = 8


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("kiosk-db") / "privcard.db"
    svc = open_service(f"sqlite:///{path}")
    svc.devices.add("kiosk-lobby", "kiosk", location="Lobby")  # the server answers registered kiosks only
    silver = svc.members.add("กิ่งตฤทัย ศรีสุข", SILVER, group="U1", valid_until="2030-05-31")
    svc.points.award(SILVER, "entry", source="tap")  # stands in for a gate tap
    svc.points.award(SILVER, "pulinet_event", item="PULINET-2016")
    _, borrow = svc.points.award(SILVER, "borrow")
    svc.points.void(borrow.id, "keyed twice")
    gold = svc.members.add("Somchai Jaidee", GOLD, tier="gold", group="U3")
    svc.points.award(GOLD, "entry", source="tap")
    svc.points.award(GOLD, "borrow")
    for event in ("EBSCO-1", "Scopus-2"):
        svc.points.award(GOLD, "db_training", item=event)
    staff = svc.members.add("สมหญิง ผู้ใช้บริการ", STAFF, staff=True)
    svc.members.set(staff.id, pin="1234")
    staff2 = svc.members.add("Staff Two", STAFF2, staff=True)
    svc.members.set(staff2.id, pin="5678")
    svc.members.add("Blocked Person", BLOCKED)
    svc.members.block_card(BLOCKED, "reported lost")
    svc.members.add("Expired Person", EXPIRED, valid_until="2020-01-31")
    expected = {"silver": svc.ledger.balance(silver.id), "gold": svc.ledger.balance(gold.id)}
    close_store()
    return path, expected


@pytest.fixture(scope="module")
def server(db_path, broker, tmp_path_factory):
    srv = ServerProcess(f"sqlite:///{db_path[0]}", broker.url, log_dir=tmp_path_factory.mktemp("server-log"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kiosk(xvfb, broker, server):
    with running_kiosk(
        xvfb.display,
        broker.url,
        device_id="kiosk-lobby",
        lang="th",
        extra=["--idle-timeout", str(IDLE_TIMEOUT)],
    ) as k:
        yield k


def both_langs(kiosk, name):
    """Screenshot the current screen in Thai, toggle, English, toggle back; return English texts."""
    assert kiosk.state()["lang"] == "th"
    assert kiosk.layout_problems() == []
    kiosk.screenshot(f"kiosk-{name}-th")
    en = kiosk.toggle_lang("en")
    assert kiosk.layout_problems() == []
    kiosk.screenshot(f"kiosk-{name}-en")
    kiosk.toggle_lang("th")
    return en


def to_idle(kiosk):
    if kiosk.state()["screen"] != "idle":
        kiosk.tap(UNKNOWN)
        kiosk.wait_for("unknown")
        kiosk.press("btn_ok")
    return kiosk.wait_for("idle")


def test_idle_attract_screen(kiosk):
    t = kiosk.wait_for("idle")
    texts = " | ".join(t["texts"])
    assert "แตะบัตรเพื่อดูคะแนน" in texts and "Tap your card to see your points" in texts
    assert "ห้องสมุดมหาวิทยาลัย" in texts
    assert "เวลาให้บริการวันนี้ 08:00–22:00 น." in texts
    assert t["ids"]["idle_clock"] == time.strftime("%H:%M", time.gmtime(time.time() + 7 * 3600))
    assert f"พ.ศ. {library_today().year + 543}" in t["ids"]["idle_date"]
    en = both_langs(kiosk, "idle")
    assert en["ids"]["idle_prompt"] == "Tap your card" and en["ids"]["idle_hours"] == "Open today 08:00–22:00"


def test_member_screen_silver_through_the_reader(kiosk, db_path):
    kiosk.tap_reader(SILVER)  # a line on the stdin reader: the real reader thread
    t = kiosk.wait_for("member", timeout=5)
    ids = t["ids"]
    assert ids["member_name"] == "กิ่งตฤทัย ศรีสุข"
    assert ids["balance"] == f"{db_path[1]['silver']:,}" == "275"
    assert t["tier"] == "silver" and ids["card_tier"] == "บัตรเงิน"
    assert ids["earned"].startswith("วันนี้ +")
    texts = t["texts"]
    for expected in (
        "ยืมหนังสือ",
        "15 เล่ม / 30 วัน",
        "ตู้ฝากสัมภาระ",
        "3 วัน",
        "ห้องค้นคว้ากลุ่ม",
        "3 ชม./ครั้ง",
        "ส่วนลดค่าปรับ",
        "55 บาท",
    ):
        assert expected in texts, (expected, texts)
    assert ids["next_level"].startswith("อีก 25 คะแนน ถึง 300 คะแนน")
    assert ids["valid_until"] == "ใช้ได้ถึง 31/5/2573"
    assert 0 < t["progress"] < 1
    en = both_langs(kiosk, "member")
    assert en["ids"]["card_tier"] == "Silver card" and en["ids"]["balance"] == "275"
    assert "15 books / 30 days" in en["texts"] and "55 baht" in en["texts"]
    assert en["ids"]["next_level"].startswith("25 more points to 300")


def test_history_buddhist_era_and_voided(kiosk):
    kiosk.press("btn_history")
    t = kiosk.wait_for("history")
    rows = t["rows"]
    today = library_today()
    assert len(rows) == 5  # void, borrow, pulinet, entry, signup: newest first
    assert all(r["at"].startswith(f"{today.day}/{today.month}/{today.year + 543} ") for r in rows)
    assert rows[-1]["activity"] == "สมัครสมาชิกใหม่" and rows[-1]["points"] == "+250"
    voided = [r for r in rows if r["voided"]]
    assert len(voided) == 1 and voided[0]["status"] == "ยกเลิกแล้ว" and "ยืม" in voided[0]["activity"]
    assert any(r["points"] == "-5" for r in rows)
    assert any(f"{today.day}/{today.month}/{today.year + 543}" in text for text in t["texts"])  # drawn, not just data
    en = both_langs(kiosk, "history")
    assert en["rows"][0]["at"].endswith(str(today.year) + " " + en["rows"][0]["at"][-5:])
    assert any(r["status"] == "voided" for r in en["rows"])
    kiosk.press("btn_back")
    kiosk.wait_for("member")


def test_feedback_is_published_and_stored(kiosk, db_path):
    kiosk.press("btn_done")
    t = kiosk.wait_for("feedback")
    assert t["ids"]["feedback_title"] == "วันนี้ท่านพึงพอใจการใช้บริการเพียงใด"
    both_langs(kiosk, "feedback")
    kiosk.press("face_4")
    t = kiosk.texts()
    assert t["ids"]["feedback_title"] == "ขอบคุณสำหรับความคิดเห็น"
    deadline = time.monotonic() + 5
    rows = []
    while time.monotonic() < deadline and not rows:
        with sqlite3.connect(db_path[0]) as db:
            rows = db.execute("select rating from feedback").fetchall()
        time.sleep(0.1)
    assert rows == [(4,)]
    kiosk.wait_for("idle", timeout=5)  # thanks, then back to idle


def test_new_tap_replaces_the_member_at_once(kiosk, db_path):
    kiosk.tap(SILVER)
    assert kiosk.wait_for("member")["ids"]["member_name"] == "กิ่งตฤทัย ศรีสุข"
    kiosk.tap(GOLD)
    t = kiosk.wait_for("member")
    deadline = time.monotonic() + 3
    while t["ids"]["member_name"] != "Somchai Jaidee" and time.monotonic() < deadline:
        t = kiosk.texts()
    assert t["ids"]["member_name"] == "Somchai Jaidee" and t["tier"] == "gold"
    assert t["ids"]["card_tier"] == "บัตรทอง" and t["ids"]["balance"] == f"{db_path[1]['gold']:,}"
    assert not any("กิ่งตฤทัย" in text for text in t["texts"])
    kiosk.screenshot("kiosk-member-gold-th")


def test_timeout_back_to_idle_clears_the_patron(kiosk):
    kiosk.tap(GOLD)
    kiosk.wait_for("member")
    started = time.monotonic()
    kiosk.press("btn_history")  # a touch restarts the timer
    t = kiosk.wait_for("idle", timeout=IDLE_TIMEOUT + 3)
    waited = time.monotonic() - started
    assert IDLE_TIMEOUT - 0.5 <= waited <= IDLE_TIMEOUT + 2.5
    assert not any("Somchai" in text for text in t["texts"])


def test_unknown_card(kiosk):
    kiosk.tap(UNKNOWN)
    t = kiosk.wait_for("unknown")
    assert t["ids"]["msg_title"] == "ไม่พบบัตรนี้ในระบบ"
    assert "50 บาท = 250 คะแนน" in t["ids"]["msg_hint"]
    en = both_langs(kiosk, "unknown")
    assert "Fee 50 baht = 250 points" in en["ids"]["msg_hint"] and "counter" in en["ids"]["msg_body"]
    kiosk.press("btn_ok")
    kiosk.wait_for("idle")


def test_blocked_card(kiosk):
    kiosk.tap(BLOCKED)
    t = kiosk.wait_for("blocked")
    assert t["ids"]["msg_title"] == "บัตรนี้ถูกระงับการใช้งาน" and t["ids"]["msg_name"] == "Blocked Person"
    en = both_langs(kiosk, "blocked")
    assert en["ids"]["msg_title"] == "This card is blocked"


def test_expired_membership(kiosk):
    kiosk.tap(EXPIRED)
    t = kiosk.wait_for("expired")
    assert t["ids"]["msg_title"] == "สมาชิกภาพหมดอายุแล้ว"
    en = both_langs(kiosk, "expired")
    assert en["ids"]["msg_title"] == "Your membership has expired" and "Renew" in en["ids"]["msg_body"]
    kiosk.press("btn_ok")
    kiosk.wait_for("idle")


def test_staff_card_pin_device_info_and_reader_test(kiosk):
    kiosk.tap(SILVER)
    t = kiosk.wait_for("member")
    assert t["ids"]["btn_staff"] is None  # not a staff card: no staff button
    kiosk.tap(STAFF)
    t = kiosk.wait_for("member")
    deadline = time.monotonic() + 3
    while not t["ids"].get("btn_staff") and time.monotonic() < deadline:
        t = kiosk.texts()
    assert t["ids"]["member_name"] == "สมหญิง ผู้ใช้บริการ"
    kiosk.press("btn_staff")
    t = kiosk.wait_for("staff")
    for digit in "9999":
        kiosk.press(f"pin_{digit}")
    kiosk.press("btn_pin_ok")
    # the server checks it (the kiosk has no PIN nor hash): wrong, 4 tries left on this kiosk
    assert wait_pin_line(kiosk, "รหัส PIN ไม่ถูกต้อง ใส่ได้อีก 4 ครั้ง")
    for digit in "12":
        kiosk.press(f"pin_{digit}")
    assert kiosk.texts()["ids"]["pin_mask"] == "••"
    kiosk.screenshot("kiosk-staff-pin-th")
    kiosk.press("btn_lang")
    kiosk.screenshot("kiosk-staff-pin-en")
    kiosk.press("btn_lang")
    for digit in "34":
        kiosk.press(f"pin_{digit}")
    kiosk.press("btn_pin_ok")
    t = wait_unlocked(kiosk)  # the server's staff_unlocked, and only that, opens the device information
    texts = t["texts"]
    assert "kiosk-lobby" in texts and any("เชื่อมต่อแล้ว" in x for x in texts)
    assert any(x.startswith("stdin") and "ok" in x for x in texts)
    kiosk.press("btn_test_server")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any("มิลลิวินาที" in x for x in kiosk.texts()["texts"]):
        time.sleep(0.05)
    assert any("ตอบกลับ" in x and "มิลลิวินาที" in x for x in kiosk.texts()["texts"])
    kiosk.press("btn_reader_test")
    kiosk.tap_reader(GOLD)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and GOLD not in kiosk.texts()["ids"].get("reader_result", ""):
        time.sleep(0.05)
    assert GOLD in kiosk.texts()["ids"]["reader_result"]
    assert kiosk.state()["screen"] == "staff"  # a test read does not leave the staff screen
    both_langs(kiosk, "staff")
    kiosk.press("btn_exit")
    kiosk.wait_for("idle")


def wait_pin_line(kiosk, text, timeout=4.0):
    """Wait until the line under the PIN field says ``text`` (the server's verdict arrived)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kiosk.texts()["ids"].get("pin_error") == text:
            return True
        time.sleep(0.05)
    raise AssertionError(f"pin line {kiosk.texts()['ids'].get('pin_error')!r}, expected {text!r}")


def wait_unlocked(kiosk, timeout=4.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = kiosk.texts()
        if "kiosk-lobby" in t["texts"]:
            return t
        time.sleep(0.05)
    raise AssertionError(f"the staff screen did not unlock: {kiosk.texts()['texts']}")


def open_pin_pad(kiosk, uid):
    kiosk.tap(uid)
    t = kiosk.wait_for("member")
    deadline = time.monotonic() + 3
    while not t["ids"].get("btn_staff") and time.monotonic() < deadline:
        t = kiosk.texts()
    kiosk.press("btn_staff")
    kiosk.wait_for("staff")


def type_pin(kiosk, pin):
    for digit in pin:
        kiosk.press(f"pin_{digit}")
    kiosk.press("btn_pin_ok")


def test_staff_pin_lock_out_after_five_wrong_pins(kiosk, server):
    """5 wrong PINs: the server locks this card on this kiosk for 15 minutes; the right PIN is refused."""
    open_pin_pad(kiosk, STAFF2)
    for left in (4, 3, 2, 1):
        type_pin(kiosk, "0000")
        wait_pin_line(kiosk, f"รหัส PIN ไม่ถูกต้อง ใส่ได้อีก {left} ครั้ง")
    type_pin(kiosk, "0000")
    locked_th = "ใส่รหัส PIN ผิด 5 ครั้ง บัตรนี้ถูกล็อกที่เครื่องนี้ กรุณารออีก 15 นาที"
    wait_pin_line(kiosk, locked_th)
    assert kiosk.layout_problems() == []
    kiosk.screenshot("kiosk-staff-pin-locked-th")
    kiosk.press("btn_lang")
    assert kiosk.texts()["ids"]["pin_error"] == ("5 wrong PINs: this card is locked on this kiosk. Try again in 15 min")
    assert kiosk.layout_problems() == []
    kiosk.screenshot("kiosk-staff-pin-locked-en")
    kiosk.press("btn_lang")
    # a new tap forgets the kiosk's own memory of the lock: the server still refuses the right PIN
    kiosk.press("btn_exit")
    kiosk.wait_for("idle")
    open_pin_pad(kiosk, STAFF2)
    type_pin(kiosk, "5678")
    wait_pin_line(kiosk, locked_th)
    assert "kiosk-lobby" not in kiosk.texts()["texts"]
    kiosk.press("btn_exit")
    kiosk.wait_for("idle")
    assert "scrypt" not in server.log() and "5678" not in server.log()


def test_staff_pin_with_the_server_away_says_unreachable_and_stays_locked(kiosk, server):
    open_pin_pad(kiosk, STAFF)
    server.stop()
    try:
        type_pin(kiosk, "1234")
        wait_pin_line(kiosk, "ติดต่อเซิร์ฟเวอร์ไม่ได้ จึงตรวจรหัส PIN ไม่ได้ กรุณาลองใหม่")
        assert "kiosk-lobby" not in kiosk.texts()["texts"]  # no offline unlock
        kiosk.press("btn_lang")
        assert kiosk.texts()["ids"]["pin_error"] == "Server unreachable: the PIN cannot be checked. Please try again"
        kiosk.press("btn_lang")
    finally:
        server.start()
    kiosk.press("btn_exit")
    kiosk.wait_for("idle")


def test_service_unavailable_then_recovery(kiosk, server):
    server.stop()
    started = time.monotonic()
    kiosk.tap(SILVER)
    kiosk.wait_for("loading", timeout=1)
    t = kiosk.wait_for("unavailable", timeout=4)
    waited = time.monotonic() - started
    assert 1.8 <= waited <= 3.5, waited
    assert t["ids"]["msg_title"] == "ขออภัย ระบบไม่พร้อมให้บริการชั่วคราว"
    assert t["ids"]["msg_hint"] == "กำลังลองเชื่อมต่อใหม่…"
    both_langs(kiosk, "unavailable")  # the screen stays responsive while the server is away
    server.start()
    t = kiosk.wait_for("member", timeout=IDLE_TIMEOUT)  # background retry finds the server again
    assert t["ids"]["member_name"] == "กิ่งตฤทัย ศรีสุข" and t["ids"]["balance"] == "275"
