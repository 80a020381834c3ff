"""``privcard setup site-broker`` end to end, with real processes.

On the "central server": ``privcard admin site bridge NORTH --bundle FILE`` (the bridge
account and the site section in a real central Mosquitto's files) and a ``privcard
server`` on that broker. On the "site broker's machine": ``privcard setup site-broker
--root DIR --bundle FILE``, then a real Mosquitto runs the config it wrote (only ports, file
paths and the log destination changed, as for every production-config test), bridged to
the central broker over TLS. The site's devices log in to the site broker over TLS with
the passwords and the CA that setup gave them (its printed ``privcard setup gate|kiosk``
commands).

- the retained config the server publishes on the central broker reaches a gate connected
  to the site broker, retained there too (a gate that connects later still gets it), and a
  change made on the server arrives the same way;
- a kiosk's query on the site broker is answered by the server through the bridge;
- ``privcard doctor``'s bridge check says "connected" (English and Thai) while the link is
  up and fails, with its fix, when the central broker goes away.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from broker import contract
from broker.mosquitto import bridge
from broker.mosquitto.certs import make_pki
from install import doctor, setup
from install.roles import read_env
from tests.brokers import find_mosquitto
from tests.helpers import Device, run_admin
from tests.site_brokers import TWO_SITES_TOML, Centre

WHEEL = "privcard-1.2.3-py3-none-any.whl"
CARD = "04C0FFEE0001"


def _device_urls(root: Path, site) -> dict[str, str]:
    """Each device's --mqtt URL from the commands setup wrote, pointed at the test's site broker port."""
    urls = {}
    for line in (root / "etc/privcard/site-devices.txt").read_text().splitlines():
        url = line.split("--mqtt '", 1)[1].rstrip("'")
        parts = urlsplit(url)
        assert parts.scheme == "mqtts" and parse_qs(parts.query)["ca"] == ["/etc/privcard/ca.pem"], url
        ca = root / "etc/mosquitto/privcard/ca.pem"  # what the device gets as ca.pem
        urls[parts.username] = f"mqtts://{parts.username}:{parts.password}@localhost:{site.tls_port}?ca={ca}"
    return urls


class Retained:
    """A device's own MQTT client subscribed to its config topic: (payload, retain flag) of each message."""

    def __init__(self, url: str, topic: str):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parts = urlsplit(url)
        self.messages: list[tuple[dict, bool]] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=parts.username, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(parts.username, parts.password)
        self.client.tls_set(ca_certs=parse_qs(parts.query)["ca"][0])
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname, parts.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.messages.append((json.loads(msg.payload), bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, check, timeout: float = 20.0) -> tuple[dict, bool] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while time.monotonic() < deadline:
                for m in self.messages:
                    if check(m):
                        return m
                self.cond.wait(0.2)
        return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _bridge_check(env: dict, site) -> doctor.Check:
    url = env["PRIVCARD_MQTT"].replace("127.0.0.1:1883", f"{site.host}:{site.port}")
    return doctor.check_bridge(url, env["PRIVCARD_SITE"], env["PRIVCARD_CENTRAL"], timeout=3)


def _wait_check(env, site, ok: bool, timeout: float = 30.0) -> doctor.Check:
    deadline = time.monotonic() + timeout
    while True:
        check = _bridge_check(env, site)
        if check.ok == ok or time.monotonic() > deadline:
            return check
        time.sleep(0.5)


@pytest.fixture
def bridged_site(tmp_path, capsys):
    if not find_mosquitto():
        pytest.fail("Mosquitto is not installed (apt-get install mosquitto)", pytrace=False)
    with Centre(tmp_path, TWO_SITES_TOML) as centre:
        centre.start()
        centre.add_devices({"n1": ("gate", "NORTH"), "k1": ("kiosk", "NORTH"), "s1": ("gate", "SOUTH")})
        centre.add_members({CARD: "Somchai Bridge"})
        bundle = tmp_path / "NORTH.bundle"
        centre.bridge("NORTH", bundle=bundle)
        assert bundle.stat().st_mode & 0o777 == 0o600
        # the site broker's machine
        root = tmp_path / "site-root"
        argv = ["site-broker", "--root", str(root), "--wheel", WHEEL, "--bundle", str(bundle)]
        argv += ["--host", "localhost", "--host", "127.0.0.1", "--no-start"]
        assert setup.main(argv) == 0, capsys.readouterr()
        first = capsys.readouterr().out
        assert "sudo privcard setup gate --device-id n1 --ca ca.pem" in first, first
        commands = (root / "etc/privcard/site-devices.txt").read_text()
        # SOUTH's gate is not here (matched as a device id: the file also holds random passwords)
        assert "--device-id n1 " in commands and "--device-id s1 " not in commands, commands
        assert setup.main(argv) == 0
        assert "privcard setup site-broker: no changes" in capsys.readouterr().out
        site = centre.site_broker_from_setup(root)
        env = read_env((root / "etc/privcard/site-broker.env").read_text())
        centre.start_server()
        yield centre.parts(site=site, root=root, env=env)


def test_a_retained_device_config_from_the_server_reaches_a_gate_on_the_site_broker(bridged_site):
    site, root = bridged_site["site"], bridged_site["root"]
    check = _wait_check(bridged_site["env"], site, ok=True)
    assert check.ok, f"{check.line()}\nsite broker log:\n{site.log()[-3000:]}"
    urls = _device_urls(root, site)
    assert set(urls) == {"n1", "k1"}
    topic = contract.config_topic("n1")
    gate = Retained(urls["n1"], topic)
    try:
        got = gate.wait(lambda m: m[0]["device_id"] == "n1")
        assert got, f"no config for n1 on the site broker; its log:\n{site.log()[-3000:]}"
        first_revision = got[0]["revision"]
        # the server changes the device: the new revision comes through the bridge
        code, out = run_admin(
            bridged_site["db"], "--config", str(bridged_site["lib"]), "device", "set", "n1", "open_ms=2500"
        )
        assert code == 0, out
        changed = gate.wait(lambda m: m[0]["settings"].get("open_ms") == 2500)
        assert changed and changed[0]["revision"] > first_revision, gate.messages
    finally:
        gate.close()
    # a gate that connects (again) later gets it from the site broker's retained copy
    time.sleep(0.5)
    again = Retained(urls["n1"], topic)
    try:
        got = again.wait(lambda m: True, timeout=10)
        assert got and got[1], f"the site broker did not keep n1's config retained: {again.messages}"
        assert got[0]["settings"]["open_ms"] == 2500
    finally:
        again.close()


def test_a_kiosk_query_on_the_site_broker_is_answered_by_the_server_through_the_bridge(bridged_site):
    site, root = bridged_site["site"], bridged_site["root"]
    assert _wait_check(bridged_site["env"], site, ok=True).ok
    urls = _device_urls(root, site)
    with Device(urls["k1"]) as kiosk:
        answer = kiosk.query("k1", CARD, timeout=30)
    assert answer.outcome == "member", answer
    assert answer.member["name"] == "Somchai Bridge" and answer.balance >= 0


def test_doctor_says_whether_the_bridge_is_connected_in_english_and_thai(bridged_site):
    site, env = bridged_site["site"], bridged_site["env"]
    up = _wait_check(env, site, ok=True)
    assert up.ok, up.line()
    assert f"connected to the central broker {env['PRIVCARD_CENTRAL']} as bridge-NORTH" in up.detail
    assert "เชื่อมต่อกับโบรกเกอร์กลาง" in up.detail
    bridged_site["central"].stop()
    down = _wait_check(env, site, ok=False)
    assert not down.ok, down.line()
    assert "NOT connected to the central broker" in down.detail and "ไม่ได้เชื่อมต่อ" in down.detail
    assert "systemctl restart mosquitto" in down.fix
    assert down.line().startswith("FAIL bridge:")
    # a wrong monitoring password is told apart from a link that is down
    wrong = doctor.check_bridge(
        f"mqtt://privcard-monitor:wrong@{site.host}:{site.port}", "NORTH", env["PRIVCARD_CENTRAL"], timeout=3
    )
    assert not wrong.ok and "cannot ask the site broker" in wrong.detail


def _bundle_file(tmp_path: Path) -> Path:
    """A bundle as the centre writes it (its CA from a throwaway PKI), without a central broker."""
    ca = make_pki(tmp_path / "central", ["central.library.example"]).ca_cert.read_text()
    bundle = bridge.Bundle(
        "NORTH", "central.library.example:8883", "mqttv50", "bridge-pw", ca, {"n1": ("gate", "n1-pw")}
    )
    path = tmp_path / "NORTH.bundle"
    path.write_text(bundle.to_json())
    return path


def _verifies(root: Path, host: str) -> bool:
    """Does the site broker's certificate verify against the CA the devices have, for ``host``?"""
    etc = root / "etc/mosquitto/privcard"
    flag = "-verify_ip" if host[0].isdigit() else "-verify_hostname"
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(etc / "ca.pem"), flag, host, str(etc / "server.pem")],
        capture_output=True,
        text=True,
    )
    return done.returncode == 0


