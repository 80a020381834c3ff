"""The console in a real browser against a real server process and Mosquitto:
sign in, enrol, credit, void, transfer, redeem, devices (config over MQTT), the live
dashboard, an attendance CSV with bad rows, reports, the forced password change after
an admin chose the password — asserting what the page shows.
"""

from __future__ import annotations

import json
import queue
import re
import uuid

import paho.mqtt.client as mqtt
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_page
from tests.browser.web_support import ADMIN, STAFF


def uid() -> str:
    """A fresh card UID."""
    return "04" + uuid.uuid4().hex[:8].upper()


def flash(page) -> str:
    """The messages at the top of the page."""
    return " ".join(page.locator(".flash").all_inner_texts())


def submit(page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def balance(page) -> int:
    """The balance the member screen shows."""
    return int(page.inner_text("#balance"))


def enrol(page, console, name: str, card: str, group: str = "U1") -> int:
    """Enrol through the form; returns the member id from the member screen's URL."""
    page.goto(f"{console.url}/members")
    page.fill("form.stack input[name=name]", name)
    page.fill("form.stack input[name=card]", card)
    page.select_option("form.stack select[name=group]", group)
    submit(page, "text=Enrol >> nth=-1")
    page.wait_for_url(re.compile(r"/members/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def test_sign_in_shows_errors_then_the_dashboard(browser, console):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(f"{console.url}/lang/en")
    page.goto(f"{console.url}/members")
    assert "/login" in page.url  # anonymous: sent to sign in
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "Wrong username or password, or too many failed attempts" in flash(page)
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/members"))  # back where we wanted to go
    page.click("nav >> text=Dashboard")
    assert page.locator(".tile").count() == 5
    assert "Devices online" in page.inner_text("#live")
    # the Thai toggle turns the console into Thai, with the Thai font stack
    page.click("text=ไทย")
    assert "ภาพรวม" in page.inner_text("nav")
    assert "การแตะบัตรวันนี้" in page.inner_text("#live")
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "PrivcardThai" in font
    ctx.close()


def test_enrol_credit_void_transfer_redeem(admin_page, console):
    page = admin_page
    name_a, name_b = "สมชาย ใจดี", "Malee Rakdee"
    a = enrol(page, console, name_a, uid())
    assert "enrolled with 250 sign-up points" in flash(page)
    assert balance(page) == 250
    assert page.inner_text(".mname") == name_a
    assert "New member" in page.inner_text("table.ledger")

    # manual credit: borrowing, then a partner-shop stamp chosen from the list
    page.select_option("#credit-activity", "borrow")
    assert not page.is_visible("select[name=shop]")
    submit(page, "#credit-form button")
    assert "Credited 5 points for Borrowing books and journals" in flash(page)
    assert balance(page) == 255
    page.select_option("#credit-activity", "borrow")
    submit(page, "#credit-form button")
    assert "Already credited today" in flash(page)
    assert balance(page) == 255
    page.select_option("#credit-activity", "partner_purchase")
    page.select_option("select[name=shop]", "More Coffee")
    submit(page, "#credit-form button")
    assert balance(page) == 260
    assert "More Coffee" in page.inner_text("table.ledger")

    # void the borrowing credit: X, reason required, confirm
    row = page.locator("table.ledger tr", has_text="Borrowing books")
    entry_id = row.get_attribute("data-entry")
    with page.expect_navigation():
        row.locator(".xbtn").click()
    assert "Void this entry?" in page.inner_text("main")
    page.click("#void-form button[type=submit]")  # empty reason: the browser refuses to submit
    assert "/void" in page.url
    page.fill("#void-form input[name=reason]", "keyed twice by mistake")
    submit(page, "#void-form button[type=submit]")
    assert f"Entry {entry_id} voided." in flash(page)
    assert balance(page) == 255
    voided = page.locator(f"table.ledger tr[data-entry='{entry_id}']")
    assert "voided" in voided.inner_text()
    assert voided.locator(".xbtn").count() == 0
    assert "keyed twice by mistake" in page.inner_text("table.ledger")

    # transfer to another member
    b = enrol(page, console, name_b, uid(), group="U2")
    page.goto(f"{console.url}/members/{a}")
    page.fill("#transfer-form input[name=to]", str(b))
    page.fill("#transfer-form input[name=points]", "55")
    submit(page, "#transfer-form button")
    assert f"Transferred 55 points to member {b}" in flash(page)
    assert balance(page) == 200
    page.goto(f"{console.url}/members/{b}")
    assert balance(page) == 305

    # redeem: a fine discount by Table 3, then a locker day; never below zero
    page.goto(f"{console.url}/members/{a}")
    page.select_option("#redeem-reward", "fine_discount")
    assert page.is_visible("#redeem-form input[name=points]")
    page.fill("#redeem-form input[name=points]", "100")
    submit(page, "#redeem-form button")
    assert "Redeemed 100 points" in flash(page) and "(20 baht)" in flash(page)
    assert balance(page) == 100
    page.select_option("#redeem-reward", "locker_day")
    page.fill("#redeem-form input[name=units]", "5")
    submit(page, "#redeem-form button")
    assert "balance 100 is less than 125 points" in flash(page)
    assert balance(page) == 100
    page.fill("#redeem-form input[name=units]", "4")
    submit(page, "#redeem-form button")
    assert "Redeemed 100 points" in flash(page)
    assert balance(page) == 0

    # search finds the member by name prefix, by card and by id
    page.goto(f"{console.url}/members?q=สมช")
    assert name_a in page.inner_text("table.members")
    page.goto(f"{console.url}/members?q={b}")
    assert name_b in page.inner_text("table.members")


def _subscribe(url: str, topic: str) -> tuple[mqtt.Client, queue.Queue]:
    host, port = url.split("://")[1].split(":")
    q: queue.Queue = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-cfg-{uuid.uuid4().hex[:6]}")
    c.on_message = lambda cl, ud, msg: q.put(json.loads(msg.payload))
    c.on_connect = lambda cl, ud, flags, rc, props: cl.subscribe(topic, qos=1)
    c.connect(host, int(port))
    c.loop_start()
    return c, q


def _next_config(q: queue.Queue, want, timeout: float = 15.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            cfg = q.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(cfg)
        if want(cfg):
            return cfg
    raise AssertionError(f"no matching config within {timeout}s; saw {seen}")


def test_add_and_edit_device_config_reaches_mqtt_and_dashboard_goes_live(admin_page, console, broker):
    from tests.helpers import Device

    page = admin_page
    dev_id = f"gate-{uuid.uuid4().hex[:4]}"
    client, q = _subscribe(broker.url, f"privcard/dev/{dev_id}/config")
    try:
        page.click("nav >> text=Devices")
        page.fill("#device-add input[name=id]", dev_id)
        page.select_option("#device-add select[name=kind]", "gate")
        page.select_option("#device-add select[name=direction]", "in")
        page.fill("#device-add input[name=location]", "Main entrance")
        page.fill("#device-add input[name=open_ms]", "4500")
        page.select_option("#device-add select[name=offline_policy]", "allowlist")
        page.fill("#device-add input[name=reader]", "nfc:usb")
        submit(page, "#device-add button")
        assert f"Device {dev_id} added" in flash(page)
        cfg = _next_config(q, lambda c: c.get("settings", {}).get("open_ms") == 4500)
        assert cfg["kind"] == "gate" and cfg["direction"] == "in" and cfg["location"] == "Main entrance"
        assert cfg["settings"]["reader"] == "nfc:usb"

        page.fill("#device-edit input[name=open_ms]", "2500")
        page.fill("#device-edit input[name=pins]", "relay=17, green=5")
        page.select_option("#device-edit select[name=offline_policy]", "closed")
        submit(page, "#device-edit button")
        assert "receives the new config" in flash(page)
        cfg = _next_config(q, lambda c: c.get("settings", {}).get("open_ms") == 2500)
        # the pins set here over the gate's default wiring (broker.settings publishes the effective config)
        assert cfg["settings"]["pins"] == {"relay": 17, "green": 5, "red": 22, "amber": 23, "buzzer": 24}
        assert cfg["settings"]["offline_policy"] == "closed"
        assert cfg["revision"] >= 2
        assert page.input_value("#device-edit input[name=pins]") == "green=5, relay=17"  # stored sorted
    finally:
        client.loop_stop()
        client.disconnect()

    # the dashboard updates by itself: a status with an outbox, then a tap
    card = uid()
    page.goto(f"{console.url}/members")
    enrol(page, console, "Dashboard Person", card)
    page.goto(f"{console.url}/")
    row = page.locator(f"#live tr[data-device='{dev_id}']")
    with Device(broker.url) as dev:
        dev.bus.publish(
            f"privcard/dev/{dev_id}/status", json.dumps({"v": 1, "state": "online", "outbox": 3}), retain=True
        ).wait_for_publish(5)
        result = dev.tap(dev_id, card)
        assert result.outcome == "credited"
    # no reload: the page's own polling brings the new status and the tap
    expect(row.locator(".badge")).to_have_text("online", timeout=10000)
    expect(row.locator("td.n")).to_have_text("3")
    expect(page.locator("#live table.taps")).to_contain_text("Dashboard Person", timeout=10000)
    taps = page.inner_text("#live table.taps")
    assert "credited" in taps and "+5" in taps
    # and the device page lists the tap
    page.goto(f"{console.url}/devices/{dev_id}")
    assert "Dashboard Person" in page.inner_text("main")


def test_staff_role_sees_no_admin_pages(browser, console):
    page = sign_in_page(browser, console, who=STAFF)
    try:
        assert page.locator("nav >> text=Devices").count() == 0
        page.goto(f"{console.url}/devices")
        assert "Only administrators can open this page." in page.inner_text("main")
    finally:
        page.context.close()


def test_attendance_csv_with_bad_rows_preview_then_credit_once(admin_page, console, tmp_path):
    page = admin_page
    cards = [uid(), uid()]
    ids = [enrol(page, console, f"Event Goer {i}", c) for i, c in enumerate(cards)]
    third = enrol(page, console, "Event Goer by id", uid())
    csv_path = tmp_path / "pulinet.csv"
    csv_path.write_text(
        "card_uid\n"
        + "\n".join([cards[0], cards[1].lower(), str(third), "ZZZ-not-a-card", "04FFFFFFFF", cards[0]])
        + "\n"
    )
    page.click("nav >> text=Events")
    name = f"PULINET workshop {uuid.uuid4().hex[:4]}"
    page.fill("#event-form input[name=name]", name)
    page.select_option("#event-form select[name=activity]", "pulinet_event")
    submit(page, "#event-form button")
    assert "Event created." in flash(page)
    page.set_input_files("#upload-form input[type=file]", str(csv_path))
    submit(page, "#upload-form button")
    report = page.inner_text("#import-report")
    assert "Preview — nothing is credited yet" in report
    assert "3 will be credited" in report and "3 error" in report
    bad = page.locator("#import-report tr.r-error").all_inner_texts()
    assert len(bad) == 3
    assert any(t.startswith("5") for t in bad)  # line 5: not a card
    assert any("no member with id or card" in t and t.startswith("6") for t in bad)
    assert any("listed twice" in t and t.startswith("7") for t in bad)
    page.goto(f"{console.url}/members/{ids[0]}")
    assert balance(page) == 250  # the preview credited nothing
    page.go_back()

    submit(page, "#import-report button.primary")
    assert "3 credited, 0 already credited, 3 errors." in flash(page)
    assert "Credited members (3)" in page.inner_text("main")
    page.goto(f"{console.url}/members/{ids[0]}")
    assert balance(page) == 270
    assert name in page.inner_text("table.ledger")

    # the same list again credits nothing twice
    page.go_back()
    page.set_input_files("#upload-form input[type=file]", str(csv_path))
    submit(page, "#upload-form button")
    report = page.inner_text("#import-report")
    assert "0 will be credited" in report and "3 already credited" in report
    assert page.is_disabled("#import-report button.primary")
    page.goto(f"{console.url}/members/{ids[0]}")
    assert balance(page) == 270


def test_reports_show_the_activity_and_download_csv(admin_page, console):
    page = admin_page
    a = enrol(page, console, "Report Reader", uid(), group="U3")
    page.select_option("#credit-activity", "borrow")
    submit(page, "#credit-form button")
    page.click("nav >> text=Reports")
    top = page.inner_text("#report-top_borrowers")
    assert "Report Reader" in top
    seg = page.locator("#report-segments tr", has_text="Academic staff").inner_text()
    assert seg.split()[0] == "U3" and int(seg.split()[-1]) >= 1
    points = page.inner_text("#report-points")
    assert "Borrowing books and journals" in points and "New member" in points
    assert page.locator("#report-segments svg.chart rect").count() >= 1
    assert page.locator("#report-entries_hourly svg.chart").count() == 1  # the dashboard test's tap
    with page.expect_download() as dl:
        page.click("#report-top_borrowers >> text=Download CSV")
    body = open(dl.value.path(), encoding="utf-8-sig").read()
    assert body.splitlines()[0] == "Rank,Member,Name,Group,Borrowing days"
    assert f",{a},Report Reader,U3,1" in body


def test_forced_password_change_after_an_admin_chose_it(admin_page, browser, console):
    page = admin_page
    name, temp, own = f"carol{uuid.uuid4().hex[:4]}", "temporary-pass-1", "carols-own-password"
    page.click("nav >> text=Staff")
    page.fill("#staff-form input[name=username]", name)
    page.fill("#staff-form input[name=password]", temp)
    submit(page, "#staff-form button")
    assert f"Staff account {name} added. They must choose their own password at the first sign-in." in flash(page)
    assert "must change password" in page.inner_text(f"tr[data-staff='{name}']")

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    ctx.set_default_timeout(10000)
    carol = ctx.new_page()
    try:
        carol.goto(f"{console.url}/lang/en")
        carol.goto(f"{console.url}/login")
        carol.fill("input[name=username]", name)
        carol.fill("input[name=password]", temp)
        submit(carol, "button[type=submit]")
        assert carol.url == f"{console.url}/account"
        assert "An administrator chose the password of this account." in carol.inner_text("#must-change")
        assert carol.locator("nav.main").count() == 0
        carol.goto(f"{console.url}/members")  # anything else leads back here
        assert carol.url == f"{console.url}/account"

        carol.fill("#password-form input[name=current]", "not-the-password")
        carol.fill("#password-form input[name=new]", own)
        carol.fill("#password-form input[name=again]", own)
        submit(carol, "#password-form button")
        assert "The current password is wrong; the password was not changed." in flash(carol)
        carol.fill("#password-form input[name=current]", temp)
        carol.fill("#password-form input[name=new]", own)
        carol.fill("#password-form input[name=again]", own + "x")
        submit(carol, "#password-form button")
        assert "the two new passwords differ — the password was not changed." in flash(carol)
        assert carol.locator("#must-change").count() == 1

        carol.fill("#password-form input[name=current]", temp)
        carol.fill("#password-form input[name=new]", own)
        carol.fill("#password-form input[name=again]", own)
        submit(carol, "#password-form button")
        assert carol.url == f"{console.url}/"
        assert "Your password was changed." in flash(carol)
        carol.click("nav >> text=Members")
        assert carol.url.startswith(f"{console.url}/members")
        carol.click("header >> text=Account")
        assert carol.locator("#must-change").count() == 0

        # an admin's temporary password ends carol's session in this browser
        page.goto(f"{console.url}/staff")
        page.select_option("#reset-form select[name=staff]", label=name)
        page.fill("#reset-form input[name=password]", "another-temp-22")
        page.fill("#reset-form input[name=again]", "another-temp-22")
        submit(page, "#reset-form button")
        assert f"Temporary password set for {name}" in flash(page)
        carol.goto(f"{console.url}/members")
        assert "/login" in carol.url
    finally:
        ctx.close()
