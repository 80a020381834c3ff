"""``privcard admin site bridge``: bad input changes nothing; running it again keeps the password."""

from __future__ import annotations

from broker.mosquitto.bridge import read_sites, remote_password
from broker.mosquitto.credentials import read_entries
from tests.helpers import run_admin

TOML = """
[library]
default_site = "NORTH"
[sites.NORTH]
name_th = "เหนือ"
name_en = "North"
[sites.SOUTH]
name_th = "ใต้"
name_en = "South"
"""


def test_bad_input_changes_nothing_and_a_second_run_keeps_the_bridge_password(tmp_path):
    lib = tmp_path / "library.toml"
    lib.write_text(TOML)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    common = ("--config", str(lib))
    assert run_admin(db, *common, "device", "add", "g1", "--kind", "gate", "--site", "NORTH")[0] == 0
    central = ("--password-file", str(tmp_path / "passwd"), "--acl-file", str(tmp_path / "acl"))
    out = tmp_path / "north"

    for bad in (["NOPE", "--central", "c:8883"], ["NORTH", "--central", "c"], ["NORTH", "--central", "c:0"]):
        code, msg = run_admin(db, *common, "site", "bridge", *bad, "--out", str(out), *central)
        assert code != 0 and msg, bad
    assert not (tmp_path / "passwd").exists() and not (tmp_path / "acl").exists() and not out.exists()

    code, first = run_admin(db, *common, "site", "bridge", "NORTH", "--central", "c:8883", "--out", str(out), *central)
    assert code == 0, first
    assert first["devices"] == ["g1"] and first["issued"] == ["g1"] and not first["password_kept"]
    password = remote_password((out / "mosquitto.conf").read_text())
    assert run_admin(db, *common, "device", "add", "g2", "--kind", "gate", "--site", "NORTH")[0] == 0
    code, second = run_admin(db, *common, "site", "bridge", "NORTH", "--central", "c:8883", "--out", str(out), *central)
    assert code == 0, second
    assert second["password_kept"] and second["issued"] == ["g2"]
    assert remote_password((out / "mosquitto.conf").read_text()) == password
    assert set(read_entries(out / "passwd")) == {"g1", "g2"}
    assert "bridge-NORTH" in read_entries(tmp_path / "passwd")
    assert read_sites(tmp_path / "acl")["bridge-NORTH"] == [
        "privcard/dev/g1/status",
        "privcard/dev/g1/tap",
        "privcard/dev/g2/status",
        "privcard/dev/g2/tap",
    ]


def test_the_bundle_for_setup_site_broker(tmp_path):
    from broker.mosquitto.bridge import read_bundle

    lib = tmp_path / "library.toml"
    lib.write_text(TOML)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    common = ("--config", str(lib))
    assert run_admin(db, *common, "device", "add", "g1", "--kind", "gate", "--site", "NORTH")[0] == 0
    assert run_admin(db, *common, "device", "add", "k1", "--kind", "kiosk", "--site", "NORTH")[0] == 0
    assert run_admin(db, *common, "device", "add", "s1", "--kind", "gate", "--site", "SOUTH")[0] == 0
    central = ("--password-file", str(tmp_path / "passwd"), "--acl-file", str(tmp_path / "acl"))
    out, bundle = tmp_path / "north", tmp_path / "NORTH.bundle"
    args = ("site", "bridge", "NORTH", "--central", "c.example:8883", "--out", str(out), *central)
    # no central CA where it is said to be: refused, nothing written
    code, msg = run_admin(db, *common, *args, "--bundle", str(bundle), "--central-ca", str(tmp_path / "none.pem"))
    assert code == 1 and "cannot read the central broker's CA" in msg["error"], msg
    assert not bundle.exists() and not out.exists() and not (tmp_path / "passwd").exists()
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n")
    code, info = run_admin(db, *common, *args, "--bundle", str(bundle), "--central-ca", str(ca))
    assert code == 0, info
    assert bundle.stat().st_mode & 0o777 == 0o600
    made = read_bundle(bundle.read_text())
    assert made.site == "NORTH" and made.central == "c.example:8883" and made.central_ca == ca.read_text()
    assert made.kinds == {"g1": "gate", "k1": "kiosk"}
    assert made.password == remote_password((out / "mosquitto.conf").read_text())
    site_entries = read_entries(out / "passwd")
    from broker.mosquitto.credentials import verify_password

    assert all(verify_password(pw, site_entries[d]) for d, (_, pw) in made.devices.items())
    # again: the same passwords (nothing re-issued), so a site broker set up from either bundle works
    code, again = run_admin(db, *common, *args, "--bundle", str(bundle), "--central-ca", str(ca))
    assert code == 0 and again["issued"] == [], again
    assert read_bundle(bundle.read_text()) == made


def test_setup_device_credentials_knows_a_device_of_a_bridged_site(tmp_path, monkeypatch):
    """``privcard setup device-credentials`` tells a bridged site's device to use its site broker."""
    import sys
    from pathlib import Path

    from broker.mosquitto.credentials import set_entry
    from install import roles, setup

    lib = tmp_path / "library.toml"
    lib.write_text(TOML)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    for dev, site in (("g1", "NORTH"), ("s1", "SOUTH")):
        assert run_admin(db, "--config", str(lib), "device", "add", dev, "--kind", "gate", "--site", site)[0] == 0
    monkeypatch.setattr(roles, "MOSQ", str(tmp_path))
    privcard = str(Path(sys.executable).parent / "privcard")
    assert setup._bridged_site(privcard, db, "g1") is None  # no bridge account yet
    set_entry(tmp_path / "passwd", "bridge-NORTH", "pw")
    assert setup._bridged_site(privcard, db, "g1") == "NORTH"
    assert setup._bridged_site(privcard, db, "s1") is None
    assert setup._bridged_site(privcard, db, "nope") is None
    # read without the library's file, the device's site is not in the programme: its summary still prints
    import subprocess

    shown = subprocess.run([privcard, "admin", "device", "show", "g1", "--db", db], capture_output=True, text=True)
    assert shown.returncode == 0 and "NORTH" in shown.stdout and "Device/อุปกรณ์" in shown.stdout, shown.stderr
