"""A bad device setting is refused at the server, naming the key's path, from every entry
point staff use — the admin CLI, the console's device form, the JSON API — and nothing
changes: the device keeps its settings and its config revision.
"""

from __future__ import annotations

import pytest

from server import store
from server.store import Device
from tests.browser.web_support import flashes, post_form, sign_in
from tests.helpers import run_admin

#: (settings as staff type them, the path the refusal names, words of the refusal)
BAD = [
    ({"open_ms": 99}, "open_ms", "from 100 to 60000"),
    ({"frobnicate": 1}, "frobnicate", "not a setting of a gate"),
    ({"lang": "en"}, "lang", "not a setting of a gate"),
    ({"pins": {"relay": 40}}, "pins.relay", "from 0 to 27"),
    ({"pins": {"green": 17}}, "pins.green", "GPIO17 is already used for relay"),
    ({"pins": {"door": 5}}, "pins.door", "not a pin setting"),
]


def _device(db_url: str) -> tuple[dict, int]:
    store.connect(db_url)
    try:
        d = Device.get_by_id("gate-1")
        return dict(d.settings or {}), d.revision
    finally:
        store.db.close()


@pytest.fixture
def gate(tmp_db_url):
    rc, out = run_admin(tmp_db_url, "device", "add", "gate-1", "--kind", "gate", "--set", "open_ms=2500")
    assert rc == 0, out
    return tmp_db_url


def _cli_args(settings: dict) -> list[str]:
    ((key, value),) = settings.items()
    if isinstance(value, dict):
        return [f"{key}.{k}={v}" for k, v in value.items()]
    return [f"{key}={value}"]


@pytest.mark.parametrize("settings, path, words", BAD)
def test_cli_refuses_with_the_key_path(gate, settings, path, words):
    before = _device(gate)
    rc, err = run_admin(gate, "device", "set", "gate-1", *_cli_args(settings))
    assert rc != 0
    assert err["error"].startswith(path) and words in err["error"], err
    assert _device(gate) == before
    rc, err = run_admin(gate, "device", "add", "gate-2", "--kind", "gate", "--set", *_cli_args(settings))
    assert rc != 0 and err["error"].startswith(path), err


def test_api_refuses_with_the_key_path(app):
    from server.web import accounts
    from tests.browser.web_support import ADMIN

    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(ADMIN[0], 'tests')}"
    assert (
        c.post("/api/devices", json={"id": "gate-1", "kind": "gate", "settings": {"open_ms": 2500}}).status_code == 201
    )
    before = c.get("/api/devices/gate-1").get_json()["device"]
    for settings, path, words in BAD:
        r = c.patch("/api/devices/gate-1", json=settings)
        assert r.status_code == 400, (settings, r.text)
        assert path in r.get_json()["error"] and words in r.get_json()["error"]
        r = c.post("/api/devices", json={"id": "gate-2", "kind": "gate", "settings": settings})
        assert r.status_code == 400 and path in r.get_json()["error"]
    assert c.get("/api/devices/gate-1").get_json()["device"] == before
    assert c.get("/api/devices/gate-2").status_code == 404
    # a PATCH that sends a field again unchanged: the answer's "changed" lists what did, nothing else
    r = c.patch("/api/devices/gate-1", json={"kind": "gate", "open_ms": 2500, "heartbeat_s": 45})
    assert r.status_code == 200 and r.get_json()["changed"] == ["heartbeat_s"], r.text
    r = c.patch("/api/devices/gate-1", json={"kind": "gate", "open_ms": 2500, "heartbeat_s": 45})
    assert r.get_json()["changed"] == [] and r.get_json()["revision"] == before["revision"] + 1, r.text


