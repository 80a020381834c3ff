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
