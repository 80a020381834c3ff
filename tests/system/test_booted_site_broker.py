"""``privcard setup site-broker`` on a booted system, bridged to a central broker on the host.

The central side runs on the host, as on the central server: a Mosquitto with the
production config (its TLS certificate names ``central.privcard.test``), ``privcard admin
site bridge NORTH --bundle`` on its files and a ``privcard server`` on it. The container is
the site broker's machine: its only route out is a veth link to the host (the central
broker listens on the host's end), ``central.privcard.test`` in its /etc/hosts.

The short run (``make test``): pip install the wheel, ``privcard setup site-broker --bundle``
for real (systemd starts Mosquitto), the server's retained config for the site's gate
reaches the site broker, a tap the gate publishes on the site broker reaches the server on
the central broker (credited; the result comes back through the bridge), ``privcard doctor``
all green with its bridge check connected, and a second ``setup site-broker`` (with the
same arguments, and bare) changes nothing. The long run (``make chaos``) stops the central
broker: doctor names the bridge, taps made meanwhile wait on the site broker and are
credited once after it is back; then an expired site certificate, which doctor names and
whose printed fix renews it from the same CA (the gate's ca.pem still works).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from broker import contract
from tests.brokers import find_mosquitto
from tests.helpers import run_admin
from tests.site_brokers import TWO_SITES_TOML, Centre
from tests.system.test_booted import SETUP, WH, doctor, failing, wait_for, wait_synchronised

FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")
pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

CENTRAL = "central.privcard.test"
CARD = "04C0FFEE5173"
SITE_CA = "/etc/mosquitto/privcard/ca.pem"


def device_passwords(box) -> dict[str, str]:
    """Each device's password on the site broker, from the commands setup kept (site-devices.txt)."""
    out = {}
    for line in box.sh("cat /etc/privcard/site-devices.txt").stdout.splitlines():
        url = urlsplit(line.split("--mqtt '", 1)[1].rstrip("'"))
        assert url.hostname == "localhost" and url.port == 8883, line
        out[url.username] = url.password
    return out


def client_args(device: str, password: str) -> str:
    """mosquitto-clients options for a device on the site broker (TLS on 8883 against the site's CA)."""
    return f"-h localhost -p 8883 --cafile {SITE_CA} -u {device} -P {shlex.quote(password)} -q 1"


def tap(box, device: str, password: str, tap_id: str, *, uid: str = CARD, timeout: int = 30):
    """A gate's tap on the site broker, waiting for its result there (one connection: mosquitto_rr)."""
    payload = contract.Tap(tap_id=tap_id, uid=uid, at=contract.now_utc(), clock_ok=True).encode().decode()
    done = box.sh(
        f"mosquitto_rr {client_args(device, password)} -t {contract.tap_topic(device)} "
        f"-e {contract.result_topic(device)} -m {shlex.quote(payload)} -W {timeout}",
        check=False,
        timeout=timeout + 10,
    )
    return done


def balance(db: str, lib: Path, uid: str = CARD) -> int:
    code, out = run_admin(db, "--config", str(lib), "member", "show", uid)
    assert code == 0, out
    return int(out["balance"])


def bridge_check(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "bridge")