def test_a_bare_second_run_keeps_the_host_name_the_devices_were_given(tmp_path, capsys):
    """``privcard setup site-broker`` without --bundle and --host re-applies the kept bundle: no changes
    (it used to print the devices' commands with this machine's host name instead, found on a booted system)."""
    bundle = _bundle_file(tmp_path)
    root = tmp_path / "site-root"
    argv = ["site-broker", "--root", str(root), "--wheel", WHEEL, "--no-start"]
    assert setup.main([*argv, "--bundle", str(bundle), "--host", "north-broker.example"]) == 0
    assert "@north-broker.example:8883" in capsys.readouterr().out
    assert setup.main(argv) == 0
    out = capsys.readouterr().out
    assert "privcard setup site-broker: no changes" in out, out
    assert "@north-broker.example:8883" in out
    assert "@north-broker.example:8883" in (root / "etc/privcard/site-devices.txt").read_text()
    # a new --host is taken (and kept for the next bare run), and the certificate names it
    assert setup.main([*argv, "--host", "10.1.0.2"]) == 0
    out = capsys.readouterr().out
    assert "update /etc/privcard/site-devices.txt" in out and "re-issue the server certificate" in out, out
    assert _verifies(root, "10.1.0.2")
    assert setup.main(argv) == 0
    out = capsys.readouterr().out
    assert "no changes" in out and "@10.1.0.2:8883" in out, out


