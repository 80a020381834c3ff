"""From a fresh Debian bookworm to a working gate with `privcard setup`, on a booted system.

The short run (``make test``): boot, pip install the built wheel, ``privcard setup server``,
``privcard setup device-credentials gate-1``, ``privcard setup gate`` (a pty reader, mock
GPIO), a tap credited, every unit active, ``privcard doctor --json`` all green, and a
second ``setup`` changes nothing. The long run (``make chaos``) adds kill -9, a reboot with
no tap lost, one fault at a time named by the doctor, and an upgrade that rolls back.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

UID = "04A1B2C3D4E5F6"
SETUP = "/root/privcard/bin/privcard setup"
ADMIN = "/opt/privcard/venv/bin/privcard admin"
DB = "--db sqlite:////var/lib/privcard/privcard.db"
WH = "--find-links /wheelhouse --no-index"
UNITS = ["mosquitto.service", "privcard-server.service", "privcard-gate@gate-1.service"]


def install(box) -> dict:
    """The documented steps, as a library's IT person types them; seconds per step."""
    took = {}
    t = time.monotonic()
    box.sh(f"python3 -m venv /root/privcard && /root/privcard/bin/pip install -q {WH} '{box.wheel}'")
    took["pip install"] = time.monotonic() - t
    t = time.monotonic()
    box.sh(f"{SETUP} server {WH} --host localhost --host 127.0.0.1")
    took["setup server"] = time.monotonic() - t
    out = box.sh(f"{SETUP} device-credentials gate-1 --kind gate --host localhost --json").stdout
    creds = json.loads(out.strip().splitlines()[-1])
    box.sh("systemctl restart privcard-test-reader")  # the pty's group is privcard now
    t = time.monotonic()
    box.sh(
        f"{SETUP} gate {WH} --device-id gate-1 --mqtt '{creds['mqtt_url']}' "
        "--reader 'serial:/run/privcard-reader?format=line' --gpio-factory mock"
    )
    took["setup gate"] = time.monotonic() - t
    box.sh(f"{ADMIN} member add --name Somchai --card {UID} {DB}")
    return took


def balance(box) -> int:
    out = box.sh(f"runuser -u privcard -- {ADMIN} member show {UID} {DB} --json").stdout
    return int(json.loads(out)["balance"])


def tap(box, uid: str = UID) -> None:
    box.sh(f"echo {uid} > /run/privcard-reader.in", timeout=10)


def wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except AssertionError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last or ''}")


def doctor(box) -> dict:
    done = box.sh("/opt/privcard/venv/bin/privcard doctor --json", check=False)
    return json.loads(done.stdout)


def failing(report: dict) -> list[str]:
    return [c["name"] for c in report["checks"] if not c["ok"]]


def wait_synchronised(box) -> None:
    wait_for(
        lambda: box.sh("timedatectl show -p NTPSynchronized --value", check=False).stdout.strip() == "yes",
        60,
        "timesyncd to synchronise against the test NTP server",
    )


def test_fresh_system_to_working_gate(booted):
    box = booted
    took = install(box)
    print(f"boot {box.boot_seconds:.1f} s; " + "; ".join(f"{k} {v:.1f} s" for k, v in took.items()))
    for unit in UNITS:
        assert box.sh(f"systemctl is-active {unit}", check=False).stdout.strip() == "active", box.sh(
            f"journalctl -u {unit} -n 40 --no-pager", check=False
        ).stdout
    before = balance(box)
    tap(box)
    wait_for(lambda: balance(box) > before, 30, "the tap to be credited")
    wait_synchronised(box)
    report = doctor(box)
    assert report["ok"], json.dumps(report, indent=1)
    names = {c["name"] for c in report["checks"]}
    assert {"time", "broker", "acl", "certificate broker", "database", "reader", "gpio", "disk"} <= names, names
    text = box.sh("/opt/privcard/venv/bin/privcard doctor").stdout  # the human form: one line per check
    assert "FAIL" not in text and f"{len(report['checks'])}/{len(report['checks'])} checks passed" in text, text
    # a second run changes nothing
    again = box.sh(f"{SETUP} gate {WH}").stdout
    assert "no changes" in again, again
    again = box.sh(f"{SETUP} server {WH}").stdout
    assert "no changes" in again, again
    # --dry-run on the real system: prints the change, makes none
    before = box.sh("sha256sum /etc/privcard/gate-1.env; systemctl show -p MainPID --value privcard-gate@gate-1").stdout
    dry = box.sh(f"{SETUP} gate {WH} --reader hid:/dev/privcard-reader --dry-run").stdout
    assert "would update /etc/privcard/gate-1.env" in dry and "would run systemctl restart" in dry, dry
    after = box.sh("sha256sum /etc/privcard/gate-1.env; systemctl show -p MainPID --value privcard-gate@gate-1").stdout
    assert after == before