@pytest.fixture(scope="module")
def site(booted, tmp_path_factory):
    """The central broker and server on the host, the bundle, and the site broker set up in the container."""
    if not find_mosquitto():
        pytest.fail("Mosquitto is not installed on the host (apt-get install mosquitto)", pytrace=False)
    box = booted
    host_ip, _ = box.link_to_host()
    box.sh(f"echo '{host_ip} {CENTRAL}' >> /etc/hosts")
    # the central broker's certificate names it, as `privcard setup server --host central...` makes it
    centre = Centre(tmp_path_factory.mktemp("central"), TWO_SITES_TOML, host=host_ip, names=[CENTRAL, host_ip])
    try:
        central = centre.start().broker
        centre.add_devices({"n1": ("gate", "NORTH"), "k1": ("kiosk", "NORTH")})
        centre.add_members({CARD: "Somchai Site"})
        bundle = centre.workdir / "NORTH.bundle"
        centre.bridge("NORTH", central=f"{CENTRAL}:{central.tls_port}", bundle=bundle)
        centre.start_server()
        # the site broker's machine: the documented steps (docs/deployment.md §12 "Site brokers")
        (box.root / "root/NORTH.bundle").write_bytes(bundle.read_bytes())
        os.chmod(box.root / "root/NORTH.bundle", 0o600)
        took = {}
        t = time.monotonic()
        box.sh(f"python3 -m venv /root/privcard && /root/privcard/bin/pip install -q {WH} '{box.wheel}'")
        took["pip install"] = time.monotonic() - t
        t = time.monotonic()
        first = box.sh(f"{SETUP} site-broker {WH} --bundle /root/NORTH.bundle --host localhost --host 127.0.0.1")
        took["setup site-broker"] = time.monotonic() - t
        print(f"boot {box.boot_seconds:.1f} s; " + "; ".join(f"{k} {v:.1f} s" for k, v in took.items()))
        yield centre.parts(box=box, first=first.stdout)
    finally:
        centre.close()
        box.unlink_host()


def test_site_broker_set_up_on_a_booted_system_bridges_to_the_central_broker(site):
    box, first = site["box"], site["first"]
    assert "sudo privcard setup gate --device-id n1 --ca ca.pem" in first, first
    assert box.sh("systemctl is-active mosquitto", check=False).stdout.strip() == "active", box.sh(
        "journalctl -u mosquitto -n 40 --no-pager", check=False
    ).stdout
    assert box.sh("systemctl is-enabled mosquitto", check=False).stdout.strip() == "enabled"
    passwords = device_passwords(box)
    assert set(passwords) == {"n1", "k1"}, passwords

    # the centre -> the site: the server's retained config for n1, kept on the site broker
    got = box.sh(
        f"mosquitto_sub {client_args('n1', passwords['n1'])} -t {contract.config_topic('n1')} -C 1 -W 30",
        check=False,
        timeout=40,
    )
    assert got.returncode == 0 and got.stdout.strip(), (
        f"no retained config for n1 on the site broker: {got.stderr}\n"
        + box.sh("journalctl -u mosquitto -n 40 --no-pager", check=False).stdout
    )
    assert json.loads(got.stdout)["device_id"] == "n1"

    # the site -> the centre: n1's tap on the site broker reaches the server on n1's topic
    before = balance(site["db"], site["lib"])
    done = tap(box, "n1", passwords["n1"], "n1:booted:1")
    assert done.returncode == 0 and done.stdout.strip(), (
        f"no result for n1's tap through the bridge: {done.stderr}\nserver log:\n{site['server'].log_tail()}"
    )
    result = contract.TapResult.parse(done.stdout.strip())
    assert result.tap_id == "n1:booted:1" and result.outcome == "credited", result
    assert balance(site["db"], site["lib"]) == before + result.points > before

    # privcard doctor on the site broker: all green, the bridge connected (English and Thai)
    wait_synchronised(box)
    report = doctor(box)
    assert report["ok"], json.dumps(report, indent=1, ensure_ascii=False)
    check = bridge_check(report)
    assert f"connected to the central broker {CENTRAL}:{site['central'].tls_port} as bridge-NORTH" in check["detail"]
    assert "เชื่อมต่อกับโบรกเกอร์กลาง" in check["detail"]
    names = {c["name"] for c in report["checks"]}
    assert {"time", "bridge", "certificate site broker", "certificate central CA", "disk"} <= names, names

    # a second run, with the same arguments and bare (the bundle and host kept), changes nothing
    pid = box.sh("systemctl show -p MainPID --value mosquitto").stdout.strip()
    again = box.sh(f"{SETUP} site-broker {WH} --bundle /root/NORTH.bundle --host localhost --host 127.0.0.1").stdout
    assert "no changes" in again, again
    again = box.sh(f"{SETUP} site-broker {WH}").stdout
    assert "no changes" in again, again
    assert box.sh("systemctl show -p MainPID --value mosquitto").stdout.strip() == pid
    assert device_passwords(box) == passwords


