"""A device id ``bridge-…`` is the broker account of a site bridge (``privcard admin site bridge``):
registering a device with it is refused — from the admin CLI, the console's form and the JSON
API — with a clear message (English; Thai in the console), and nothing is created. The CLI's
``device credentials --force`` does not replace such an account either.
"""

from __future__ import annotations

from broker.mosquitto.credentials import read_entries
from server.store import Device
from tests.browser.web_support import ADMIN, flashes, post_form, sign_in
from tests.helpers import run_admin

WORDS = "is reserved: ids starting with bridge- are the broker accounts of site bridges"


def test_cli_refuses_a_bridge_id_and_creates_nothing(tmp_db_url, tmp_path):
    for device_id in ("bridge-NORTH", "bridge-x1", "Bridge-South"):
        rc, err = run_admin(tmp_db_url, "device", "add", device_id, "--kind", "gate")
        assert rc == 1, err
        assert f"device id {device_id} {WORDS}" in err["error"], err
    rc, devices = run_admin(tmp_db_url, "device", "list")
    assert rc == 0 and devices == [], devices
    # an ordinary id that merely contains the word is fine
    rc, out = run_admin(tmp_db_url, "device", "add", "gate-bridge-1", "--kind", "gate")
    assert rc == 0, out
    # and --force cannot write a password for a bridge account
    passwd = tmp_path / "passwd"
    acl = tmp_path / "acl"
    rc, err = run_admin(
        tmp_db_url,
        "device",
        "credentials",
        "bridge-NORTH",
        "--force",
        "--password-file",
        str(passwd),
        "--acl-file",
        str(acl),
    )
    assert rc == 1 and WORDS in err["error"], err
    assert not passwd.exists() or "bridge-NORTH" not in read_entries(passwd)


def test_api_refuses_a_bridge_id(app):
    from server.web import accounts

    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(ADMIN[0], 'tests')}"
    r = c.post("/api/devices", json={"id": "bridge-NORTH", "kind": "gate"})
    assert r.status_code == 400, r.text
    assert WORDS in r.get_json()["error"]
    assert c.get("/api/devices/bridge-NORTH").status_code == 404
    assert c.post("/api/devices", json={"id": "gate-1", "kind": "gate"}).status_code == 201


def test_console_refuses_a_bridge_id_in_english_and_thai(app):
    c = app.test_client()
    sign_in(c)
    page = post_form(c, "/devices", "/devices", {"id": "bridge-NORTH", "kind": "gate"})
    shown = " ".join(flashes(page.text))
    assert f"device id bridge-NORTH {WORDS}" in shown, shown
    c.get("/lang/th")
    page = post_form(c, "/devices", "/devices", {"id": "bridge-SOUTH", "kind": "gate"})
    shown = " ".join(flashes(page.text))
    assert "รหัสอุปกรณ์ bridge-SOUTH สงวนไว้" in shown and "bridge-" in shown, shown
    assert Device.select().where(Device.id.startswith("bridge")).count() == 0
