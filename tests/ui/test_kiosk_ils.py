"""The kiosk shows the fines the library system (ILS) reports, from the real server.

A test ILS speaking real SIP2 runs as its own process (:mod:`tests.sip2_ils`); the real
``privcard server --ils URL`` asks it for the member's fines while it answers the
kiosk's query; the real kiosk runs under Xvfb. P100 owes 35 baht (175 points at the
programme's 5 points a baht), P200 owes nothing, a member without a patron id sees no
fines line, and with the ILS slow or gone the kiosk still shows the member at once and
says, quietly, that the library system is not reachable. Writes kiosk-fines.png (Thai)
and kiosk-fines-en.png (docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs).
"""

from __future__ import annotations

import time

import pytest

from tests.helpers import ServerProcess, close_store, open_service
from tests.sip2_ils import start_ils
from tests.ui.harness import running_kiosk

pytestmark = pytest.mark.ui

DEVICE = "kiosk-ils"
OWES = "04F1F2F3F4F5F6"  # P100: 35 baht
CLEAR = "04F1F2F3F4"  # P200: nothing owed
NO_PATRON = "04F1F2F3F5"  # no patron id
SLOW = "04F1F2F3F6"  # SLOW1: the test ILS takes 5 s to answer
UNKNOWN = "04999999"


@pytest.fixture(scope="module")
def ils(tmp_path_factory):
    with start_ils(tmp_path_factory.mktemp("ils")) as server:
        yield server


@pytest.fixture(scope="module")
def server(broker, ils, tmp_path_factory):
    work = tmp_path_factory.mktemp("kiosk-ils")
    db = f"sqlite:///{work / 'privcard.db'}"
    svc = open_service(db)
    svc.devices.add(DEVICE, "kiosk", location="Lobby")
    svc.members.add("กิ่งตฤทัย ศรีสุข", OWES, valid_until="2030-05-31", patron_id="P100")
    svc.members.add("Jane Reader", CLEAR, patron_id="P200")
    svc.members.add("Somchai Jaidee", NO_PATRON)
    svc.members.add("Slow Patron", SLOW, patron_id="SLOW1")
    close_store()
    srv = ServerProcess(db, broker.url, log_dir=work, extra_args=("--ils", ils.url))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kiosk(xvfb, broker, server):
    with running_kiosk(xvfb.display, broker.url, device_id=DEVICE, lang="th", extra=["--idle-timeout", "600"]) as k:
        yield k


def show(kiosk, card: str) -> dict:
    """Tap ``card`` and return the member screen's texts (the previous patron replaced)."""
    kiosk.tap(card)
    deadline = time.monotonic() + 5
    t = kiosk.wait_for("member")
    while time.monotonic() < deadline and t["ids"].get("card_number", "").split()[1:2] != [card[-4:]]:
        time.sleep(0.05)
        t = kiosk.texts()
    return t


def test_fines_owed_and_the_points_that_clear_them(kiosk):
    t = show(kiosk, OWES)
    assert t["ids"]["fines"] == "ค่าปรับค้างชำระ 35 บาท — ใช้ 175 คะแนน", t["ids"]
    assert kiosk.layout_problems() == []
    kiosk.screenshot("kiosk-fines")
    kiosk.press("btn_lang")
    en = kiosk.texts()
    assert en["ids"]["fines"] == "Fines owed: 35 baht — use 175 points"
    assert kiosk.layout_problems() == []
    kiosk.screenshot("kiosk-fines-en")
    kiosk.press("btn_lang")


def test_no_fines_and_no_patron_id(kiosk):
    assert show(kiosk, CLEAR)["ids"]["fines"] == "ไม่มีค่าปรับค้างชำระ"
    assert not show(kiosk, NO_PATRON)["ids"]["fines"]  # no ILS line at all (hidden)


def test_the_fines_follow_the_ils(kiosk, ils):
    ils.update(lambda s: s["patrons"]["P100"].update(fines=12.5))
    try:
        assert show(kiosk, OWES)["ids"]["fines"] == "ค่าปรับค้างชำระ 12.50 บาท — ใช้ 75 คะแนน"  # 3 steps of 5 baht
    finally:
        ils.update(lambda s: s["patrons"]["P100"].update(fines=35.0))


def test_a_slow_ils_does_not_hold_the_answer(kiosk):
    started = time.monotonic()
    t = show(kiosk, SLOW)
    took = time.monotonic() - started
    assert t["ids"]["member_name"] == "Slow Patron"
    assert t["ids"]["fines"] == "ระบบห้องสมุดไม่ตอบสนอง"
    assert took < 4, f"the member screen waited {took:.1f} s for a 5 s ILS"


def test_ils_gone_member_still_shown_and_said_quietly(kiosk, ils):
    # first the fines again (the server skips the ILS for a few seconds after the slow one),
    # so "not reachable" below is the killed ILS's doing
    deadline = time.monotonic() + 15
    while show(kiosk, OWES)["ids"]["fines"] != "ค่าปรับค้างชำระ 35 บาท — ใช้ 175 คะแนน":
        assert time.monotonic() < deadline, "the fines did not come back after the slow ILS"
        time.sleep(1)
        show(kiosk, CLEAR)
    ils.kill()
    try:
        show(kiosk, CLEAR)  # another card first: OWES again at once would be the same tap (repeat_s)
        t = show(kiosk, OWES)
        assert t["ids"]["member_name"] == "กิ่งตฤทัย ศรีสุข" and t["ids"]["balance"] == "250"
        assert t["ids"]["fines"] == "ระบบห้องสมุดไม่ตอบสนอง"
        kiosk.press("btn_lang")
        assert kiosk.texts()["ids"]["fines"] == "library system not reachable"
        kiosk.press("btn_lang")
    finally:
        ils.restart()
