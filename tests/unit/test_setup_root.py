"""``privcard setup`` against a root prefix (``--root DIR``): idempotent, dry-run, edits kept, --force.

The files are real (written under a temporary root); commands (useradd, pip, systemctl)
are only listed under a root prefix — the booted-system test (tests/system) runs them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from install import setup
from install.plan import MANIFEST

WHEEL = "privcard-1.2.3-py3-none-any.whl"


def tree(root: Path) -> dict[str, str]:
    """Every file under root with its hash, mode and link target (what 'no change' means)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_file():
            out[rel] = f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mode & 0o7777:o}"
        else:
            out[rel] = f"dir {p.stat().st_mode & 0o7777:o}"
    return out


def run(root: Path, *argv: str, capsys=None) -> tuple[int, str]:
    code = setup.main([*argv, "--root", str(root)])
    text = capsys.readouterr().out if capsys else ""
    return code, text


GATE = (
    "gate",
    "--wheel",
    WHEEL,
    "--device-id",
    "gate-1",
    "--mqtt",
    "mqtts://gate-1:pw@broker:8883?ca=/etc/privcard/ca.pem",
)
SERVER = ("server", "--wheel", WHEEL, "--host", "broker.example", "--no-start")


@pytest.mark.parametrize("argv", [GATE, SERVER], ids=["gate", "server"])
def test_second_run_changes_nothing(tmp_path, capsys, argv):
    code, first = run(tmp_path, *argv, capsys=capsys)
    assert code == 0, first
    assert "create /etc/systemd/system/" in first
    before = tree(tmp_path)
    code, second = run(tmp_path, *argv[:1], "--wheel", WHEEL, capsys=capsys)
    assert code == 0
    assert "no changes" in second, second
    assert tree(tmp_path) == before


def test_gate_files(tmp_path, capsys):
    run(tmp_path, *GATE, "--reader", "serial:/dev/ttyAMA0?format=rdm6300", capsys=capsys)
    env = (tmp_path / "etc/privcard/gate-1.env").read_text()
    assert "PRIVCARD_MQTT=mqtts://gate-1:pw@broker:8883?ca=/etc/privcard/ca.pem" in env
    assert "PRIVCARD_GATE_ARGS=--reader serial:/dev/ttyAMA0?format=rdm6300" in env
    assert (tmp_path / "etc/privcard/gate-1.env").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "etc/systemd/system/privcard-gate@.service").exists()
    assert (tmp_path / "etc/udev/rules.d/99-privcard-readers.rules").exists()
    assert "RuntimeWatchdogSec=15" in (tmp_path / "etc/systemd/system.conf.d/privcard-watchdog.conf").read_text()
    assert "SystemMaxUse=" in (tmp_path / "etc/systemd/journald.conf.d/privcard.conf").read_text()
    assert "wifi.powersave = 2" in (tmp_path / "etc/NetworkManager/conf.d/privcard-wifi-powersave.conf").read_text()
    assert (tmp_path / "opt/privcard/venv").readlink() == Path("venvs/1.2.3")
    manifest = json.loads((tmp_path / MANIFEST.lstrip("/")).read_text())
    assert manifest["settings"]["gate"]["device_id"] == "gate-1"
    assert "/etc/privcard/gate-1.env" in manifest["files"]


def test_server_files(tmp_path, capsys):
    code, out = run(tmp_path, *SERVER, capsys=capsys)
    assert code == 0, out
    conf = (tmp_path / "etc/mosquitto/conf.d/privcard.conf").read_text()
    assert "allow_anonymous false" in conf
    pem = tmp_path / "etc/mosquitto/privcard/server.pem"
    assert pem.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (tmp_path / "etc/mosquitto/privcard/server.key").stat().st_mode & 0o777 == 0o640
    assert "privcard-server:$7$" in (tmp_path / "etc/mosquitto/privcard/passwd").read_text()
    env = (tmp_path / "etc/privcard/server.env").read_text()
    assert (
        "PRIVCARD_MQTT=mqtt://privcard-server:" in env and "PRIVCARD_DB=sqlite:////var/lib/privcard/privcard.db" in env
    )
    assert (tmp_path / "etc/privcard/programme.toml").exists()


