"""Defects found by walking through the console in Chromium as its users would, in Thai and
English, against a real ``privcard server --http``: each test is what a person noticed.
"""

from __future__ import annotations

import re
import uuid

from tests.browser.test_console_browser import enrol, flash, submit


def uid() -> str:
    """A fresh card UID."""
    return "04" + uuid.uuid4().hex[:8].upper()


def test_a_refused_enrolment_keeps_what_was_typed(admin_page, console):
    page = admin_page
    taken = uid()
    enrol(page, console, "First Holder", taken)
    page.goto(f"{console.url}/members")
    form = "form[action$='/members']"
    page.fill(f"{form} input[name=name]", "นางสาว ตั้งใจ เรียนดี")
    page.fill(f"{form} input[name=card]", taken)
    page.select_option(f"{form} select[name=group]", "U3")
    page.fill(f"{form} input[name=valid_until]", "2027-05-31")
    page.fill(f"{form} input[name=patron_id]", "6401234")
    submit(page, f"{form} button[type=submit]")
    assert "already" in flash(page)
    # the clerk corrects the card only: everything else is still there
    assert page.input_value(f"{form} input[name=name]") == "นางสาว ตั้งใจ เรียนดี"
    assert page.input_value(f"{form} input[name=card]") == taken
    assert page.input_value(f"{form} select[name=group]") == "U3"
    assert page.input_value(f"{form} input[name=valid_until]") == "2027-05-31"
    assert page.input_value(f"{form} input[name=patron_id]") == "6401234"
    page.fill(f"{form} input[name=card]", uid())
    submit(page, f"{form} button[type=submit]")
    page.wait_for_url(re.compile(r"/members/\d+$"))
    assert "นางสาว ตั้งใจ เรียนดี" in page.inner_text("h1")


def test_english_pages_show_outcomes_and_limits_in_words_not_codes(admin_page, console, broker):
    from tests.browser.test_console_sites import cli
    from tests.helpers import Device

    page = admin_page
    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in")
    stranger = uid()
    with Device(broker.url) as dev:
        assert dev.tap(dev_id, stranger).outcome == "unknown_card"
    for url in (f"{console.url}/", f"{console.url}/devices/{dev_id}"):
        page.goto(url)
        row = page.locator("tr", has_text=stranger).first.inner_text()
        assert "unknown card" in row and "unknown_card" not in row, (url, row)
    page.goto(f"{console.url}/programme")
    shown = page.inner_text("main")
    assert "once a day per item" in shown
    assert "once a day" in page.locator("tr", has_text="Using the library").first.inner_text()
    assert "per_day" not in shown and "per_item_per_day" not in shown
    page.goto(f"{console.url}/campaigns")
    assert "per_day" not in page.inner_text("main")


def test_thai_pages_call_a_thing_s_name_by_its_kind_not_a_person_s_full_name(browser, console):
    """ชื่อ-สกุล is a person's name and surname: the members' pages use it, the tables of
    activities, sites, groups and draws did too."""
    from tests.browser.conftest import sign_in_page

    page = sign_in_page(browser, console, lang="th")
    try:
        heads = {}
        for path, table in (
            ("/programme", "main table >> nth=0"),
            ("/sites", "main table >> nth=0"),
            ("/terms", "main table >> nth=0"),
        ):
            page.goto(f"{console.url}{path}")
            heads[path] = page.locator(table).locator("thead").inner_text()
        assert "กิจกรรม" in heads["/programme"]
        assert "สาขา" in heads["/sites"]
        assert "คำอธิบาย" in heads["/terms"]
        page.goto(f"{console.url}/draws")
        labels = page.inner_text("#draw-form") + page.inner_text("#ranking-form")
        assert "ชื่อการจับรางวัล" in labels and "ชื่อการจัดอันดับ" in labels
        for path in ("/programme", "/sites", "/terms", "/draws"):
            page.goto(f"{console.url}{path}")
            assert "ชื่อ-สกุล" not in page.inner_text("main"), path
        page.goto(f"{console.url}/members")  # where it belongs
        assert "ชื่อ-สกุล" in page.inner_text("main")
    finally:
        page.context.close()


def test_patron_history_names_rewards_and_card_types_not_their_codes(browser, console):
    from tests.helpers import close_store, open_service

    svc = open_service(console.db_url)
    try:
        card = uid()
        m = svc.members.add("ปิยะนุช แก้วมณี", card, group="U1", actor="web:alice")
        other = svc.members.add("Other Member", uid(), group="U1", actor="web:alice")
        svc.patrons.set_pin(m.id, "2468", actor="web:alice")
        svc.points.redeem(m.id, "fine_discount", points=50, actor="web:alice")
        svc.points.transfer(m.id, other.id, 20, actor="web:alice")
        svc.terms.set_tier(m.id, "gold", reason="ผู้ชนะการประกวด", actor="web:alice")
    finally:
        close_store()
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        for lang, reward, tiers in (
            ("th", "ส่วนลดค่าปรับ", "บัตรเงิน → บัตรทอง"),
            ("en", "Fine discount", "Silver card → Gold card"),
        ):
            page.goto(f"{console.url}/me/lang/{lang}")
            if "/signin" in page.url:
                page.fill("#card", card)
                page.fill("#pin", "2468")
                submit(page, "#pin-signin button")
            page.goto(f"{console.url}/me/history")
            shown = page.inner_text("ol.entries")
            assert reward in shown and tiers in shown, shown
            for code in ("fine_discount", "silver", "gold", f"· {other.id}\n"):
                assert code not in shown, (code, shown)
    finally:
        ctx.close()


