"""A patron writes to the library at the kiosk: a category, Thai text typed key by key on the
on-screen Kedmanee keyboard (the shifted page for ็ and ์, ABC for English), sent over a real
Mosquitto to the real ``privcard server``, stored in the feedback desk's queue with channel
``kiosk`` and the card's member.

Keys are pressed as a finger would (simulated touches on each key's position, through the
window), never by setting the text. Writes kiosk-feedback-write-th.png and
kiosk-feedback-write-en.png (docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs).
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.helpers import ServerProcess, close_store, open_service, run_admin
from tests.ui.harness import KioskError, running_kiosk

pytestmark = pytest.mark.ui

DEVICE = "kiosk-write"
CARD = "04C1C2C3C4C5C6"
THAI = "แอร์เย็นเกินไป"  # "the air conditioning is too cold": ็ and ์ are on the shifted page


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("kiosk-write") / "privcard.db"
    svc = open_service(f"sqlite:///{path}")
    svc.devices.add(DEVICE, "kiosk", location="Lobby")
    member = svc.members.add("วิภาวรรณ ทองมา", CARD, email="wipawan@example.org")
    close_store()
    return path, member.id


@pytest.fixture(scope="module")
def server(db_path, broker, tmp_path_factory):
    srv = ServerProcess(f"sqlite:///{db_path[0]}", broker.url, log_dir=tmp_path_factory.mktemp("server-log"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kiosk(xvfb, broker, server):
    with running_kiosk(xvfb.display, broker.url, device_id=DEVICE, lang="th", extra=["--idle-timeout", "600"]) as k:
        yield k


def press_key(kiosk, key: str) -> dict:
    """Press one key; a character on the other page is reached through Shift (capslock), as a patron does."""
    try:
        return kiosk.call("vkey", key=key)
    except KioskError as exc:
        if "is not on the" not in str(exc):
            raise
    kiosk.call("vkey", key="capslock")
    reply = kiosk.call("vkey", key=key)
    kiosk.call("vkey", key="capslock")  # back to the unshifted page
    return reply


def type_text(kiosk, text: str) -> list[str]:
    """Type ``text`` key by key; returns the pages each key was on."""
    return [press_key(kiosk, ch)["page"] for ch in text]


def written(db_path, timeout=8.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    rows: list = []
    while time.monotonic() < deadline and not rows:
        with sqlite3.connect(db_path[0]) as db:
            rows = db.execute(
                "select category, text, channel, member, status, device, rating from feedback where text is not null"
            ).fetchall()
        time.sleep(0.1)
    return rows


def test_thai_typed_on_the_keyboard_reaches_the_queue(kiosk, db_path):
    kiosk.tap(CARD)
    kiosk.wait_for("member")
    kiosk.press("btn_done")
    t = kiosk.wait_for("feedback")
    assert t["ids"]["btn_write"] == "เขียนถึงห้องสมุด"
    kiosk.press("btn_write")
    t = kiosk.wait_for("write")
    assert t["ids"]["write_text"] == "แตะแป้นพิมพ์ด้านล่างเพื่อพิมพ์ข้อความ"
    # sending with nothing chosen says what is missing, and sends nothing
    kiosk.press("btn_send")
    assert kiosk.texts()["ids"]["write_status"] == "กรุณาเลือกประเภทก่อนส่ง"
    kiosk.press("cat_complaint")
    kiosk.press("btn_send")
    assert kiosk.texts()["ids"]["write_status"] == "กรุณาพิมพ์ข้อความก่อนส่ง"
    pages = type_text(kiosk, THAI)
    assert "shift" in pages and "normal" in pages  # ็ and ์ came from the shifted page
    press_key(kiosk, "spacebar")
    assert kiosk.layout_problems() == []
    kiosk.screenshot("kiosk-feedback-write-th")  # the Thai keyboard, the Thai text typed
    assert kiosk.call("vkey", key="ABC")["layout"] == "th"  # switch to English
    for ch in "ok":
        assert press_key(kiosk, ch)["layout"] == "en"
    press_key(kiosk, "x")
    press_key(kiosk, "backspace")  # a typo, deleted
    t = kiosk.texts()
    assert t["ids"]["write_text"] == THAI + " ok|"
    assert t["ids"]["write_status"] == f"{len(THAI) + 3}/1000 ตัวอักษร"
    kiosk.press("btn_lang")
    en = kiosk.texts()
    assert en["ids"]["btn_send"] == "Send" and en["ids"]["cat_complaint"] == "Complaint"
    assert kiosk.layout_problems() == []
    kiosk.screenshot("kiosk-feedback-write-en")
    kiosk.press("btn_lang")
    kiosk.press("btn_send")
    t = kiosk.wait_for("feedback")
    assert t["ids"]["feedback_title"] == "ขอบคุณสำหรับความคิดเห็น"
    assert written(db_path) == [("complaint", THAI + " ok", "kiosk", db_path[1], "new", DEVICE, None)]
    kiosk.wait_for("idle", timeout=6)  # thanks, then back to idle
    code, report = run_admin(f"sqlite:///{db_path[0]}", "feedback", "report")
    assert code == 0 and report["by_channel"]["kiosk"] == 1 and report["by_category"]["complaint"] == 1, report


def test_html_typed_at_the_kiosk_is_stored_as_text(kiosk, db_path):
    kiosk.tap(CARD)
    kiosk.wait_for("member")
    kiosk.press("btn_done")
    kiosk.wait_for("feedback")
    kiosk.press("btn_write")
    kiosk.wait_for("write")
    kiosk.press("cat_suggestion")
    kiosk.call("vkey", key="ABC")
    type_text(kiosk, "<b>")
    assert kiosk.texts()["ids"]["write_text"] == "<b>|"  # shown as typed (Kivy labels take no markup here)
    kiosk.press("btn_send")
    kiosk.wait_for("feedback")
    deadline = time.monotonic() + 8
    rows: list = []
    while time.monotonic() < deadline and len(rows) < 2:
        rows = written(db_path)
        time.sleep(0.1)
    assert ("suggestion", "<b>", "kiosk", db_path[1], "new", DEVICE, None) in rows
