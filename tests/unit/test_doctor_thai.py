"""``privcard doctor`` says every check's finding and fix in English, then `` — `` and Thai (the
convention of its bridge and certificate checks), in the text lines and in ``--json``'s ``detail``
and ``fix``; a certificate's date reads in the Buddhist era in the Thai half. The checks run for
real here: files and certificates in a temporary directory (real openssl), a real Mosquitto, the
real ``privcard admin --json`` the database check reads.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import asdict

from install import doctor
from tests.brokers import free_port, running_mosquitto
from tests.helpers import admin_argv

THAI = re.compile(r"[\u0e00-\u0e7f]")


def _bilingual(check: doctor.Check) -> None:
    """The detail and (when there is one) the fix: English, `` — ``, then Thai."""
    for text in (check.detail, check.fix):
        if text:
            english, sep, thai = text.partition(" — ")
            assert sep and english and not THAI.search(english) and THAI.search(thai), (check.name, text)


def test_a_machine_without_setup_is_told_in_english_and_thai(tmp_path):
    (check,) = doctor.run_checks(str(tmp_path))
    _bilingual(check)
    assert check.detail == "privcard setup has not run on this machine — ยังไม่ได้รัน privcard setup บนเครื่องนี้"
    assert check.line() == (
        "FAIL setup: privcard setup has not run on this machine — ยังไม่ได้รัน privcard setup บนเครื่องนี้"
        " — fix (วิธีแก้): sudo privcard setup ROLE — รัน sudo privcard setup ROLE"
    )
    assert doctor.summary([check]) == "0/1 checks passed; failing: setup — ผ่าน 0/1 รายการ ไม่ผ่าน: setup"
    assert asdict(check)["fix"] == "sudo privcard setup ROLE — รัน sudo privcard setup ROLE"  # as --json carries it


def test_time_and_units_are_said_in_both_languages():
    _bilingual(doctor.check_time())  # whichever way this machine's clock is
    for check in doctor.check_units({"roles": ["server"]}):
        _bilingual(check)
        assert check.detail.split(" — ")[1] in doctor.UNIT_STATES_TH.values() or check.ok, check.detail


def _certificate(path, days: int) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broker")])
    now = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, end) - dt.timedelta(days=1))
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return end


def _be(when: dt.datetime) -> str:
    return f"{when.day}/{when.month}/{when.year + 543} {when:%H:%M:%S} GMT"


def test_a_certificates_dates_read_in_the_buddhist_era_in_thai(tmp_path):
    valid, soon, expired = tmp_path / "valid.pem", tmp_path / "soon.pem", tmp_path / "expired.pem"
    ends = {p: _certificate(p, days) for p, days in ((valid, 400), (soon, 10), (expired, -3))}
    ok = doctor.check_certificate(str(valid), "broker")
    assert ok.ok and not ok.warn and ok.detail.endswith(f" — ใช้ได้ถึง {_be(ends[valid])}"), ok.detail
    assert ok.detail.startswith(f"valid until {ends[valid]:%b} ")
    warn = doctor.check_certificate(str(soon), "broker")
    assert warn.warn and warn.detail.endswith(f" — ใบรับรองใกล้หมดอายุ ({_be(ends[soon])})"), warn.detail
    gone = doctor.check_certificate(str(expired), "broker")
    assert not gone.ok and gone.detail.endswith(f" — ใบรับรองหมดอายุแล้ว ({_be(ends[expired])})"), gone.detail
    for check in (ok, warn, gone, doctor.check_certificate(str(tmp_path / "none.pem"), "broker")):
        _bilingual(check)
    assert doctor.thai_date("not a date") == "not a date"


def test_reader_gpio_and_disk_are_said_in_both_languages(tmp_path):
    device = tmp_path / "ttyReader"
    device.write_text("")
    present = doctor.check_reader(f"serial:{device}?format=line")
    assert present.ok and present.detail == (
        f"{device} present and readable (serial:{device}?format=line) — พบ {device} และอ่านได้ (serial:{device}?format=line)"
    )
    missing = doctor.check_reader(f"serial:{tmp_path}/gone")
    assert not missing.ok and missing.detail.endswith(f" — ไม่พบ {tmp_path}/gone (serial:{tmp_path}/gone)")
    checks = [present, missing, doctor.check_reader("usb:weird"), doctor.check_gpio({"GPIOZERO_PIN_FACTORY": "mock"})]
    (tmp_path / "outbox.db").write_bytes(b"x" * 4096)
    disk, outbox = doctor.check_disk(str(tmp_path))
    assert outbox.detail == "4 KiB — ข้อมูลรอส่ง 4 KiB"
    mib = disk.detail.split()[0]
    assert disk.detail == f"{mib} MiB free on {tmp_path} — {tmp_path} มีที่ว่าง {mib} MiB"
    checks += [disk, outbox, *doctor.check_disk(str(tmp_path / "nowhere"))]
    for check in checks:
        _bilingual(check)


def test_the_broker_check_in_both_languages_with_a_real_mosquitto():
    (none,) = doctor.check_broker("server", {}, {})
    _bilingual(none)
    port = free_port("127.0.0.1")  # nothing listens there
    (refused,) = doctor.check_broker("server", {}, {"PRIVCARD_MQTT": f"mqtt://u:p@127.0.0.1:{port}"})
    assert not refused.ok and refused.detail.endswith(" — privcard-server เข้าสู่โบรกเกอร์ไม่ได้")
    (down,) = doctor.check_broker("gate", {"device_id": "g1"}, {"PRIVCARD_MQTT": f"mqtt://g1:p@127.0.0.1:{port}"})
    assert not down.ok and "privcard setup device-credentials g1 — ขอรหัสผ่านใหม่" in down.fix
    checks = [none, refused, down]
    with running_mosquitto() as broker:
        (server,) = doctor.check_broker("server", {}, {"PRIVCARD_MQTT": broker.url})
        assert server.ok and server.detail == (
            f"privcard-server logs in at 127.0.0.1:{broker.port} — privcard-server เข้าสู่โบรกเกอร์ที่ 127.0.0.1:{broker.port} ได้"
        )
        # an anonymous broker without an ACL lets a device publish another's topic: the acl check fails
        # (its own topic is accepted though nobody subscribes: PUBACK 16 "no matching subscribers")
        login, acl = doctor.check_broker("gate", {"device_id": "g1"}, {"PRIVCARD_MQTT": broker.url})
        assert login.ok and not acl.ok, acl
        assert acl.detail == (
            "own topic accepted, another device's topic ACCEPTED — หัวข้อของตนเองส่งได้ หัวข้อของอุปกรณ์อื่นส่งได้ (ผิด)"
        )
        checks += [server, login, acl]
    for check in checks:
        _bilingual(check)


def test_a_database_failure_carries_privcard_admins_own_thai():
    """What check_database reads: ``privcard admin ... --json``'s error and error_th (run for real)."""
    done = subprocess.run(
        admin_argv("mysql://u@db/privcard", "device", "list"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    detail = doctor.database_failure("mysql://u@db/privcard", done)
    assert detail == (
        "mysql://u@db/privcard: unsupported database URL 'mysql://u@db/privcard'; use sqlite:///PATH or "
        "postgresql://USER@HOST/DB — mysql://u@db/privcard: ไม่รองรับ URL ฐานข้อมูล 'mysql://u@db/privcard' "
        "ใช้ sqlite:///PATH หรือ postgresql://USER@HOST/DB"
    )
    silent = subprocess.CompletedProcess([], 1, "", "Traceback ...\nOSError: boom\n")
    assert doctor.database_failure("x", silent) == "x: OSError: boom — x: เชื่อมต่อฐานข้อมูลไม่ได้"
    _bilingual(doctor.check_database("sqlite:////nonexistent/privcard.db"))  # no privcard user here: it fails