def test_a_message_that_does_not_exist_is_a_404_page_with_its_title(admin_page, console):
    page = admin_page
    r = page.goto(f"{console.url}/messages/999999")
    assert r.status == 404
    assert page.title().startswith("404 · ")
    assert page.inner_text("main h1") == "404"
    assert "Not found" in page.inner_text("main")


# --------------------------------------------------------------------------- codes in words (the second walk)


def thai_page(browser, console):
    """A second browser signed in as the admin, in Thai."""
    from tests.browser.conftest import sign_in_page

    return sign_in_page(browser, console, lang="th")


def sign_in_page_as(browser, console, who, lang: str = "en"):
    """A browser signed in as ``who`` (username, password)."""
    from tests.browser.conftest import sign_in_page

    return sign_in_page(browser, console, who=who, lang=lang)


def save_activity(page, console, code: str, points: int, en: str = "") -> str:
    """Add or change an activity through the programme page's form; the flash it leads to."""
    page.goto(f"{console.url}/programme")
    page.fill("#activity-form input[name=code]", code)
    page.fill("#activity-form input[name=points]", str(points))
    page.fill("#activity-form input[name=en]", en)
    submit(page, "#activity-form button[type=submit]")
    return flash(page)


def test_the_programme_page_says_windows_and_versions_in_words_and_one_change_in_the_singular(
    admin_page, browser, console
):
    page = admin_page
    one = save_activity(page, console, "walk_fair", 5)  # a new activity is one change
    assert re.search(r"Programme version \d+ is in force \(1 change\)\.", one), one
    two = save_activity(page, console, "walk_fair", 6, en="Walk fair")
    assert re.search(r"Programme version \d+ is in force \(2 changes\)\.", two), two
    window = page.inner_text("tr[data-activity=late_stay] td:nth-child(5)")
    assert window == "the last 30 minutes before closing · exit", window
    versions = page.locator("main table").last.inner_text()
    assert "Start-up file" in versions and "Activities" in versions, versions
    assert "seed" not in versions and "before_close" not in page.inner_text("main")
    th = thai_page(browser, console)
    try:
        done = save_activity(th, console, "walk_fair", 7, en="Walk fair")
        assert re.search(r"โครงการฉบับที่ \d+ มีผลแล้ว \(เปลี่ยนแปลง 1 รายการ\)", done), done
        window = th.inner_text("tr[data-activity=late_stay] td:nth-child(5)")
        assert window == "30 นาทีสุดท้ายก่อนปิดทำการ · ประตูทางออก", window
        assert "ไฟล์เริ่มต้น" in th.locator("main table").last.inner_text()
    finally:
        th.context.close()


def test_sites_members_and_devices_show_names_and_states_not_codes(admin_page, browser, console):
    from server.domain.config import load
    from tests.browser.test_console_sites import SITES_TOML, cli
    from tests.helpers import close_store, open_service

    page = admin_page
    page.goto(f"{console.url}/programme?section=sites#section-editor")
    page.fill("#section-form textarea[name=text]", SITES_TOML)  # BRANCH2 has its own late_stay window
    submit(page, "#section-form button[type=submit]")
    assert "in force" in flash(page)
    # BRANCH2's own window (60 minutes; the programme's is 30) is the number its late stay's name says
    late_stay = load().activities["late_stay"]
    page.goto(f"{console.url}/sites")
    rules = page.inner_text("tr[data-site=BRANCH2] td:nth-child(6)")
    assert rules == late_stay.en.replace("30", "60") == "Reading in the last 60 minutes before closing", rules
    mid = enrol(page, console, "Home Site Holder", uid())
    assert page.inner_text("#home-site") == "Central Library"
    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in")
    from broker.contract import Status

    svc = open_service(console.db_url)
    try:
        svc.devices.record_status(dev_id, Status("online", {"outbox": 0, "version": "0.1.0", "reader": "ok"}))
    finally:
        close_store()
    page.goto(f"{console.url}/devices/{dev_id}")
    assert page.inner_text("#reader-state") == "working"
    th = thai_page(browser, console)
    try:
        th.goto(f"{console.url}/members/{mid}")
        assert th.inner_text("#home-site") == "หอสมุดกลาง"
        th.goto(f"{console.url}/devices/{dev_id}")
        assert th.inner_text("#reader-state") == "ทำงานปกติ"
        th.goto(f"{console.url}/sites")
        assert th.inner_text("tr[data-site=BRANCH2] td:nth-child(6)") == "ใช้พื้นที่นั่งอ่านก่อนปิด 60 นาที"
    finally:
        th.context.close()


