"""privcard admin's setup errors carry their Thai: the database URL (``server.store``), the card key
file (``server.sun``), the broker's password file and ACL (``broker.mosquitto``) and a site's bridge
(``server.broker_accounts``). Each keeps its English template and values apart; ``privcard admin``
prints the Thai line under the English one and ``--json`` gives ``error_th``. The real entry point
in this process, real SQLite and real files.
"""

from __future__ import annotations

import sqlite3

import pytest

from broker.mosquitto import access
from tests.helpers import admin_here

SITES = """
[library]
default_site = "NORTH"
[sites.NORTH]
name_th = "เหนือ"
name_en = "North"
"""


_admin = admin_here


def _refused(argv, english: str, thai: str, *, exact: bool = True) -> None:
    code, data, lines = _admin(*argv)
    assert code == 1, data
    if exact:
        assert data == {"error": english, "error_th": thai}
        assert lines == [f"privcard admin: {english}", f"privcard admin: {thai}"]
    else:
        assert data["error"].startswith(english) and data["error_th"].startswith(thai), data
        assert lines[0].startswith(f"privcard admin: {english}") and lines[1].startswith(f"privcard admin: {thai}")


@pytest.mark.parametrize(
    ("url", "english", "thai"),
    [
        (
            "mysql://u@db/privcard",
            "unsupported database URL 'mysql://u@db/privcard'; use sqlite:///PATH or postgresql://USER@HOST/DB",
            "ไม่รองรับ URL ฐานข้อมูล 'mysql://u@db/privcard' ใช้ sqlite:///PATH หรือ postgresql://USER@HOST/DB",
        ),
        (
            "postgresql://u:secret@db:54x/privcard",
            "bad port '54x' in database URL postgresql://u:***@db:54x/privcard",
            "พอร์ต '54x' ใน URL ฐานข้อมูล postgresql://u:***@db:54x/privcard ไม่ถูกต้อง",
        ),
        (
            "postgresql://u@db1:5432,:5433/privcard",
            "empty host in database URL postgresql://u@db1:5432,:5433/privcard",
            "URL ฐานข้อมูล postgresql://u@db1:5432,:5433/privcard มีชื่อเครื่องที่ว่างอยู่",
        ),
    ],
)
def test_a_bad_database_url_is_said_in_english_then_thai(url, english, thai):
    _refused(["--db", url, "--json", "member", "list"], english, thai)


def test_a_database_that_cannot_be_opened_is_said_in_thai_too():
    url = "postgresql://h19t2_nobody@127.0.0.1:1/h19t2_none"  # nothing listens on port 1
    _refused(
        ["--db", url, "--json", "member", "list"],
        f"cannot open database {url}: ",
        f"เปิดฐานข้อมูล {url} ไม่ได้: ",
        exact=False,
    )


@pytest.mark.parametrize(
    ("text", "mode", "english", "thai"),
    [
        (
            f'master = "{"0" * 32}"\n',
            0o644,
            "card key file {p} is readable by others: chmod 600 it",
            "ไฟล์กุญแจบัตร {p} ผู้อื่นอ่านได้: ใช้ chmod 600",
        ),
        (
            'master = "not hex"\n',
            0o600,
            "master must be 32 hex digits (an AES-128 key)",
            "master ต้องเป็นเลขฐานสิบหก 32 หลัก (กุญแจ AES-128)",
        ),
        (
            'pin = "1234"\n',
            0o600,
            "card key file {p}: expected keys master and/or kek, got ['pin']",
            "ไฟล์กุญแจบัตร {p}: ต้องมีกุญแจ master และ/หรือ kek (ได้รับ ['pin'])",
        ),
        (
            "kek = 7\n",
            0o600,
            "card key file {p}: kek must be a string of 32 hex digits",
            "ไฟล์กุญแจบัตร {p}: kek ต้องเป็นข้อความเลขฐานสิบหก 32 หลัก",
        ),
    ],
)
def test_a_bad_card_key_file_is_said_in_english_then_thai(tmp_path, text, mode, english, thai):
    keys = tmp_path / "card-keys.toml"
    keys.write_text(text, encoding="utf-8")
    keys.chmod(mode)
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--card-keys", str(keys), "--json", "member", "list"]
    _refused(argv, english.format(p=keys), thai.format(p=keys))


