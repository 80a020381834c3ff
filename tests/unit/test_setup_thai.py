"""``privcard setup`` says each refusal in English, then in Thai, as ``privcard admin`` does: the real
``main`` in this process against a root prefix (``--root DIR``), on real files that are wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from install import setup
from install.thai import Text

WHEEL = "privcard-1.2.3-py3-none-any.whl"
PEM = "-----BEGIN CERTIFICATE-----\nTUlJQ2VudHJhbENB\n-----END CERTIFICATE-----\n"
MQTT = "mqtts://gate-1:pw@broker:8883?ca=/etc/privcard/ca.pem"


def _bundle(tmp_path: Path, device_id: str) -> Path:
    from broker.mosquitto.bridge import Bundle

    good = json.loads(
        Bundle("NORTH", "central.example:8883", "mqttv50", "bridge-pw", PEM, {"n1": ("gate", "pw")}).to_json()
    )
    data = {**good, "devices": {device_id: {"kind": "gate", "password": "pw"}}}
    path = tmp_path / "NORTH.bundle"
    path.write_text(json.dumps(data))
    return path


def _setup(tmp_path, capsys, *argv: str) -> tuple[int, list[str]]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    code = setup.main([*argv, "--root", str(root)])
    return code, capsys.readouterr().err.splitlines()


def test_a_site_bundle_with_a_reserved_device_id_is_refused_in_english_then_thai(tmp_path, capsys):
    bundle = _bundle(tmp_path, "bridge-SOUTH")
    code, err = _setup(tmp_path, capsys, "site-broker", "--wheel", WHEEL, "--bundle", str(bundle))
    assert code == 1
    assert err == [
        f"privcard setup: {bundle}: bundle: device id bridge-SOUTH is reserved",
        f"privcard setup: {bundle}: ชุดไฟล์: รหัสอุปกรณ์ bridge-SOUTH สงวนไว้",
    ]


def test_a_bad_device_id_in_a_site_bundle_is_said_in_thai_to_the_innermost_reason(tmp_path, capsys):
    bundle = _bundle(tmp_path, "gate 1")
    code, err = _setup(tmp_path, capsys, "site-broker", "--wheel", WHEEL, "--bundle", str(bundle))
    assert code == 1
    assert err == [
        f"privcard setup: {bundle}: bundle: device id must be 1-64 characters of A-Z a-z 0-9 _ -, got 'gate 1'",
        f"privcard setup: {bundle}: ชุดไฟล์: รหัสอุปกรณ์ต้องยาว 1-64 ตัวอักษร ประกอบด้วย A-Z a-z 0-9 _ - (ได้รับ 'gate 1')",
    ]


@pytest.mark.parametrize(
    ("argv", "english", "thai"),
    [
        (
            ("site-broker", "--wheel", WHEEL),
            "privcard setup site-broker needs --bundle FILE: on the central server, "
            "privcard admin site bridge SITE --central HOST:PORT --bundle FILE writes it",
            "privcard setup site-broker ต้องระบุ --bundle FILE: "
            "สร้างได้บนเซิร์ฟเวอร์กลางด้วย privcard admin site bridge SITE --central HOST:PORT --bundle FILE",
        ),
        (
            ("site-broker", "--wheel", WHEEL, "--bundle", "/nowhere/NORTH.bundle"),
            "cannot read the bundle /nowhere/NORTH.bundle: No such file or directory",
            "อ่านชุดไฟล์ /nowhere/NORTH.bundle ไม่ได้: No such file or directory",
        ),
        (
            ("gate", "--wheel", WHEEL, "--device-id", "gate-1"),
            "give --mqtt 'mqtts://ID:PASSWORD@BROKER:8883?ca=/etc/privcard/ca.pem' "
            "(printed by `privcard setup device-credentials ID` on the server)",
            "ระบุ --mqtt 'mqtts://ID:PASSWORD@BROKER:8883?ca=/etc/privcard/ca.pem' "
            "(ได้จาก `privcard setup device-credentials ID` บนเซิร์ฟเวอร์)",
        ),
        (
            ("kiosk", "--wheel", WHEEL, "--mqtt", MQTT),
            "privcard setup kiosk needs --device-id ID (the id registered on the server)",
            "privcard setup kiosk ต้องระบุ --device-id ID (รหัสที่ลงทะเบียนไว้บนเซิร์ฟเวอร์)",
        ),
        (
            ("gate", "--wheel", WHEEL, "--device-id", "gate/1", "--mqtt", MQTT),
            "device id must be 1-64 characters of A-Z a-z 0-9 _ -, got 'gate/1'",
            "รหัสอุปกรณ์ต้องยาว 1-64 ตัวอักษร ประกอบด้วย A-Z a-z 0-9 _ - (ได้รับ 'gate/1')",
        ),
        (  # a file named on the command line that is not there: a refusal, not a traceback
            ("gate", "--wheel", WHEEL, "--device-id", "gate-1", "--mqtt", MQTT, "--ca", "/nowhere/ca.pem"),
            "cannot read /nowhere/ca.pem (--ca): No such file or directory",
            "อ่าน /nowhere/ca.pem (--ca) ไม่ได้: No such file or directory",
        ),
        (
            ("server", "--wheel", WHEEL, "--no-start", "--cert", "server.pem"),
            "give --cert, --key and --ca together (or none: setup makes a private CA)",
            "ระบุ --cert --key และ --ca พร้อมกัน (หรือไม่ระบุเลย แล้ว setup จะสร้าง CA ส่วนตัวให้)",
        ),
        (
            ("gate", "--wheel", "privcard.tar.gz", "--device-id", "gate-1", "--mqtt", MQTT),
            "privcard.tar.gz is not a privcard wheel (privcard-VERSION-py3-none-any.whl)",
            "privcard.tar.gz ไม่ใช่ไฟล์ wheel ของ privcard (privcard-VERSION-py3-none-any.whl)",
        ),
        (
            ("gate", "--upgrade", WHEEL),
            "this machine has no gate role yet: run privcard setup gate first",
            "เครื่องนี้ยังไม่ได้เป็น gate: รัน privcard setup gate ก่อน",
        ),
    ],
    ids=[
        "no-bundle",
        "unreadable-bundle",
        "no-mqtt",
        "no-device-id",
        "bad-device-id",
        "no-ca-file",
        "cert-alone",
        "not-a-wheel",
        "upgrade-first",
    ],
)
def test_a_refusal_is_said_in_english_then_thai(tmp_path, capsys, argv, english, thai):
    code, err = _setup(tmp_path, capsys, *argv)
    assert code == 1
    assert err == [f"privcard setup: {english}", f"privcard setup: {thai}"]


def test_a_second_role_on_a_site_broker_machine_is_refused_in_thai_too(tmp_path, capsys):
    bundle = _bundle(tmp_path, "n1")
    assert _setup(tmp_path, capsys, "site-broker", "--wheel", WHEEL, "--bundle", str(bundle))[0] == 0
    code, err = _setup(tmp_path, capsys, "server", "--wheel", WHEEL, "--no-start")
    assert code == 1
    assert err == [
        "privcard setup: this machine is a site broker: the server (and the central broker) run on another machine",
        "privcard setup: เครื่องนี้เป็นโบรกเกอร์สาขา: เซิร์ฟเวอร์ (และโบรกเกอร์กลาง) ต้องอยู่บนเครื่องอื่น",
    ]


def test_an_edited_file_kept_is_said_in_thai_too(tmp_path, capsys):
    argv = ("gate", "--wheel", WHEEL, "--device-id", "gate-1", "--mqtt", MQTT)
    assert _setup(tmp_path, capsys, *argv)[0] == 0
    env = tmp_path / "root/etc/privcard/gate-1.env"
    env.write_text(env.read_text() + "# edited by hand\n")
    root = tmp_path / "root"
    code = setup.main([*argv, "--root", str(root)])
    out, err = capsys.readouterr()
    assert code == 3
    assert (
        "kept /etc/privcard/gate-1.env: edited since setup wrote it (or not written by setup); "
        "re-run with --force to replace it\n"
        "คง /etc/privcard/gate-1.env ไว้: มีการแก้ไขหลังจาก setup เขียน (หรือ setup ไม่ได้เขียน) "
        "รันอีกครั้งด้วย --force เพื่อเขียนทับ\n"
    ) in out
    assert err.splitlines() == [
        "privcard setup: kept 1 edited file(s): /etc/privcard/gate-1.env (--force replaces them)",
        "privcard setup: คงไฟล์ที่มีการแก้ไขไว้ 1 ไฟล์: /etc/privcard/gate-1.env (--force จะเขียนทับ)",
    ]


def test_a_failed_upgrade_and_its_rollback_are_said_in_thai_too(tmp_path, capsys, monkeypatch):
    """The health check itself needs systemd (tests/system/test_booted_chaos.py fails a real one);
    here its answer is given, to check what setup prints with it."""
    argv = ("gate", "--wheel", WHEEL, "--device-id", "gate-1", "--mqtt", MQTT)
    assert _setup(tmp_path, capsys, *argv)[0] == 0
    unit = "privcard-gate@gate-1.service"
    answers = iter(
        [(False, Text("%(unit)s is %(state)s (journalctl -u %(unit)s)", unit=unit, state="failed")), (True, None)]
    )
    monkeypatch.setattr(setup, "_restart_and_check", lambda plan, units: next(answers))
    code, err = _setup(tmp_path, capsys, "gate", "--upgrade", "privcard-1.2.4-py3-none-any.whl")
    assert code == 1
    assert err == [
        f"privcard setup gate: 1.2.4 failed its health check: {unit} is failed (journalctl -u {unit})",
        f"privcard setup gate: 1.2.4 ไม่ผ่านการตรวจสุขภาพ: {unit} อยู่ในสถานะ failed (journalctl -u {unit})",
        "privcard setup gate: rolled back to 1.2.3 (serving)",
        "privcard setup gate: ย้อนกลับไปใช้ 1.2.3 แล้ว (ให้บริการได้)",
    ]