def test_the_member_ledger_names_campaigns_card_types_and_draws_and_the_ranking_names_members(
    admin_page, browser, console, broker
):
    from datetime import timedelta

    from tests.browser.test_console_sites import cli
    from tests.helpers import Device, close_store, open_service

    card = uid()
    svc = open_service(console.db_url)
    try:
        m = svc.members.add("วันเพ็ญ ขยันยิ่ง", card, group="U4", actor="web:alice")
        svc.messages.set_preferences(m, consent_ranking=True)
        today = svc.today()
        svc.campaigns.add(
            {
                "code": "walk_week",
                "th": "สัปดาห์เดินห้องสมุด",
                "en": "Library walk week",
                "kind": "bonus",
                "bonus": "3",
                "activities": ["entry"],
                "starts": f"{today - timedelta(days=1)} 00:00",
                "ends": f"{today + timedelta(days=6)} 23:59",
            },
            actor="web:alice",
        )
        svc.terms.set_tier(m.id, "gold", reason="ผู้ชนะการประกวด", actor="web:alice")
        d = svc.draws.create("Walk draw", winners=1, group="U4", prize_points=50, actor="web:alice")
        svc.draws.run(d["id"], actor="web:alice")
        svc.draws.award(d["id"], actor="web:alice")
    finally:
        close_store()
    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in")
    with Device(broker.url) as dev:
        assert dev.tap(dev_id, card).outcome == "credited"
    page = admin_page
    for p, words in (
        (page, ("Library walk week +3", "Silver card → Gold card")),
        (thai_page(browser, console), ("สัปดาห์เดินห้องสมุด +3", "บัตรเงิน → บัตรทอง")),
    ):
        try:
            p.goto(f"{console.url}/members/{m.id}")
            ledger = p.inner_text("table.ledger")
            for word in (*words, "Walk draw"):
                assert word in ledger, (word, ledger)
            for code in ("walk_week", "silver", "gold", "draw:"):
                assert code not in ledger, (code, ledger)
            assert p.get_attribute("table.ledger a:text('Walk draw')", "href").endswith(f"/draws/{d['id']}")
            p.goto(f"{console.url}/draws")
            ranked = p.locator(f"ol.ranking li[data-member='{m.id}'] a")
            assert ranked.inner_text() == "วันเพ็ญ ขยันยิ่ง"
            assert ranked.get_attribute("href").endswith(f"/members/{m.id}")
        finally:
            if p is not page:
                p.context.close()


def test_a_refused_transfer_keeps_what_was_typed(admin_page, console):
    page = admin_page
    mid = enrol(page, console, "Transfer Sender", uid())
    form = "#transfer-form"
    page.fill(f"{form} input[name=to]", "99999999")
    page.fill(f"{form} input[name=points]", "15")
    with page.expect_navigation() as nav:
        page.click(f"{form} button[type=submit]")
    assert nav.value.status == 400
    assert "99999999" in flash(page)
    assert page.input_value(f"{form} input[name=to]") == "99999999"
    assert page.input_value(f"{form} input[name=points]") == "15"
    other = enrol(page, console, "Transfer Receiver", uid())
    page.goto(f"{console.url}/members/{mid}")
    page.fill(f"{form} input[name=to]", str(other))
    page.fill(f"{form} input[name=points]", "15")
    submit(page, f"{form} button[type=submit]")
    assert f"Transferred 15 points to member {other}" in flash(page)


def test_the_device_page_lists_taps_by_their_time_newest_first(admin_page, console, broker):
    from datetime import UTC, datetime, timedelta

    from tests.browser.test_console_sites import cli
    from tests.helpers import Device

    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in")
    now, late, early = datetime.now(UTC), uid(), uid()
    with Device(broker.url) as dev:
        dev.tap(dev_id, late, at=now)
        dev.tap(dev_id, early, at=now - timedelta(minutes=50))  # kept by the gate while offline, sent after
    page = admin_page
    page.goto(f"{console.url}/devices/{dev_id}")
    rows = page.locator("table.taps tbody tr").all_inner_texts()
    assert late in rows[0] and early in rows[1], rows
    assert "received" in rows[1] and "received" not in rows[0], rows
    assert "device's clock" in page.inner_text("table.taps thead")