def test_console_form_refuses_with_the_key_path_in_english_and_thai(app):
    c = app.test_client()
    sign_in(c)
    page = post_form(c, "/devices", "/devices", {"id": "gate-1", "kind": "gate", "open_ms": "2500"})
    assert "gate-1" in page.text
    cases = [
        ({"open_ms": "99"}, "open_ms", "from 100 to 60000"),
        ({"pins": "relay=40"}, "pins.relay", "from 0 to 27"),
        ({"pins": "green=17"}, "pins.green", "GPIO17 is already used for relay"),
        ({"pins": "door=5"}, "pins.door", "not a pin setting"),
        ({"heartbeat_s": "0.5"}, "heartbeat_s", "from 1 to 3600"),
    ]
    for form, path, words in cases:
        page = post_form(c, "/devices/gate-1", "/devices/gate-1", {"kind": "gate", "direction": "in", **form})
        shown = " ".join(flashes(page.text))
        assert path in shown and words in shown, (form, shown)
    # the same refusal, in Thai, still names the key
    c.get("/lang/th")
    page = post_form(c, "/devices/gate-1", "/devices/gate-1", {"kind": "gate", "direction": "in", "pins": "relay=40"})
    shown = " ".join(flashes(page.text))
    assert "pins.relay" in shown and "ต้อง" in shown, shown
    d = Device.get_by_id("gate-1")
    assert d.settings == {"open_ms": 2500} and d.revision == 1


def test_console_form_shows_every_setting_of_the_kind_from_broker_settings(app):
    from broker import settings as device_settings

    c = app.test_client()
    sign_in(c)
    post_form(c, "/devices", "/devices", {"id": "kiosk-1", "kind": "kiosk"})
    page = c.get("/devices/kiosk-1").text
    for spec in device_settings.for_kind("kiosk", "staff"):
        assert f'name="{spec.key}"' in page
    assert 'name="open_ms"' not in page  # a kiosk has no door
    assert 'min="1" max="3600"' in page  # heartbeat_s's range, from the schema
    post_form(c, "/devices/kiosk-1", "/devices/kiosk-1", {"kind": "kiosk", "lang": "en", "heartbeat_s": "20"})
    d = Device.get_by_id("kiosk-1")
    assert d.settings == {"lang": "en", "heartbeat_s": 20}, d.settings
    assert d.revision == 2


def test_cli_set_that_changes_nothing_says_so_in_english_and_thai_and_writes_nothing(gate):
    import subprocess

    from server.store import Audit
    from tests.brokers import PYTHON, python_env

    def text_of(*args: str) -> str:
        out = subprocess.run(
            [PYTHON, "-m", "broker.dispatcher", "admin", "--db", gate, *args],
            capture_output=True,
            text=True,
            env=python_env(),
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def audits() -> int:
        store.connect(gate)
        try:
            return Audit.select().where(Audit.action == "device.set").count()
        finally:
            store.db.close()

    before = _device(gate)
    # the value it already has, typed again: no new revision, no audit row, and the CLI says so
    said = text_of("device", "set", "gate-1", "open_ms=2500")
    assert said.splitlines() == ["Device gate-1: nothing changed.", "อุปกรณ์ gate-1: ไม่มีการเปลี่ยนแปลง"], said
    assert "revision" not in said and _device(gate) == before and audits() == 0
    rc, d = run_admin(gate, "device", "set", "gate-1", "open_ms=2500", "kind=gate")
    assert rc == 0 and d["changed"] == [] and d["revision"] == before[1], d
    # one key changed among the unchanged: the update, and --json lists that key only
    said = text_of("device", "set", "gate-1", "open_ms=2500", "heartbeat_s=45")
    assert said.startswith(f"updated gate-1 (revision {before[1] + 1})"), said
    assert "แก้ไขอุปกรณ์ gate-1 แล้ว" in said and audits() == 1
    rc, d = run_admin(gate, "device", "set", "gate-1", "heartbeat_s=45", "open_ms=3000")
    assert rc == 0 and d["changed"] == ["open_ms"] and d["revision"] == before[1] + 2, d