def test_a_broken_password_file_is_said_in_thai_too(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("g1:$7$x\nnot a line\n", encoding="utf-8")
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--json", "device", "credentials", "g1", "--force"]
    argv += ["--password-file", str(passwd), "--acl-file", str(tmp_path / "acl")]
    _refused(argv, f"{passwd} line 2 is not username:hash", f"{passwd} บรรทัดที่ 2 ไม่ใช่รูปแบบ username:hash")


def test_an_acl_without_its_end_marker_is_said_in_thai_too(tmp_path):
    acl = tmp_path / "acl"
    acl.write_text(f"user privcard-server\n{access.BEGIN}\nuser g1\n", encoding="utf-8")
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--json", "device", "acl"]
    argv += ["--password-file", str(tmp_path / "passwd"), "--acl-file", str(acl)]
    _refused(
        argv,
        "the ACL file has the BEGIN marker of the device section but no END marker",
        "ไฟล์ ACL มีเครื่องหมาย BEGIN ของส่วน device แต่ไม่มีเครื่องหมาย END",
    )


def test_an_unregistered_device_is_said_in_thai_too(tmp_path):
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--json", "device", "credentials", "g9"]
    argv += ["--password-file", str(tmp_path / "passwd"), "--acl-file", str(tmp_path / "acl")]
    _refused(
        argv,
        "no device g9; register it first (privcard admin device add g9 ...) or pass --force",
        "ไม่พบอุปกรณ์ g9 ลงทะเบียนก่อน (privcard admin device add g9 ...) หรือระบุ --force",
    )
    assert not (tmp_path / "passwd").exists()


@pytest.mark.parametrize(
    ("extra", "english", "thai"),
    [
        (
            ["--central", "central.example.org"],
            "--central must be HOST:PORT (the central broker's TLS listener), got 'central.example.org'",
            "--central ต้องเป็น HOST:PORT (พอร์ต TLS ของโบรกเกอร์กลาง) (ได้รับ 'central.example.org')",
        ),
        (
            ["--central", "c:8883", "--bundle", "{tmp}/b.json", "--central-ca", "{tmp}/library.toml"],
            "{tmp}/library.toml is not a PEM certificate: give the central broker's CA with --central-ca",
            "{tmp}/library.toml ไม่ใช่ใบรับรองแบบ PEM: ระบุ CA ของโบรกเกอร์กลางด้วย --central-ca",
        ),
        (
            ["--central", "c:8883", "--bundle", "{tmp}/b.json", "--central-ca", "{tmp}/none.pem"],
            "cannot read the central broker's CA {tmp}/none.pem (No such file or directory): give --central-ca FILE",
            "อ่าน CA ของโบรกเกอร์กลาง {tmp}/none.pem ไม่ได้ (No such file or directory): ระบุ --central-ca FILE",
        ),
    ],
)
def test_a_refused_site_bridge_is_said_in_english_then_thai(tmp_path, extra, english, thai):
    lib = tmp_path / "library.toml"
    lib.write_text(SITES, encoding="utf-8")
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--config", str(lib), "--json", "site", "bridge", "NORTH"]
    argv += [x.format(tmp=tmp_path) for x in extra]
    argv += ["--out", str(tmp_path / "north"), "--password-file", str(tmp_path / "passwd")]
    argv += ["--acl-file", str(tmp_path / "acl")]
    _refused(argv, english.format(tmp=tmp_path), thai.format(tmp=tmp_path))
    assert not (tmp_path / "passwd").exists() and not (tmp_path / "north").exists()


def test_a_database_newer_than_this_privcard_is_said_in_thai_too(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    assert _admin("--db", url, "--json", "member", "list")[0] == 0  # made at this privcard's version
    db = sqlite3.connect(tmp_path / "x.db")
    with db:
        [(have,)] = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (have + 1,))
    db.close()
    _refused(
        ["--db", url, "--json", "member", "list"],
        f"database schema version {have + 1} is newer than this privcard ({have})",
        f"ฐานข้อมูล schema รุ่น {have + 1} ใหม่กว่าที่ privcard นี้รองรับ ({have})",
    )


def test_the_api_says_a_broker_file_it_could_not_update_in_thai_too(app, monkeypatch, tmp_path):
    """Retiring a device through the API: the database change stands, the broker's files could not
    be brought in line (a broken password file), and the answer says why in English and Thai."""
    from server.web import accounts
    from tests.browser.web_support import ADMIN

    passwd = tmp_path / "passwd"
    passwd.write_text("gate-1:$7$x\nbroken\n", encoding="utf-8")
    monkeypatch.setenv("PRIVCARD_MQTT_PASSWORD_FILE", str(passwd))
    monkeypatch.setenv("PRIVCARD_MQTT_ACL_FILE", str(tmp_path / "acl"))
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(ADMIN[0], 'tests')}"
    assert c.post("/api/devices", json={"id": "gate-1", "kind": "gate"}).status_code == 201
    r = c.post("/api/devices/gate-1/retire")
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["device"]["retired_at"]
    assert body["broker"] == {
        "error": f"{passwd} line 2 is not username:hash",
        "error_th": f"{passwd} บรรทัดที่ 2 ไม่ใช่รูปแบบ username:hash",
        "todo": "privcard admin device acl",
    }