def test_thai_date_inputs_show_the_buddhist_era_date_picked(admin_page, browser, console):
    th = thai_page(browser, console)
    try:
        th.goto(f"{console.url}/members")
        field = "form[action$='/members'] input[name=valid_until]"
        hint = f"{field} + small.be-date"
        assert th.inner_text(hint) == ""
        th.fill(field, "2027-05-31")
        assert th.inner_text(hint) == "31 พฤษภาคม พ.ศ. 2570"
        th.goto(f"{console.url}/reports?from=2026-11-01&to=2026-12-03")  # filled in by the page
        assert th.inner_text("input[name=from] + small.be-date") == "1 พฤศจิกายน พ.ศ. 2569"
        th.goto(f"{console.url}/campaigns")
        th.fill("input[name=starts]", "2026-12-07T08:30")
        assert th.inner_text("input[name=starts] + small.be-date") == "7 ธันวาคม พ.ศ. 2569 08:30 น."
    finally:
        th.context.close()
    page = admin_page  # English pages show the ISO date they hold: no hint
    page.goto(f"{console.url}/members")
    assert page.locator("small.be-date").count() == 0


# --------------------------------------------------------------------------- codes in words (the third walk)


def load_sites(page, console) -> None:
    """The two sites of tests.browser.test_console_sites, through the programme page's sites section."""
    from tests.browser.test_console_sites import SITES_TOML

    page.goto(f"{console.url}/programme?section=sites#section-editor")
    page.fill("#section-form textarea[name=text]", SITES_TOML)
    submit(page, "#section-form button[type=submit]")


def option_texts(page, select: str) -> list[str]:
    """What a dropdown's options say (not their values), shown or folded away."""
    return page.locator(f"{select} option").evaluate_all("os => os.map(o => o.textContent.trim())")


def test_devices_feedback_and_the_site_pickers_name_sites_not_their_codes(admin_page, browser, console):
    import json

    from tests.browser.test_console_sites import cli

    page = admin_page
    load_sites(page, console)
    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in", "--site", "BRANCH2")
    fb = json.loads(
        cli(console.db_url, "feedback", "add", "--channel", "counter", "--category", "suggestion", "--text",
            "Quiet room at the branch", "--site", "BRANCH2")
    )  # fmt: skip
    who = (f"br{uuid.uuid4().hex[:6]}", "branch-password-1")
    cli(console.db_url, "staff", "add", who[0], "--role", "staff", "--sites", "BRANCH2", "--password", who[1])
    mid = enrol(page, console, "Site Picker Holder", uid())
    th = thai_page(browser, console)
    branch = sign_in_page_as(browser, console, who)
    try:
        for p, main, med in ((page, "Central Library", "Medical Library"), (th, "หอสมุดกลาง", "ห้องสมุดคณะแพทยศาสตร์")):
            p.goto(f"{console.url}/devices")
            assert p.inner_text(f"tr[data-device={dev_id}] td:nth-child(4)") == med
            p.goto(f"{console.url}/devices/{dev_id}")
            assert option_texts(p, "#device-site") == [main, med]
            assert p.locator("#device-site").input_value() == "BRANCH2"  # the code stays the value
            p.goto(f"{console.url}/feedback")
            assert p.inner_text(f"tr[data-feedback='{fb['id']}'] .fb-site") == med
            assert option_texts(p, "#feedback-site")[1:] == [main, med]
            assert option_texts(p, "#feedback-record-site")[1:] == [main, med]
            p.goto(f"{console.url}/feedback/{fb['id']}")
            assert p.inner_text("#fb-site") == med
            p.goto(f"{console.url}/members/{mid}")
            assert option_texts(p, "select[name=home_site]") == [main, med]
            p.goto(f"{console.url}/reports")
            assert option_texts(p, "#report-site")[1:] == [main, med]
            p.goto(f"{console.url}/events")
            assert option_texts(p, "#event-site") == [main, med]
            p.goto(f"{console.url}/staff")
            assert main in p.inner_text("#staff-form") and "BRANCH2" not in p.inner_text("#staff-form")
            sites = p.locator(".staff-sites").first.inner_text()
            assert main in sites and med in sites and "MAIN" not in sites, sites
            scoped = p.inner_text(f"tr[data-staff={who[0]}] .staff-sites-now")
            assert scoped == med, scoped
        branch.goto(f"{console.url}/sites")
        assert branch.inner_text("#your-sites") == "Medical Library"
        branch.goto(f"{console.url}/lang/th?next=/sites")
        assert branch.inner_text("#your-sites") == "ห้องสมุดคณะแพทยศาสตร์"
    finally:
        th.context.close()
        branch.context.close()


