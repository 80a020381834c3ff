"""The kiosk facing answers the real server never sends, and larger displays.

A scripted stand-in server (tests/ui/fake_server.py) answers with missing,
mistyped, unexpected or unreadable fields, or too late: the kiosk must show a
sensible screen every time and never crash. Then the same screens are checked
for clipped text, off-window widgets and small touch targets at 1024×600 and
1280×800.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.ui.fake_server import FakeServer, demo_history, member_record
from tests.ui.harness import KioskProcess

pytestmark = pytest.mark.ui

GOOD = "04A1B2C3D4E5F6"
STAFF = "04CAFE0001"
SPARSE = "04000001"
JUNK = "04000002"
UNREADABLE = "04000003"
NOT_JSON = "04000004"
FINES = "04000005"


@pytest.fixture(scope="module")
def fake(broker):
    cards = {
        GOOD: member_record(GOOD, "กิ่งตฤทัย ศรีสุข", 1295, tier="gold", history=demo_history()),
        STAFF: member_record(STAFF, "ผู้ใช้บริการ ทดสอบ", 300, staff=True, pin="2468"),
        # the longest fines line a patron can see (the ILS's amount with satang, thousands)
        FINES: member_record(
            FINES,
            "ผู้ใช้บริการ ค่าปรับ",
            7000,
            tier="gold",
            ils={"state": "ok", "fines_baht": 1250.75, "points_to_clear": 6255},
        ),
    }
    srv = FakeServer(broker.host, broker.port, cards).start()
    srv.raw[SPARSE] = b'{"v":1,"query_id":"{query_id}","outcome":"member"}'
    srv.raw[JUNK] = json.dumps(
        {
            "v": 1,
            "query_id": "{query_id}",
            "outcome": "member",
            "surprise": {"nested": [1, 2]},
            "member": {"name": 5, "tier": "platinum", "id": "seven", "valid_until": "soon", "staff": "yes"},
            "balance": "lots",
            "privileges": {"borrow": "x", "locker_days": None, "next": {"points": "many"}},
            "history": [1, None, {"at": "yesterday", "activity": 7, "points": "5"}, {"label": {"th": 1}}],
            "stats": {"earned_today": None},
            "message": {"th": "ข้อความ", "en": "A message"},
        }
    ).encode()
    srv.raw[UNREADABLE] = b'{"v":1,"query_id":"{query_id}","outcome":"party","member":{}}'
    srv.raw[NOT_JSON] = b"\xff\xfe not json {query_id}"
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kiosk(xvfb, broker, fake):
    k = KioskProcess(xvfb.display, broker.url, device_id="kiosk-odd", lang="en")
    k.start()
    yield k
    assert k.stop() == 0, k.stderr()


def test_answer_with_only_an_outcome_shows_a_member_screen(kiosk):
    kiosk.tap(SPARSE)
    t = kiosk.wait_for("member")
    ids = t["ids"]
    assert ids["member_name"] == "Member" and ids["balance"] == "—" and t["tier"] == "unknown"
    assert ids["no_privileges"] == "Privileges not available; ask at the counter"
    assert kiosk.layout_problems() == []
    kiosk.press("btn_history")
    t = kiosk.wait_for("history")
    assert t["rows"] == [] and t["ids"]["history_empty"] == "No entries yet"


def test_answer_with_wrong_types_and_extra_fields(kiosk):
    kiosk.tap(JUNK)
    t = kiosk.wait_for("member")
    assert t["ids"]["balance"] == "—" and t["ids"]["member_name"] == "Member"
    assert t["ids"]["btn_staff"] is None  # "staff": "yes" is not True
    kiosk.press("btn_history")
    t = kiosk.wait_for("history")
    assert [r["at"] for r in t["rows"]] == ["—", "—"]
    assert t["rows"][0]["points"] == "—"


def test_unreadable_answer_for_our_query_says_ask_staff(kiosk):
    kiosk.tap(UNREADABLE)
    t = kiosk.wait_for("unavailable", timeout=1.5)  # at once, not after the 2 s timeout
    assert t["ids"]["msg_body"] == "Your details can't be shown; please ask staff"


def test_garbage_is_ignored_then_timeout_shows_unavailable(kiosk):
    kiosk.tap(NOT_JSON)
    kiosk.wait_for("loading", timeout=1)
    t = kiosk.wait_for("unavailable", timeout=4)
    assert t["ids"]["msg_hint"] == "Trying again…"
    assert kiosk.state()["server_down"] is True


def test_slow_answer_arrives_after_unavailable(kiosk, fake):
    fake.delay = 2.6
    try:
        kiosk.tap(GOOD)
        kiosk.wait_for("unavailable", timeout=4)
        t = kiosk.wait_for("member", timeout=4)  # the late answer still belongs to this patron
        assert t["ids"]["member_name"] == "กิ่งตฤทัย ศรีสุข" and t["ids"]["balance"] == "1,295"
    finally:
        fake.delay = 0


def test_feedback_reaches_the_server(kiosk, fake):
    kiosk.tap(GOOD)
    kiosk.wait_for("member")
    kiosk.press("btn_done")
    kiosk.wait_for("feedback")
    before = len(fake.feedback)
    kiosk.press("face_2")
    deadline = time.monotonic() + 3
    while len(fake.feedback) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    fb = fake.feedback[-1]
    assert fb.rating == 2 and fb.uid == GOOD


def walk_screens(k: KioskProcess) -> dict:
    """Visit every screen; return {screen: layout problems} for those with any."""
    found = {}

    def check(name):
        for lang in ("en", "th"):
            problems = k.layout_problems()
            if problems:
                found[f"{name}-{lang}"] = problems
            k.press("btn_lang")

    check(k.wait_for("idle")["screen"])
    k.tap(GOOD)
    k.wait_for("member")
    check("member")
    k.tap(FINES)
    assert k.wait_for("member")["ids"]["fines"].startswith("Fines owed: 1,250.75 baht")
    check("member-fines")
    k.press("btn_history")
    k.wait_for("history")
    check("history")
    k.press("btn_done")
    k.wait_for("feedback")
    check("feedback")
    k.tap(STAFF)
    k.wait_for("member")
    k.press("btn_staff")
    k.wait_for("staff")
    check("staff-pin")
    for digit in "2468":
        k.press(f"pin_{digit}")
    k.press("btn_pin_ok")
    deadline = time.monotonic() + 4  # the fake server's verdict
    while time.monotonic() < deadline and k.texts()["ids"].get("pin_error"):
        time.sleep(0.05)
    unlocked = [x for x in k.texts()["texts"] if x.startswith("kiosk-")]
    assert unlocked, "the staff screen did not unlock (no device id shown)"
    check("staff")
    k.tap(UNREADABLE)
    k.wait_for("unavailable")
    check("unavailable")
    return found


@pytest.mark.parametrize("size", ["800x480", "1024x600", "1280x800"])
def test_layouts_fit_each_display(xvfb, broker, fake, size):
    k = KioskProcess(xvfb.display, broker.url, device_id=f"kiosk-{size}", lang="en", size=size)
    k.start()
    try:
        assert k.state()["size"] == [int(v) for v in size.split("x")]
        assert walk_screens(k) == {}
        if size == "1280x800":
            k.tap(GOOD)
            k.wait_for("member")
            k.screenshot("kiosk-member-en-1280x800")
    finally:
        assert k.stop() == 0, k.stderr()