def test_debian_mosquitto_duplicates_commented_out_once(tmp_path, capsys):
    main = tmp_path / "etc/mosquitto/mosquitto.conf"
    main.parent.mkdir(parents=True)
    main.write_text(
        "pid_file /run/mosquitto/mosquitto.pid\npersistence true\npersistence_location /var/lib/mosquitto/\n"
        "log_dest file /var/log/mosquitto/mosquitto.log\ninclude_dir /etc/mosquitto/conf.d\n"
    )
    run(tmp_path, *SERVER, capsys=capsys)
    text = main.read_text()
    assert "\npersistence true" not in text and "# privcard setup" in text
    assert "include_dir /etc/mosquitto/conf.d" in text
    _, again = run(tmp_path, "server", "--wheel", WHEEL, "--no-start", capsys=capsys)
    assert "no changes" in again


def test_dry_run_changes_nothing(tmp_path, capsys):
    code, out = run(tmp_path, *GATE, "--dry-run", capsys=capsys)
    assert code == 0
    assert "would create /etc/privcard/gate-1.env" in out
    assert "would run python3 -m venv" in out
    assert tree(tmp_path) == {}
    run(tmp_path, *GATE, capsys=capsys)
    before = tree(tmp_path)
    code, out = run(tmp_path, *GATE, "--reader", "hid:/dev/privcard-reader", "--dry-run", capsys=capsys)
    assert "would update /etc/privcard/gate-1.env" in out
    assert tree(tmp_path) == before


def test_edited_file_kept_unless_force(tmp_path, capsys):
    run(tmp_path, *GATE, capsys=capsys)
    journald = tmp_path / "etc/systemd/journald.conf.d/privcard.conf"
    journald.write_text("[Journal]\nSystemMaxUse=500M\n")  # a person's choice
    code, out = run(tmp_path, *GATE, capsys=capsys)
    assert code == 3
    assert "kept /etc/systemd/journald.conf.d/privcard.conf" in out
    assert journald.read_text() == "[Journal]\nSystemMaxUse=500M\n"
    code, out = run(tmp_path, *GATE, "--force", capsys=capsys)
    assert code == 0
    assert "replace (--force) /etc/systemd/journald.conf.d/privcard.conf" in out
    assert "SystemMaxUse=64M" in journald.read_text()


def test_a_file_there_before_setup_is_not_overwritten(tmp_path, capsys):
    env = tmp_path / "etc/privcard/gate-1.env"
    env.parent.mkdir(parents=True)
    env.write_text("PRIVCARD_MQTT=mqtt://hand-written\n")
    code, out = run(tmp_path, *GATE, capsys=capsys)
    assert code == 3 and "kept /etc/privcard/gate-1.env" in out
    assert env.read_text() == "PRIVCARD_MQTT=mqtt://hand-written\n"


def test_bad_input_changes_nothing(tmp_path, capsys):
    code = setup.main(["gate", "--root", str(tmp_path), "--wheel", WHEEL, "--device-id", "gate-1"])
    assert code == 1
    assert "--mqtt" in capsys.readouterr().err
    assert tree(tmp_path) == {}
    code = setup.main(
        ["gate", "--root", str(tmp_path), "--wheel", "not-a-wheel.zip", "--device-id", "g", "--mqtt", "mqtt://x"]
    )
    assert code == 1
    assert "not a privcard wheel" in capsys.readouterr().err


def test_upgrade_needs_the_role_first(tmp_path, capsys):
    code = setup.main(["gate", "--root", str(tmp_path), "--upgrade", WHEEL])
    assert code == 1
    assert "no gate role yet" in capsys.readouterr().err


def test_kiosk_files(tmp_path, capsys):
    code, out = run(
        tmp_path,
        "kiosk",
        "--wheel",
        WHEEL,
        "--device-id",
        "kiosk-1",
        "--mqtt",
        "mqtt://kiosk-1:pw@b:1883",
        capsys=capsys,
    )
    assert code == 0, out
    unit = (tmp_path / "etc/systemd/system/privcard-kiosk@.service").read_text()
    assert "SDL_VIDEODRIVER=kmsdrm" in unit and "--fullscreen" in unit and "Restart=always" in unit
    assert "setterm --blank 0" in unit  # the screen stays awake
    env = (tmp_path / "etc/privcard/kiosk-1.env").read_text()
    assert "PRIVCARD_KIOSK_ARGS=--reader nfc:usb" in env


def test_doctor_on_a_machine_without_setup(tmp_path):
    from install import doctor

    (check,) = doctor.run_checks(str(tmp_path))
    assert not check.ok and check.name == "setup" and "privcard setup ROLE" in check.fix
    assert check.line().startswith("FAIL setup:")