def test_the_audit_log_says_who_and_what_in_words_in_both_languages(admin_page, browser, console):
    from tests.helpers import close_store, open_service

    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    svc = open_service(console.db_url)
    try:
        m = svc.members.add("Audit Walk Member", uid(), group="U1", actor="web:alice")
        _, entry = svc.points.award(m.id, "volunteer", item="shelving", actor="web:alice")
        svc.points.void(entry.id, "typed twice", actor="web:alice")
        svc.ledger.audit(f"device:{dev_id}", "staff.pin_wrong", "04AABBCCDD", failures=1, locked=False)
        svc.ledger.audit("system", "walk.unknown_code", "x")  # a code with no label: shown as it is
    finally:
        close_store()
    page = admin_page
    save_activity(page, console, "walk_audit", 3)  # a programme version made by alice
    th = thai_page(browser, console)
    try:
        for p, words in (
            (page, ("alice", "Member enrolled", "Entry voided", f"device {dev_id}", "Wrong staff PIN", "system")),
            (th, ("alice", "สมัครสมาชิก", "ยกเลิกรายการคะแนน", f"อุปกรณ์ {dev_id}", "PIN เจ้าหน้าที่ไม่ถูกต้อง", "ระบบ")),
        ):
            p.goto(f"{console.url}/staff")
            who = p.locator("table.audit td.audit-who").all_inner_texts()
            what = p.locator("table.audit td.audit-what").all_inner_texts()
            shown = set(who) | set(what)
            for word in words:
                assert word in shown, (word, who, what)
            assert "walk.unknown_code" in what
            for code in ("web:alice", f"device:{dev_id}", "member.add", "points.void", "staff.pin_wrong"):
                assert code not in shown, code
            p.goto(f"{console.url}/programme")  # the programme's versions: who made each, by name
            versions = p.locator("main table").last.inner_text()
            assert "alice" in versions and "web:" not in versions, versions
    finally:
        th.context.close()


def test_a_draw_lists_its_eligible_members_by_name_and_says_who_it_counts(admin_page, browser, console):
    from tests.helpers import close_store, open_service

    svc = open_service(console.db_url)
    try:
        ones = [svc.members.add(name, uid(), group="U5", actor="web:alice") for name in ("ดารณี มีสุข", "Eligible Two")]
        d = svc.draws.create("Eligible walk", winners=1, group="U5", tier="gold", prize_points=10, actor="web:alice")
        svc.terms.set_tier(ones[0].id, "gold", reason="walk", actor="web:alice")
        svc.terms.set_tier(ones[1].id, "gold", reason="walk", actor="web:alice")
        svc.draws.run(d["id"], actor="web:alice")
    finally:
        close_store()
    th = thai_page(browser, console)
    try:
        for p, ticket, words in (
            (admin_page, "1 ticket", ("Group: External member", "Card type: Gold card", "Tickets: one per member")),
            (th, "1 สิทธิ์", ("สมาชิกภายนอก", "บัตรทอง", "1 สิทธิ์ต่อสมาชิก")),
        ):
            p.goto(f"{console.url}/draws/{d['id']}")
            criteria = p.inner_text("#draw-criteria")
            for word in words:
                assert word in criteria, (word, criteria)
            assert "{" not in criteria and "gold" not in criteria and "U5" not in criteria, criteria
            for m in ones:
                li = p.locator(f"ol.eligible li[data-member='{m.id}']")
                assert li.locator("a").inner_text() == m.name
                assert li.locator("a").get_attribute("href").endswith(f"/members/{m.id}")
                assert li.inner_text().endswith(f"— {ticket}"), li.inner_text()
            assert "[[" not in p.inner_text("#eligible")  # the raw list is folded away under JSON
    finally:
        th.context.close()


def test_the_device_page_says_latest_taps_not_today_s(admin_page, browser, console, broker):
    """The list is the device's latest 20 taps, whatever their day: it said "No taps yet today."."""
    from tests.browser.test_console_sites import cli
    from tests.helpers import Device

    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in")
    th = thai_page(browser, console)
    try:
        for p, heading, none in ((admin_page, "Latest taps", "No taps yet."), (th, "การแตะบัตรล่าสุด", "ยังไม่มีการแตะบัตร")):
            p.goto(f"{console.url}/devices/{dev_id}")
            assert p.inner_text("#device-taps h2") == heading
            assert p.inner_text("#device-taps p") == none
        with Device(broker.url) as dev:
            dev.tap(dev_id, uid())
        admin_page.goto(f"{console.url}/devices/{dev_id}")
        assert admin_page.locator("#device-taps table.taps tbody tr").count() == 1
        assert "today" not in admin_page.inner_text("#device-taps")
    finally:
        th.context.close()


def test_the_programme_section_tabs_have_titles_and_say_where_the_section_is_in_the_file(admin_page, browser, console):
    th = thai_page(browser, console)
    try:
        for p, titles, where in (
            (admin_page, ("Opening hours and closures", "Card types", "Rewards"), "In programme.toml: [hours]"),
            (th, ("เวลาเปิด-ปิดและวันหยุด", "ประเภทบัตร", "ของรางวัลและการแลกคะแนน"), "ในไฟล์ programme.toml: [hours]"),
        ):
            p.goto(f"{console.url}/programme?section=hours#section-editor")
            tabs = p.locator("#section-tabs a").all_inner_texts()
            for title in titles:
                assert title in tabs, (title, tabs)
            for code in ("hours", "tiers", "rewards", "semesters"):
                assert code not in tabs, (code, tabs)
            assert p.inner_text("#section-tabs a[aria-current]") == titles[0]
            assert p.inner_text("#section-toml") == where  # the name staff look for in the file
        submit(admin_page, "#section-tabs a[data-section=tiers]")
        assert admin_page.inner_text("#section-toml") == "In programme.toml: [tiers]"
        assert "[tiers" in admin_page.input_value("#section-form textarea[name=text]")
    finally:
        th.context.close()