@pytest.mark.chaos
@pytest.mark.skipif(not FULL, reason="the link outage needs PRIVCARD_CHAOS=full (make chaos)")
def test_taps_made_while_the_centre_is_away_are_credited_once_when_it_is_back(site):
    box, central, db, lib = site["box"], site["central"], site["db"], site["lib"]
    passwords = device_passwords(box)
    cards = [f"04C0FFEE51{n:02X}" for n in range(1, 4)]  # one member each: every first tap of the day earns
    for n, uid in enumerate(cards):
        code, out = run_admin(db, "--config", str(lib), "member", "add", "--name", f"Outage {n}", "--card", uid)
        assert code == 0, out
    t = time.monotonic()
    central.stop()  # the centre goes away: the bridge drops, the site broker keeps its devices
    wait_for(lambda: "bridge" in failing(doctor(box)), 60, "doctor to name the bridge")
    took = {"doctor names the bridge": time.monotonic() - t}
    down = bridge_check(doctor(box))
    assert "NOT connected" in down["detail"] and "ไม่ได้เชื่อมต่อ" in down["detail"], down
    assert "systemctl restart mosquitto" in down["fix"], down
    # taps on the site broker meanwhile: no answer now (the gate decides offline), queued by the bridge
    for n, uid in enumerate(cards):
        assert tap(box, "n1", passwords["n1"], f"n1:outage:{n}", uid=uid, timeout=2).returncode != 0
    t = time.monotonic()
    central.start()
    wait_for(lambda: bridge_check(doctor(box))["ok"], 120, "the bridge to reconnect")
    took["bridge reconnected"] = time.monotonic() - t
    for uid in cards:
        wait_for(lambda uid=uid: balance(db, lib, uid) > 0, 60, f"{uid}'s queued tap to be credited")
    took["queued taps credited"] = time.monotonic() - t
    print("; ".join(f"{k} after {v:.1f} s" for k, v in took.items()))
    credited = {uid: balance(db, lib, uid) for uid in cards}
    # the gate's outbox resends one of them: the same result, not credited twice
    again = tap(box, "n1", passwords["n1"], "n1:outage:0", uid=cards[0])
    assert again.returncode == 0, again.stderr
    result = contract.TapResult.parse(again.stdout.strip())
    assert result.tap_id == "n1:outage:0" and result.outcome == "credited", result
    assert {uid: balance(db, lib, uid) for uid in cards} == credited


@pytest.mark.chaos
@pytest.mark.skipif(not FULL, reason="the expired certificate needs PRIVCARD_CHAOS=full (make chaos)")
def test_doctor_names_an_expired_site_certificate_and_its_fix_keeps_the_devices_ca(site):
    from tests.system.test_booted_chaos import expired_certificate, renew_as_doctor_says

    box = site["box"]
    passwords = device_passwords(box)
    box.root.joinpath("etc/mosquitto/privcard/server.pem").write_bytes(expired_certificate(box))
    box.sh("systemctl restart mosquitto")
    wait_for(lambda: "certificate site broker" in failing(doctor(box)), 30, "doctor to name the site certificate")
    renew_as_doctor_says(box, "certificate site broker", f"{SETUP} site-broker {WH}")
    wait_for(lambda: doctor(box)["ok"], 60, "doctor all green after the fix")
    # the gate, with the ca.pem it was given at the start, still logs in and is answered
    done = tap(box, "n1", passwords["n1"], "n1:renewed:1", uid="04C0FFEE51FF")
    assert done.returncode == 0, done.stderr
    assert contract.TapResult.parse(done.stdout.strip()).outcome == "unknown_card"