def test_upgrade_installs_every_role_of_the_machine_in_a_new_venv(tmp_path, capsys):
    run(tmp_path, *SERVER, capsys=capsys)
    run(tmp_path, *GATE, capsys=capsys)
    code = setup.main(["server", "--root", str(tmp_path), "--upgrade", "privcard-2.0.0-py3-none-any.whl"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "privcard-2.0.0-py3-none-any.whl[gate,postgres,server]" in out
    assert "python3 -m venv --system-site-packages" in out  # the gate's GPIO libraries from apt
    assert (tmp_path / "opt/privcard/venv").readlink() == Path("venvs/2.0.0")
    assert (tmp_path / "opt/privcard/venvs/1.2.3").is_dir()  # the old one stays for a rollback
    manifest = json.loads((tmp_path / MANIFEST.lstrip("/")).read_text())
    assert manifest["settings"]["version"] == "2.0.0"


# --------------------------------------------------------------------------- site broker

PEM = "-----BEGIN CERTIFICATE-----\nTUlJQ2VudHJhbENB\n-----END CERTIFICATE-----\n"


def _bundle(tmp_path: Path, devices: dict[str, tuple[str, str]], name: str = "NORTH.bundle") -> Path:
    from broker.mosquitto.bridge import Bundle

    path = tmp_path / name
    path.write_text(Bundle("NORTH", "central.example:8883", "mqttv50", "bridge-pw", PEM, devices).to_json())
    return path


def _site(root: Path, bundle: Path | None, *more: str) -> tuple[str, ...]:
    argv = ("site-broker", "--wheel", WHEEL, "--host", "north-broker.example", "--no-start")
    return argv + (("--bundle", str(bundle)) if bundle else ()) + more


def test_site_broker_files_and_a_second_run_changes_nothing(tmp_path, capsys):
    from broker.mosquitto import directives
    from broker.mosquitto.credentials import read_entries, verify_password

    root = tmp_path / "root"
    bundle = _bundle(tmp_path, {"n1": ("gate", "pw-n1"), "k1": ("kiosk", "pw-k1")})
    code, out = run(root, *_site(root, bundle), capsys=capsys)
    assert code == 0, out
    conf = (root / "etc/mosquitto/conf.d/privcard.conf").read_text()
    words = dict(directives(conf))
    assert words["address"] == "central.example:8883" and words["remote_username"] == "bridge-NORTH"
    assert words["bridge_cafile"] == "/etc/mosquitto/privcard/central-ca.pem" and words["bridge_insecure"] == "false"
    assert "topic privcard/dev/k1/query out 1" in conf and "topic privcard/dev/n1/config in 1" in conf
    assert "allow_anonymous false" in conf  # the production config under the bridge
    assert (root / "etc/mosquitto/conf.d/privcard.conf").stat().st_mode & 0o777 == 0o640
    assert (root / "etc/mosquitto/privcard/central-ca.pem").read_text() == PEM
    entries = read_entries(root / "etc/mosquitto/privcard/passwd")
    assert set(entries) == {"n1", "k1", "privcard-monitor"}
    assert verify_password("pw-n1", entries["n1"])
    acl = (root / "etc/mosquitto/privcard/acl").read_text()
    assert "user privcard-monitor\ntopic read $SYS/broker/connection/bridge-NORTH/state" in acl
    assert "topic write privcard/dev/k1/query" in acl and "topic write privcard/dev/n1/query" not in acl
    assert (root / "etc/mosquitto/privcard/server.pem").exists()  # its own certificate for the devices
    for secret in ("site-broker.env", "site-devices.txt", "site-bridge-bundle.json"):
        assert (root / "etc/privcard" / secret).stat().st_mode & 0o777 == 0o600
    assert (
        "sudo privcard setup gate --device-id n1 --ca ca.pem --reader nfc:usb "
        "--mqtt 'mqtts://n1:pw-n1@north-broker.example:8883?ca=/etc/privcard/ca.pem'"
    ) in out
    manifest = json.loads((root / MANIFEST.lstrip("/")).read_text())
    assert manifest["settings"]["site-broker"]["site"] == "NORTH" and "site-broker" in manifest["settings"]["roles"]
    before = tree(root)
    # again, without --bundle: the copy kept in /etc/privcard is used
    code, again = run(root, *_site(root, None), capsys=capsys)
    assert code == 0 and "no changes" in again, again
    assert tree(root) == before


def test_site_broker_follows_a_new_bundle_and_removes_a_retired_device(tmp_path, capsys):
    from broker.mosquitto.credentials import read_entries

    root = tmp_path / "root"
    run(root, *_site(root, _bundle(tmp_path, {"n1": ("gate", "pw-n1"), "n2": ("gate", "pw-n2")})), capsys=capsys)
    newer = _bundle(tmp_path, {"n1": ("gate", "pw-n1"), "k1": ("kiosk", "pw-k1")}, "newer.bundle")
    code, out = run(root, *_site(root, newer), capsys=capsys)
    assert code == 0, out
    assert "remove /etc/mosquitto/privcard/passwd entry for n2" in out
    assert "update /etc/mosquitto/conf.d/privcard.conf" in out
    assert set(read_entries(root / "etc/mosquitto/privcard/passwd")) == {"n1", "k1", "privcard-monitor"}
    assert "privcard/dev/n2" not in (root / "etc/mosquitto/conf.d/privcard.conf").read_text()


def test_site_broker_dry_run_changes_nothing(tmp_path, capsys):
    root = tmp_path / "root"
    root.mkdir()
    bundle = _bundle(tmp_path, {"n1": ("gate", "pw-n1")})
    code, out = run(root, *_site(root, bundle), "--dry-run", capsys=capsys)
    assert code == 0, out
    assert "would create /etc/mosquitto/conf.d/privcard.conf" in out
    assert "would set /etc/mosquitto/privcard/passwd entry for n1" in out
    assert tree(root) == {}


@pytest.mark.parametrize(
    "text, words",
    [
        (None, "needs --bundle FILE"),
        ("{not json", "not a site bridge bundle"),
        ('{"format": "something else"}', "not a site bridge bundle"),
        ("bad-central", "--central must be HOST:PORT"),
        ("bad-ca", "central_ca is not a PEM certificate"),
        ("bridge-device", "device id bridge-SOUTH is reserved"),
        ("spaced-password", "without spaces"),
    ],
)
def test_site_broker_refuses_a_bad_bundle_and_writes_nothing(tmp_path, capsys, text, words):
    from broker.mosquitto.bridge import Bundle

    root = tmp_path / "root"
    root.mkdir()
    good = Bundle("NORTH", "central.example:8883", "mqttv50", "bridge-pw", PEM, {"n1": ("gate", "pw")})
    data = json.loads(good.to_json())
    if text == "bad-central":
        data["central"] = "central.example"
    elif text == "bad-ca":
        data["central_ca"] = "not a certificate"
    elif text == "bridge-device":
        data["devices"]["bridge-SOUTH"] = {"kind": "gate", "password": "x"}
    elif text == "spaced-password":
        data["password"] = "two words"
    if text is not None and not text.startswith("{"):
        text = json.dumps(data)
    bundle = None
    if text is not None:
        bundle = tmp_path / "b.bundle"
        bundle.write_text(text)
    code = setup.main([*_site(root, bundle), "--root", str(root)])
    assert code == 1
    assert words in capsys.readouterr().err
    assert tree(root) == {}


def test_doctor_checks_the_bridge_of_a_site_broker_from_its_manifest(tmp_path, capsys):
    """Without a running broker the bridge check fails and says so in English and Thai (the real
    broker's answers are in tests/security/test_site_broker_setup.py)."""
    from install import doctor, roles

    root = tmp_path / "root"
    run(root, *_site(root, _bundle(tmp_path, {"n1": ("gate", "pw-n1")})), capsys=capsys)
    env = roles.read_env((root / "etc/privcard/site-broker.env").read_text())
    assert env["PRIVCARD_MQTT"].startswith("mqtt://privcard-monitor:") and env["PRIVCARD_SITE"] == "NORTH"
    from tests.brokers import free_port

    port = free_port("127.0.0.1")  # nothing listens there
    check = doctor.check_bridge(f"mqtt://privcard-monitor:x@127.0.0.1:{port}", "NORTH", "c:8883", timeout=2)
    assert not check.ok and "cannot ask the site broker" in check.detail and "ถามสถานะ" in check.detail
    assert roles.units_of(json.loads((root / MANIFEST.lstrip("/")).read_text())["settings"]) == ["mosquitto.service"]


def test_a_site_broker_and_the_server_do_not_share_a_machine(tmp_path, capsys):
    site, server = tmp_path / "site", tmp_path / "server"
    run(site, *_site(site, _bundle(tmp_path, {"n1": ("gate", "pw-n1")})), capsys=capsys)
    before = tree(site)
    assert setup.main([*SERVER, "--root", str(site)]) == 1
    assert "this machine is a site broker" in capsys.readouterr().err
    assert tree(site) == before
    run(server, *SERVER, capsys=capsys)
    assert setup.main([*_site(server, _bundle(tmp_path, {"n1": ("gate", "pw-n1")})), "--root", str(server)]) == 1
    assert "this machine is a privcard server" in capsys.readouterr().err