# --------------------------------------------------------------------------- the audit log and dashboard (the fourth walk)


def audit_cell(page, action: str, cell: str = "audit-target"):
    """The newest audit row of ``action`` on the Staff page: one of its cells."""
    return page.locator(f"table.audit tr[data-action='{action}']").first.locator(f"td.{cell}")


def test_the_audit_log_says_what_each_target_is_and_keeps_its_id(admin_page, browser, console):
    """The "Target" column showed raw ids: 17, gate-3f2a, 04AABBCCDD, version 12."""
    from tests.helpers import close_store, open_service

    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    card, other_card = uid(), uid()
    svc = open_service(console.db_url)
    try:
        svc.devices.add(dev_id, "gate", direction="in", location="Walk entrance", actor="web:alice")
        m = svc.members.add("ทดสอบ เป้าหมาย", card, group="U1", actor="web:alice")
        other = svc.members.add("Target Card Holder", other_card, group="U1", actor="web:alice")
        _, entry = svc.points.award(m.id, "volunteer", item="shelving", actor="web:alice")
        svc.points.void(entry.id, "typed twice", actor="web:alice")
        svc.members.block_card(other_card, reason="lost", actor="web:alice")
    finally:
        close_store()
    page = admin_page
    save_activity(page, console, "walk_target", 4)
    version = int(re.search(r"version (\d+)", flash(page)).group(1))
    th = thai_page(browser, console)
    try:
        for p, entry_code, version_text in (
            (page, f"entry {entry.id}", f"Programme version {version}"),
            (th, f"รายการ {entry.id}", f"โครงการฉบับที่ {version}"),
        ):
            p.goto(f"{console.url}/staff")
            log = p.inner_text("table.audit")
            assert "Walk entrance" in log and version_text in log, log[:2000]
            # the newest enrolment is the card holder's, the member's own the one before it
            enrolled = p.locator("table.audit tr[data-action='member.add'] td.audit-target")
            assert enrolled.nth(0).locator("a").inner_text() == "Target Card Holder"
            mine = enrolled.nth(1)
            assert mine.locator("a").inner_text() == "ทดสอบ เป้าหมาย"
            assert mine.locator("a").get_attribute("href").endswith(f"/members/{m.id}")
            assert mine.locator("code").inner_text() == f"#{m.id}"  # the id, for staff who search by it
            voided = audit_cell(p, "points.void")
            assert voided.locator("a").inner_text() == "ทดสอบ เป้าหมาย"
            assert voided.locator("a").get_attribute("href").endswith(f"/members/{m.id}")
            assert voided.locator("code").inner_text() == entry_code
            blocked = audit_cell(p, "card.block")
            assert blocked.locator("a").inner_text() == "Target Card Holder"
            assert blocked.locator("a").get_attribute("href").endswith(f"/members/{other.id}")
            assert blocked.locator("code").inner_text() == other_card
            device = audit_cell(p, "device.add")
            assert device.locator("a").inner_text() == "Walk entrance"
            assert device.locator("a").get_attribute("href").endswith(f"/devices/{dev_id}")
            assert device.locator("code").inner_text() == dev_id
            changed = audit_cell(p, "programme.change")
            assert changed.inner_text() == version_text
            assert changed.locator("a").get_attribute("href").endswith("/programme")
    finally:
        th.context.close()


