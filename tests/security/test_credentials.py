"""Mosquitto password entries made in Python, and the production config's contents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.mosquitto import credentials, directives, production_acl, production_conf, render_conf
from broker.mosquitto.credentials import (
    CredentialsError,
    device_url,
    hash_password,
    make_credentials,
    read_entries,
    set_entry,
    verify_password,
)
from tests.brokers import find_mosquitto


def test_hash_has_mosquitto_passwd_format():
    encoded = hash_password("secret", salt=b"0123456789ab")
    kind, iterations, salt, digest = encoded.split("$")[1:]
    assert (kind, iterations) == ("7", "101")
    import base64

    assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(digest)) == 64
    assert verify_password("secret", encoded)
    assert not verify_password("Secret", encoded)
    assert hash_password("secret") != hash_password("secret")  # random salt


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="mosquitto_passwd not installed")
def test_verifies_entries_made_by_mosquitto_passwd(tmp_path):
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "alice", "wonder land"], check=True)
    entry = read_entries(path)["alice"]
    assert entry.startswith("$7$")
    assert verify_password("wonder land", entry)
    assert not verify_password("wonderland", entry)


def test_set_entry_replaces_one_user_and_keeps_the_rest(tmp_path):
    path = tmp_path / "passwd"
    assert set_entry(path, "gate-1", "one") is False
    assert set_entry(path, "gate-2", "two") is False
    os.chmod(path, 0o600)
    assert set_entry(path, "gate-1", "uno") is True
    entries = read_entries(path)
    assert list(entries) == ["gate-1", "gate-2"]
    assert verify_password("uno", entries["gate-1"]) and verify_password("two", entries["gate-2"])
    assert os.stat(path).st_mode & 0o777 == 0o600  # mode kept
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".passwd-")]


def test_make_credentials_refuses_bad_and_reserved_names(tmp_path):
    with pytest.raises(CredentialsError):
        make_credentials("gate/1", tmp_path / "pw", "mqtts://h:8883")
    with pytest.raises(CredentialsError):
        make_credentials("gate+#", tmp_path / "pw", "mqtts://h:8883")
    with pytest.raises(CredentialsError):
        make_credentials("privcard-server", tmp_path / "pw", "mqtts://h:8883")
    info = make_credentials("ignored", tmp_path / "pw", "mqtts://h:8883", server=True)
    assert info["username"] == "privcard-server"


def test_device_url_keeps_query_and_parses_back():
    from broker.client import parse_mqtt_url

    url = device_url("mqtts://broker.lib.example:8883?ca=/etc/privcard/ca.pem", "gate-1", "p-w_d")
    s = parse_mqtt_url(url)
    assert (s.username, s.password, s.host, s.port, s.ca, s.tls) == (
        "gate-1",
        "p-w_d",
        "broker.lib.example",
        8883,
        "/etc/privcard/ca.pem",
        True,
    )


def test_cli_prints_settings_and_json(tmp_path):
    from server import admin
    from tests.helpers import close_store, open_service

    db_url = f"sqlite:///{tmp_path / 'p.db'}"
    svc = open_service(db_url)
    svc.devices.add("gate-9", "gate", direction="in")
    close_store()
    pw = tmp_path / "passwd"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = admin.main(
            [
                "--db",
                db_url,
                "device",
                "credentials",
                "gate-9",
                "--password-file",
                str(pw),
                "--broker-url",
                "mqtts://broker:8883?ca=/etc/privcard/ca.pem",
            ]
        )
    text = out.getvalue()
    assert rc == 0, text
    assert "--mqtt 'mqtts://gate-9:" in text and "@broker:8883?ca=/etc/privcard/ca.pem'" in text
    assert "/etc/privcard/gate-9.env" in text and "PRIVCARD_MQTT=mqtts://gate-9:" in text
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = admin.main(["--db", db_url, "device", "credentials", "gate-9", "--json", "--password-file", str(pw)])
    data = json.loads(out.getvalue())
    assert rc == 0 and data["replaced"] is True and data["username"] == "gate-9"
    assert verify_password(data["password"], read_entries(pw)["gate-9"])
    # the audit log remembers who issued credentials (never the password)
    svc = open_service(db_url)
    from server.store import Audit

    rows = list(Audit.select().where(Audit.action == "device.credentials"))
    close_store()
    assert len(rows) == 2 and data["password"] not in json.dumps(rows[0].detail)


def test_mosquitto_accepts_python_made_entries(tmp_path):
    """The real broker authenticates a password we hashed (and refuses a wrong one)."""
    from tests.security.prodbroker import ProductionMosquitto

    if not find_mosquitto():
        pytest.fail("Mosquitto is not installed", pytrace=False)
    broker = ProductionMosquitto()
    pw = broker.add_user("gate-py", reload=False)
    broker.start()
    try:
        for password, ok in ((pw, True), (pw + "x", False)):
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"c{ok}")
            c.username_pw_set("gate-py", password)
            codes = []
            c.on_connect = lambda cl, u, f, rc, p, codes=codes: codes.append(rc)
            c.connect(broker.host, broker.port)
            c.loop_start()
            deadline = time.monotonic() + 5
            while not codes and time.monotonic() < deadline:
                time.sleep(0.02)
            c.disconnect()
            c.loop_stop()
            assert codes and (not codes[0].is_failure) == ok, codes
    finally:
        broker.close()


def test_production_config_has_the_required_settings():
    d = dict(directives(production_conf()))
    pairs = directives(production_conf())
    assert d["allow_anonymous"] == "false"
    assert d["per_listener_settings"] == "false"
    assert "password_file" in d and "acl_file" in d
    assert d["persistence"] == "true" and int(d["autosave_interval"]) <= 30
    assert d["set_tcp_nodelay"] == "true"
    assert int(d["max_queued_messages"]) >= 10000 and int(d["max_inflight_messages"]) >= 100
    listeners = [v for k, v in pairs if k == "listener"]
    assert "1883 127.0.0.1" in listeners and "8883" in listeners
    assert d["tls_version"] in ("tlsv1.2", "tlsv1.3")
    for key in ("cafile", "certfile", "keyfile"):
        assert key in d
    # render_conf changes values only
    r = render_conf(plain_port=1, tls_port=2, paths={"acl_file": "/x/acl"})
    assert "listener 1 127.0.0.1" in r and "listener 2" in r and "acl_file /x/acl" in r
    assert len(directives(r)) == len(pairs)


def test_acl_confines_devices_by_username():
    acl = [line.split() for line in production_acl().splitlines() if line.strip() and not line.startswith("#")]
    patterns = {(w[1], w[2]) for w in acl if w[0] == "pattern"}
    # every account reads its own result/config and the allow-list; writes come per device (below)
    assert patterns == {("read", f"privcard/dev/%u/{k}") for k in ("result", "config")} | {
        ("read", "privcard/allowlist")
    }
    # no topic line before the first user line (those would apply to anonymous clients)
    first_user = next(i for i, w in enumerate(acl) if w[0] == "user")
    assert not [w for w in acl[:first_user] if w[0] == "topic"]
    assert ["user", credentials.SERVER_USERNAME] in acl


def test_acl_device_section_follows_the_capability_table(tmp_path):
    """What a device may write is its kind's row of broker.contract.CAPABILITIES, nothing more."""
    from broker import contract
    from broker.mosquitto import access

    acl = tmp_path / "acl"
    access.write_devices(acl, {"gate-1": "gate", "kiosk-1": "kiosk", "counter-1": "counter"})
    text = acl.read_text()
    assert text.startswith(production_acl().rstrip("\n"))  # the shipped part is kept as it is
    assert access.read_devices(acl) == {
        "gate-1": "status tap",
        "kiosk-1": "feedback query status tap",
        "counter-1": "status tap",
    }
    assert "topic read privcard/dev/kiosk-1/answer" in text and "privcard/dev/gate-1/answer" not in text
    # rewriting replaces the section (a retired device disappears), once
    access.write_devices(acl, {"kiosk-1": "kiosk"})
    assert list(access.read_devices(acl)) == ["kiosk-1"] and acl.read_text().count(access.BEGIN) == 1
    for kind in contract.DEVICE_KINDS:
        assert access.device_rules("x", kind)[1:], kind
    with pytest.raises(access.AccessError, match="unknown device kind"):
        access.device_rules("x", "toaster")
