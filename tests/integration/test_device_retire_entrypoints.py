"""Retiring a device from every entry point staff use — the admin CLI (which also takes
its account off the broker's files), the console's device page (English and Thai) and the
JSON API — and what a retired device then gets: nothing but refusals. Bad requests
(an unknown device, retiring twice) change nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broker.contract import Query, Tap
from broker.mosquitto import access
from broker.mosquitto.credentials import read_entries, set_entry
from server import store
from server.store import Audit, Device
from tests.browser.web_support import ADMIN, STAFF, flashes, post_form, sign_in
from tests.helpers import close_store, open_service, run_admin


def _retired(db_url: str, device_id: str):
    store.connect(db_url)
    try:
        return Device.get_by_id(device_id).retired_at
    finally:
        store.db.close()


@pytest.fixture
def devices(tmp_db_url, tmp_path):
    for args in (("gate-1", "--kind", "gate"), ("kiosk-1", "--kind", "kiosk")):
        rc, out = run_admin(tmp_db_url, "device", "add", *args)
        assert rc == 0, out
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    for user in ("gate-1", "kiosk-1", "privcard-server"):
        set_entry(passwd, user, "pw-" + user)
    rc, out = run_admin(tmp_db_url, "device", "acl", "--password-file", str(passwd), "--acl-file", str(acl))
    assert rc == 0 and out["devices"] == 2, out
    return tmp_db_url, passwd, acl


def test_cli_retire_takes_the_account_off_the_broker_and_reactivate_brings_the_acl_back(devices):
    db_url, passwd, acl = devices
    assert set(access.read_devices(acl)) == {"gate-1", "kiosk-1"}
    rc, out = run_admin(db_url, "device", "retire", "kiosk-1", "--password-file", str(passwd), "--acl-file", str(acl))
    assert rc == 0 and out["retired"] and out["removed"] == ["kiosk-1"], out
    assert set(read_entries(passwd)) == {"gate-1", "privcard-server"}
    assert set(access.read_devices(acl)) == {"gate-1"}
    assert _retired(db_url, "kiosk-1") is not None
    # what the server answers it now
    svc = open_service(db_url)
    try:
        a = svc.reads.answer_query("kiosk-1", Query("q", "04A1B2C3"))
        assert a.outcome == "invalid" and "retired" in a.message["en"]
        r = svc.taps.decide("kiosk-1", Tap("k:1", "04A1B2C3", datetime.now(UTC), True))
        assert r.outcome == "invalid"
    finally:
        close_store()
    # retiring twice, or an unknown device: a clear error, nothing changes
    before = (passwd.read_text(), acl.read_text())
    rc, err = run_admin(db_url, "device", "retire", "kiosk-1", "--password-file", str(passwd), "--acl-file", str(acl))
    assert rc != 0 and "already retired" in err["error"], err
    rc, err = run_admin(db_url, "device", "retire", "ghost", "--password-file", str(passwd), "--acl-file", str(acl))
    assert rc != 0 and "no device ghost" in err["error"], err
    assert (passwd.read_text(), acl.read_text()) == before
    # a retired device gets no new credentials
    rc, err = run_admin(
        db_url, "device", "credentials", "kiosk-1", "--password-file", str(passwd), "--acl-file", str(acl)
    )
    assert rc != 0 and "retired" in err["error"], err
    assert "kiosk-1" not in read_entries(passwd)
    rc, out = run_admin(db_url, "device", "reactivate", "kiosk-1", "--acl-file", str(acl))
    assert rc == 0 and out["retired"] is False, out
    assert set(access.read_devices(acl)) == {"gate-1", "kiosk-1"} and _retired(db_url, "kiosk-1") is None
    rc, out = run_admin(db_url, "device", "list")
    assert {d["id"]: d["retired_at"] for d in out} == {"gate-1": None, "kiosk-1": None}


def test_api_retires_and_reactivates_admins_only(app, monkeypatch, tmp_path):
    from server.web import accounts

    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    monkeypatch.setenv("PRIVCARD_MQTT_PASSWORD_FILE", str(passwd))
    monkeypatch.setenv("PRIVCARD_MQTT_ACL_FILE", str(acl))
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(ADMIN[0], 'tests')}"
    assert c.post("/api/devices", json={"id": "gate-1", "kind": "gate"}).status_code == 201
    set_entry(passwd, "gate-1", "pw")
    staff = app.test_client()
    staff.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(STAFF[0], 'tests')}"
    assert staff.post("/api/devices/gate-1/retire").status_code == 403
    assert Device.get_by_id("gate-1").retired_at is None
    r = c.post("/api/devices/gate-1/retire")
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["device"]["retired_at"] and body["broker"]["removed"] == ["gate-1"]
    assert "gate-1" not in read_entries(passwd) and "gate-1" not in access.read_devices(acl)
    r = c.post("/api/devices/gate-1/retire")
    assert r.status_code == 400 and "already retired" in r.get_json()["error"]
    assert c.post("/api/devices/ghost/retire").status_code == 404
    r = c.post("/api/devices/gate-1/reactivate")
    assert r.status_code == 200 and r.get_json()["device"]["retired_at"] is None
    assert "gate-1" in access.read_devices(acl)
    assert [a.action for a in Audit.select().where(Audit.target == "gate-1").order_by(Audit.id)][-2:] == [
        "device.retire",
        "device.reactivate",
    ]


def test_console_device_page_retires_in_english_and_thai(app, monkeypatch):
    monkeypatch.delenv("PRIVCARD_MQTT_PASSWORD_FILE", raising=False)
    c = app.test_client()
    sign_in(c)
    post_form(c, "/devices", "/devices", {"id": "kiosk-1", "kind": "kiosk"})
    page = c.get("/devices/kiosk-1").text
    assert "/devices/kiosk-1/retire" in page and "Retire device" in page
    page = post_form(c, "/devices/kiosk-1", "/devices/kiosk-1/retire", {})
    shown = " ".join(flashes(page.text))
    assert "Device kiosk-1 retired" in shown and "privcard admin device acl" in shown, shown
    assert Device.get_by_id("kiosk-1").retired_at is not None
    assert "/devices/kiosk-1/reactivate" in page.text and "Retired since" in page.text
    c.get("/lang/th")
    page = post_form(c, "/devices/kiosk-1", "/devices/kiosk-1/retire", {})
    assert "เลิกใช้งานไปแล้ว" in " ".join(flashes(page.text))  # already retired, in Thai
    page = post_form(c, "/devices/kiosk-1", "/devices/kiosk-1/reactivate", {})
    assert "กลับมาใช้งานแล้ว" in " ".join(flashes(page.text))
    assert Device.get_by_id("kiosk-1").retired_at is None
    # a staff (not admin) account cannot retire
    s = app.test_client()
    sign_in(s, STAFF)
    r = post_form(s, "/", "/devices/kiosk-1/retire", {}, follow=False)
    assert r.status_code == 403, r.status_code
    assert Device.get_by_id("kiosk-1").retired_at is None