def test_the_audit_log_names_the_ids_in_its_details_and_keeps_them(admin_page, browser, console):
    """A transfer's detail read "to member: 2", a void's "reversal entries: 437", an award's
    "entry: 436", a revoked token's "token: 5": each id is named — a member by name linked to
    their page, an entry by its holder and activity —, the id kept beside it."""
    from server.web import accounts
    from tests.helpers import close_store, open_service

    svc = open_service(console.db_url)
    try:
        giver = svc.members.add("ผู้ให้ คะแนน", uid(), group="U1", actor="web:alice")
        taker = svc.members.add("Points Receiver", uid(), group="U1", actor="web:alice")
        _, entry = svc.points.award(giver.id, "volunteer", item="shelving", actor="web:alice")
        (reversal,) = svc.points.void(entry.id, "typed twice", actor="web:alice")
        svc.points.award(giver.id, "volunteer", item="returns", actor="web:alice")
        svc.points.transfer(giver.id, taker.id, 2, actor="web:alice")
        _, token = accounts.issue_token("alice", "walk reports", actor="web:alice")
        accounts.revoke_token(token.id, actor="web:alice")
    finally:
        close_store()
    th = thai_page(browser, console)
    try:
        for p, activity, entry_word, token_word in (
            (admin_page, "Volunteer", "entry", "token"),
            (th, "จิตอาสา", "รายการ", "โทเค็น"),
        ):
            p.goto(f"{console.url}/staff")
            sent = audit_cell(p, "points.transfer", "audit-detail").locator(".audit-ref")
            assert sent.locator("a").inner_text() == "Points Receiver"
            assert sent.locator("a").get_attribute("href").endswith(f"/members/{taker.id}")
            assert sent.locator("code").inner_text() == f"#{taker.id}"  # the id, for staff who search by it
            voided = audit_cell(p, "points.void", "audit-detail").locator(".audit-ref")
            assert voided.locator("a").inner_text().startswith("ผู้ให้ คะแนน · ")
            assert activity in voided.locator("a").inner_text(), voided.inner_text()
            assert voided.locator("a").get_attribute("href").endswith(f"/members/{giver.id}")
            assert voided.locator("code").inner_text() == f"{entry_word} {reversal.id}"
            awarded = p.locator("table.audit tr[data-action='points.award']").nth(1).locator("td.audit-detail")
            assert awarded.locator(".audit-ref code").inner_text() == f"{entry_word} {entry.id}"
            assert activity in awarded.locator(".audit-ref a").inner_text()
            revoked = audit_cell(p, "staff.token_revoked", "audit-detail")
            assert revoked.locator(".audit-ref").inner_text() == f"walk reports (alice) {token_word} {token.id}"
    finally:
        th.context.close()


def test_a_device_s_audit_detail_says_a_cleared_setting_in_words_not_none(admin_page, browser, console):
    """Saving a device wrote "activity: None" (the default activity) and "open ms: None" (a
    setting cleared): the log says the default, by the setting's name, in the page's language.
    The form sends every field each time, and each ``device.set`` row listed them all: it lists
    what changed only, and a save that changes nothing says so and writes no row."""
    from tests.browser.test_console_sites import cli

    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", dev_id, "--kind", "gate", "--direction", "in")
    page = admin_page
    page.goto(f"{console.url}/devices/{dev_id}")
    page.fill("#device-edit input[name=open_ms]", "2500")
    submit(page, "#device-edit button[type=submit]")
    page.fill("#device-edit input[name=open_ms]", "")  # cleared: the gate's default again
    submit(page, "#device-edit button[type=submit]")
    page.goto(f"{console.url}/staff")
    assert page.locator(f"table.audit tr[data-action='device.set']:has(a[href$='/devices/{dev_id}'])").count() == 2
    page.goto(f"{console.url}/devices/{dev_id}")
    submit(page, "#device-edit button[type=submit]")  # saved again, nothing changed
    assert flash(page) == f"Device {dev_id}: nothing changed."
    th = thai_page(browser, console)
    try:
        for p, added, words in (
            (
                page,
                ("activity: default (Using the library's areas)", "kind: gate"),
                ("door open time: default (3000 ms)",),
            ),
            (
                th,
                ("กิจกรรม: ค่าเริ่มต้น (การเข้าใช้บริการพื้นที่ต่างๆ)",),
                ("เวลาปลดล็อกประตู: ค่าเริ่มต้น (3000 มิลลิวินาที)",),
            ),
        ):
            p.goto(f"{console.url}/staff")
            ours = p.locator(f"table.audit tr[data-action='device.set']:has(a[href$='/devices/{dev_id}'])")
            assert ours.count() == 2  # the save that changed nothing wrote no row
            cleared = ours.nth(0).locator("td.audit-detail").inner_text()
            for word in words:
                assert word in cleared, (word, cleared)
            assert "None" not in cleared and "open ms" not in cleared and "open_ms" not in cleared, cleared
            # the fields and settings the form sent again, unchanged, are not listed
            for unchanged in ("activity", "location", "site", "kind", "กิจกรรม", "ที่ตั้ง", "สาขา", "ประเภท"):
                assert unchanged not in cleared, (unchanged, cleared)
            saved = ours.nth(1).locator("td.audit-detail").inner_text()
            assert saved == ("door open time: 2500 ms" if p is page else "เวลาปลดล็อกประตู: 2500 มิลลิวินาที"), saved
            add = p.locator(f"table.audit tr[data-action='device.add']:has(a[href$='/devices/{dev_id}'])")
            add = add.locator("td.audit-detail").inner_text()
            for word in added:
                assert word in add, (word, add)
    finally:
        th.context.close()


