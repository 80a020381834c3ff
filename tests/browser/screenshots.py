"""Screenshots of the console's main pages at 1366x768 (and one tablet view) into
``docs/screenshots/console-*.png``, from a real server with sample data; the account
page is shot as a staff member sees it after an admin set a temporary password. The
Staff page and ``reports-full`` are whole pages (1366 wide, as tall as the page).

Run: ``.venv/bin/python -m tests.browser.screenshots [OUT_DIR]`` (needs Mosquitto,
Chromium and Playwright, like the browser tests).
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from tests.brokers import MosquittoBroker
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.web_support import ADMIN, STAFF, ConsoleServer, add_staff_cli

REPO = Path(__file__).resolve().parents[2]

FIRST = [
    "สมชาย",
    "สมศรี",
    "วิภา",
    "ธนากร",
    "ปิยะนุช",
    "Anan",
    "Kanya",
    "Narong",
    "Pim",
    "Sakda",
    "John",
    "Mali",
    "ณัฐพล",
    "อรุณี",
    "Chai",
    "Dao",
]
LAST = ["ใจดี", "รักเรียน", "Srisuk", "Boonmee", "แก้วมณี", "Thongdee", "Wongsa", "ศรีสวัสดิ์", "Smith", "Chaiyo"]
TEMPORARY = "temp-pass-2569"  # the screenshot account's temporary password


def seed(db_url: str) -> dict:
    """Members, devices, two weeks of taps, counter credits, an event and kiosk ratings."""
    from broker.contract import Feedback, Status, Tap
    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    rnd = random.Random(7)
    prog = load()
    store.connect(db_url)
    svc = bootstrap(prog)
    svc.devices.add("gate-in-1", "gate", direction="in", location="ประตูทางเข้า ชั้น 1", settings={"open_ms": 3000})
    svc.devices.add("gate-out-1", "gate", direction="out", location="ประตูทางออก ชั้น 1")
    svc.devices.add("counter-1", "counter", activity="borrow", location="เคาน์เตอร์ยืม-คืน")
    svc.devices.add("kiosk-1", "kiosk", location="โถงชั้น 1")
    members = []
    for i in range(40):
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        card = f"{2558070100 + i}"
        m = svc.members.add(
            name,
            card,
            tier="gold" if i % 7 == 0 else "silver",
            group=f"U{1 + i % 5}",
            valid_until="2027-05-31",
            actor="seed",
        )
        members.append((m.id, card))
    now = store.utcnow()
    n = 0
    for back in range(14, -1, -1):
        for _mid, card in rnd.sample(members, rnd.randint(12, 30)):
            day = (now - timedelta(days=back)).astimezone(prog.tz)
            at = day.replace(hour=rnd.choice([8, 9, 10, 10, 11, 13, 13, 14, 15, 16, 18, 19]), minute=rnd.randint(0, 59))
            if at > now:
                at = now - timedelta(minutes=rnd.randint(1, 60))
            n += 1
            svc.taps.decide("gate-in-1", Tap(f"seed-{n}", card, at, True), received=at)
            if rnd.random() < 0.3:
                n += 1
                svc.taps.decide(
                    "counter-1",
                    Tap(f"seed-{n}", card, at + timedelta(minutes=20), True),
                    received=at + timedelta(minutes=20),
                )
    n += 1
    svc.taps.decide("gate-in-1", Tap(f"seed-{n}", "04DEADBEEF", now - timedelta(minutes=2), True), received=now)
    mid0 = members[0][0]
    svc.points.award(mid0, "partner_purchase", item="More Coffee", actor="web:alice")
    svc.points.award(mid0, "volunteer", item="จัดชั้นหนังสือ 3 ชม.", actor="web:alice")
    svc.points.redeem(mid0, "fine_discount", points=50, actor="web:alice")
    svc.points.transfer(mid0, members[1][0], 20, actor="web:alice")
    e = svc.reads.entries(mid0, 10)
    borrow = next((x for x in e if x["activity"] == "volunteer"), None)
    if borrow:
        svc.points.void(borrow["id"], "บันทึกซ้ำ", actor="web:alice")
    svc.devices.record_status("gate-in-1", Status("online", {"outbox": 0, "version": "0.1.0", "reader": "ok"}))
    svc.devices.record_status("gate-out-1", Status("online", {"outbox": 0, "version": "0.1.0", "reader": "ok"}))
    svc.devices.record_status("counter-1", Status("offline", {"outbox": 4, "version": "0.1.0"}))
    for i in range(60):
        at = now - timedelta(days=rnd.randint(0, 14), minutes=rnd.randint(0, 500))
        svc.devices.record_feedback("kiosk-1", Feedback(f"fb-{i}", rnd.choice([5, 5, 5, 4, 4, 4, 3, 2]), at))
    store.db.close()
    return {"member": mid0, "cards": [c for _, c in members]}


def main(argv: list[str] | None = None) -> int:
    """Start everything, seed, shoot, stop."""
    from playwright.sync_api import sync_playwright

    out = Path((argv or sys.argv[1:] or [str(REPO / "docs" / "screenshots")])[0])
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="privcard-shots-"))
    db_url = f"sqlite:///{tmp / 'privcard.db'}"
    add_staff_cli(db_url, ADMIN[0], "admin", ADMIN[1])
    add_staff_cli(db_url, STAFF[0], "staff", STAFF[1])
    data = seed(db_url)
    broker = MosquittoBroker().start()
    srv = ConsoleServer(db_url, broker.url, tmp).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1366, "height": 768})
            page = ctx.new_page()

            def shot(name: str, full: bool = False) -> None:
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / f"console-{name}.png"), full_page=full)
                print("wrote", out / f"console-{name}.png")

            page.goto(f"{srv.url}/lang/th")
            page.goto(f"{srv.url}/login")
            shot("login")
            page.fill("input[name=username]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[1])
            with page.expect_navigation():
                page.click("button[type=submit]")
            shot("dashboard")
            page.goto(f"{srv.url}/members?q=ส")
            shot("members")
            page.goto(f"{srv.url}/members/{data['member']}")
            shot("member")
            page.goto(f"{srv.url}/lang/en?next=/members/{data['member']}")
            shot("member-en")
            page.click("table.ledger .xbtn >> nth=0")
            shot("void")
            page.goto(f"{srv.url}/devices")
            shot("devices")
            page.goto(f"{srv.url}/devices/gate-in-1")
            shot("device")
            page.goto(f"{srv.url}/events")
            page.fill("#event-form input[name=name]", "PULINET: Research tools 2026")
            with page.expect_navigation():
                page.click("#event-form button")
            csv = tmp / "registration.csv"
            csv.write_text("card_uid\n" + "\n".join([*data["cards"][:6], "12345XYZ", "04FFFFFFFF"]) + "\n")
            page.set_input_files("#upload-form input[type=file]", str(csv))
            with page.expect_navigation():
                page.click("#upload-form button")
            shot("event-preview")
            page.goto(f"{srv.url}/lang/th?next=/reports")
            shot("reports")
            shot("reports-full", full=True)
            page.goto(f"{srv.url}/lang/th?next=/staff")
            shot("staff", full=True)  # the whole page: its last forms are below 768 px
            # an admin sets a temporary password; at the next sign-in the account page insists
            page.select_option("#reset-form select[name=staff]", label=STAFF[0])
            page.fill("#reset-form input[name=password]", TEMPORARY)
            page.fill("#reset-form input[name=again]", TEMPORARY)
            with page.expect_navigation():
                page.click("#reset-form button")
            staff_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
            staff_page = staff_ctx.new_page()
            staff_page.goto(f"{srv.url}/lang/th?next=/login")
            staff_page.fill("input[name=username]", STAFF[0])
            staff_page.fill("input[name=password]", TEMPORARY)
            with staff_page.expect_navigation():
                staff_page.click("button[type=submit]")
            staff_page.fill("#password-form input[name=current]", TEMPORARY)
            staff_page.fill("#password-form input[name=new]", "bobs-own-password")
            staff_page.fill("#password-form input[name=again]", "bobs-own-password")
            staff_page.wait_for_load_state("networkidle")
            staff_page.screenshot(path=str(out / "console-account.png"))
            print("wrote", out / "console-account.png")
            staff_ctx.close()
            tablet = browser.new_context(
                viewport={"width": 800, "height": 1280},
                has_touch=True,
                is_mobile=True,
                storage_state=ctx.storage_state(),
            )
            page = tablet.new_page()
            page.goto(f"{srv.url}/members/{data['member']}")
            shot("member-tablet")
            browser.close()
    finally:
        srv.stop()
        broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "seed"]