def test_a_removed_server_certificate_is_re_issued_from_the_same_ca_for_the_kept_names(tmp_path, capsys):
    """doctor's fix for an expired certificate (remove it, run setup again) keeps the devices' ca.pem valid:
    the certificate is signed by the same CA, for the names the first run was given (it used to make a
    new CA, for this machine's host name)."""
    bundle = _bundle_file(tmp_path)
    root = tmp_path / "site-root"
    argv = ["site-broker", "--root", str(root), "--wheel", WHEEL, "--no-start"]
    assert setup.main([*argv, "--bundle", str(bundle), "--host", "north-broker.example", "--host", "10.1.0.2"]) == 0
    etc = root / "etc/mosquitto/privcard"
    ca, old = (etc / "ca.pem").read_bytes(), (etc / "server.pem").read_bytes()
    capsys.readouterr()
    (etc / "server.pem").unlink()
    assert setup.main(argv) == 0
    out = capsys.readouterr().out
    assert "re-issue the server certificate for north-broker.example, 10.1.0.2 from this machine's CA" in out, out
    assert "a private CA" not in out
    assert (etc / "ca.pem").read_bytes() == ca and (etc / "server.pem").read_bytes() != old
    assert _verifies(root, "north-broker.example") and _verifies(root, "10.1.0.2")
    assert setup.main(argv) == 0
    assert "no changes" in capsys.readouterr().out
    # without the CA key (kept offline) it says what to do instead of making a new CA
    (root / "etc/privcard/ca.key").unlink()
    (etc / "server.pem").unlink()
    assert setup.main(argv) == 1
    err = capsys.readouterr().err
    assert "/etc/privcard/ca.key" in err and "put it back" in err, err
    assert (etc / "ca.pem").read_bytes() == ca