def test_a_programme_change_s_audit_detail_names_what_changed_not_its_toml_path(admin_page, browser, console):
    """A programme change's detail read "activities.walk_path.points: 4 → 6 · section: activities"."""
    page = admin_page
    for points in (4, 6):
        page.goto(f"{console.url}/programme")
        page.fill("#activity-form input[name=code]", "walk_path")
        page.fill("#activity-form input[name=th]", "เดินสำรวจห้องสมุด")
        page.fill("#activity-form input[name=en]", "Library walk")
        page.fill("#activity-form input[name=points]", str(points))
        submit(page, "#activity-form button[type=submit]")
    th = thai_page(browser, console)
    try:
        for p, words in (
            (page, ("Activities › Library walk › points: 4 → 6", "section: Activities")),
            (th, ("กิจกรรม › เดินสำรวจห้องสมุด › คะแนน: 4 → 6", "หมวด: กิจกรรม")),
        ):
            p.goto(f"{console.url}/staff")
            changed = audit_cell(p, "programme.change", "audit-detail").inner_text()
            for word in words:
                assert word in changed, (word, changed)
            assert "activities." not in changed and "walk_path" not in changed, changed
            added = p.locator("table.audit tr[data-action='programme.change']").nth(1)
            added = added.locator("td.audit-detail").inner_text()  # a new activity: its fields by their labels
            limit = ("limit: once a day", "English name: Library walk") if p is page else ("ข้อจำกัด: วันละครั้ง",)
            for word in limit:
                assert word in added, (word, added)
    finally:
        th.context.close()


def test_the_dashboard_names_the_device_of_each_tap_and_its_site_when_it_shows_several(
    admin_page, browser, console, broker
):
    """The latest taps listed "gate-7c1e": the device by its location (else its kind and gate),
    its id beside, and its site's name for an account that sees more than one site."""
    from tests.browser.test_console_sites import cli
    from tests.helpers import Device

    page = admin_page
    load_sites(page, console)
    at_branch, at_main = f"gate-{uuid.uuid4().hex[:4]}", f"gate-{uuid.uuid4().hex[:4]}"
    cli(console.db_url, "device", "add", at_branch, "--kind", "gate", "--direction", "in", "--site", "BRANCH2",
        "--location", "Medical wing entrance")  # fmt: skip
    cli(console.db_url, "device", "add", at_main, "--kind", "gate", "--direction", "out", "--site", "MAIN")
    who = (f"dash{uuid.uuid4().hex[:6]}", "dashboard-password-1")
    cli(console.db_url, "staff", "add", who[0], "--role", "staff", "--sites", "BRANCH2", "--password", who[1])
    branch_card, main_card = uid(), uid()
    with Device(broker.url) as dev:
        dev.tap(at_branch, branch_card)
        dev.tap(at_main, main_card)
    th = thai_page(browser, console)
    branch = sign_in_page_as(browser, console, who)
    try:
        for p, main_gate, main, med in (
            (page, "gate · out", "Central Library", "Medical Library"),
            (th, "ประตู · ออก", "หอสมุดกลาง", "ห้องสมุดคณะแพทยศาสตร์"),
        ):
            p.goto(f"{console.url}/")
            row = p.locator("table.taps tr", has_text=branch_card).inner_text()
            assert "Medical wing entrance" in row and med in row, row
            cell = p.locator("table.taps tr", has_text=branch_card).locator("td.tap-device")
            assert cell.locator("a").inner_text() == "Medical wing entrance"
            assert cell.locator("a").get_attribute("href").endswith(f"/devices/{at_branch}")
            assert cell.locator("code").inner_text() == at_branch  # the id, for staff who search by it
            assert cell.locator(".tap-site").inner_text() == med
            cell = p.locator("table.taps tr", has_text=main_card).locator("td.tap-device")
            assert cell.locator("a").inner_text() == main_gate
            assert cell.locator(".tap-site").inner_text() == main
        branch.goto(f"{console.url}/")  # one site: no site beside each tap, no link to the admin's device page
        cell = branch.locator("table.taps tr", has_text=branch_card).locator("td.tap-device")
        assert cell.inner_text().startswith("Medical wing entrance"), cell.inner_text()
        assert cell.locator("a").count() == 0 and cell.locator(".tap-site").count() == 0
        assert branch.locator("table.taps tr", has_text=main_card).count() == 0
    finally:
        th.context.close()
        branch.context.close()


def test_a_site_s_page_is_headed_by_its_name_with_its_code_small_beside(admin_page, browser, console):
    """The heading read "Sites › BRANCH2 · Medical Library": the code first, as if it were the name."""
    page = admin_page
    load_sites(page, console)
    th = thai_page(browser, console)
    try:
        for p, crumb, name in ((page, "Sites", "Medical Library"), (th, "สาขา", "ห้องสมุดคณะแพทยศาสตร์")):
            p.goto(f"{console.url}/sites/BRANCH2")
            heading = p.inner_text("main h1")
            assert heading.startswith(f"{crumb} › {name}"), heading
            assert p.inner_text("h1 #site-name") == name
            assert p.inner_text("h1 #site-code") == "BRANCH2"  # small, beside the name
            assert p.locator("h1 small code").inner_text() == "BRANCH2"
            assert "·" not in heading, heading
            assert p.title().startswith(name), p.title()
    finally:
        th.context.close()
