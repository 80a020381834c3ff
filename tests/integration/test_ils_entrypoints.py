"""The ILS link through its entry points: ``privcard admin`` (every new command with --json),
``privcard server --ils`` (the kiosk answer's ``ils`` part within its budget, taps while the
ILS is down, pending payments settled in the background), and bad ``[ils]`` configuration.
All against the real SIP2 test server process (tests/sip2_ils.py).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time

import pytest

from tests.brokers import PYTHON, python_env
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service, run_admin
from tests.sip2_ils import start_ils


@pytest.fixture
def ils(tmp_path):
    with start_ils(tmp_path) as running:
        yield running


def admin(db_url, *args, env=None, config=None):
    argv = [PYTHON, "-m", "broker.dispatcher", "admin", "--db", db_url]
    if config:
        argv += ["--config", str(config)]
    proc = subprocess.run(
        [*argv, *args], capture_output=True, text=True, env={**python_env(), **(env or {})}, timeout=60
    )
    return proc


def test_admin_commands_with_json(tmp_db_url, ils, tmp_path):
    url = ils.url
    code, m = run_admin(
        tmp_db_url, "--ils", url, "member", "add", "--name", "Somchai", "--card", new_uid(), "--patron-id", "P100"
    )
    assert code == 0 and m["patron_id"] == "P100", m
    code, other = run_admin(tmp_db_url, "member", "add", "--name", "Jane", "--card", new_uid())
    code, other = run_admin(tmp_db_url, "member", "set", str(other["id"]), "patron_id=P200")
    assert code == 0 and other["patron_id"] == "P200"

    code, d = run_admin(tmp_db_url, "--ils", url, "ils", "patron", str(m["id"]))
    assert code == 0, d
    assert set(d) == {"patron_id", "valid", "fines_baht", "charged", "overdue", "blocked", "flags", "message"}
    assert d["fines_baht"] == 35.0 and d["flags"] == ["too_many_items_overdue"]

    code, r = run_admin(tmp_db_url, "--ils", url, "redeem", str(m["id"]), "--reward", "fine_discount", "--points", "50")
    assert code == 0, r
    assert r["ils"]["status"] == "confirmed" and r["ils"]["transaction"].startswith(f"PC-{r['entry']}-")
    assert r["balance"] == 200 and ils.fines("P100") == 25.0

    # over the fines: refused, exit 1, nothing taken
    code, r = run_admin(
        tmp_db_url, "--ils", url, "redeem", str(m["id"]), "--reward", "fine_discount", "--points", "150"
    )
    assert code == 1 and "more than the fines" in r["error"]

    # refused by the ILS: exit 1, the points are back, the ILS's message shown
    ils.update(refuse_fee_paid="Till closed")
    code, r = run_admin(tmp_db_url, "--ils", url, "redeem", str(m["id"]), "--reward", "fine_discount", "--points", "25")
    assert code == 1 and r["ils"] == {
        "status": "refused",
        "transaction": r["ils"]["transaction"],
        "message": "Till closed",
    }
    assert r["balance"] == 200
    ils.update(refuse_fee_paid=False)

    # no reply: pending (exit 3), shown by pending, settled by settle --json (exit 0); the
    # reply timeout from a library file (1 s, not the default 5 s the command would wait out)
    ils.fault("silent:38")
    quick = tmp_path / "quick.toml"
    quick.write_text("[ils]\nreply_timeout_s = 1\nrecheck_after_s = 0\n")
    code, r = run_admin(
        tmp_db_url,
        "--config",
        str(quick),
        "--ils",
        url,
        "redeem",
        str(m["id"]),
        "--reward",
        "fine_discount",
        "--points",
        "25",
    )
    assert code == 3 and r["ils"]["status"] == "pending", r
    code, pend = run_admin(tmp_db_url, "--ils", url, "ils", "pending")
    assert code == 0 and [p["transaction"] for p in pend] == [r["ils"]["transaction"]]
    assert set(pend[0]) == {
        "entry_id",
        "member",
        "patron_id",
        "baht",
        "points",
        "transaction",
        "status",
        "attempts",
        "last_error",
        "created_at",
    }
    code, settled = run_admin(tmp_db_url, "--config", str(quick), "--ils", url, "ils", "settle")
    assert code == 0 and settled[0]["status"] == "confirmed"
    assert len(ils.payments(r["ils"]["transaction"])) == 1
    code, settled = run_admin(tmp_db_url, "--ils", url, "ils", "settle")
    assert code == 0 and settled == []

    # the URL from the environment
    proc = admin(tmp_db_url, "--json", "ils", "patron", str(other["id"]), env={"PRIVCARD_ILS": url})
    assert proc.returncode == 0 and json.loads(proc.stdout)["fines_baht"] == 0.0, proc.stderr

    # export, JSON and CSV, with categories from the config file
    cfg = tmp_path / "library.toml"
    cfg.write_text(f'[ils]\nurl = "{url}"\n[ils.categories]\nsilver = "PC-S"\n')
    proc = admin(tmp_db_url, "ils", "export-privileges", "--format", "json", config=cfg)
    rows = json.loads(proc.stdout)
    assert [r["patron_id"] for r in rows] == ["P100", "P200"] and rows[0]["category"] == "PC-S"
    proc = admin(tmp_db_url, "--json", "ils", "export-privileges", config=cfg)
    assert json.loads(proc.stdout) == rows
    proc = admin(tmp_db_url, "ils", "export-privileges", "--changed-since", "2000-01-01", config=cfg)
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["patron_id"] for r in table] == ["P100", "P200"] and table[0]["books"] == str(rows[0]["books"])
    # and the passwords never reach the audit
    open_service(tmp_db_url)
    from server.store import Audit

    assert "s3cret" not in json.dumps([a.detail for a in Audit.select()], default=str)
    close_store()


@pytest.mark.parametrize(
    ("toml", "args", "named"),
    [
        ("", ("--ils", "http://x:y@host"), "ils.url: scheme"),
        ("", ("--ils", "sip2://host:6001?institution=WU"), "ils.url: give the SIP login"),
        ("", ("--ils", "sip2://a:b@host:6001"), "institution= is required"),
        ("", ("--ils", "sip2://a:b@host:6001?institution=WU&colour=red"), "unknown parameter(s) colour"),
        ('[ils]\nurl = "sip2://a:b@h?institution=W"\nreply_timeout_s = "5"\n', (), "ils.reply_timeout_s"),
        ('[ils]\nurl = "sip2://a:b@h?institution=W"\nencoding = "klingon"\n', (), "ils.encoding"),
        ('[ils]\nurl = "sip2://a:b@h?institution=W"\nrecheck_after_s = -1\n', (), "ils.recheck_after_s"),
        ('[ils]\nurl = "sip2://a:b@h?institution=W"\npayment_type = 1\n', (), "ils.payment_type"),
        ('[ils]\nurl = "sip2://a:b@h?institution=W"\ncurrency = "baht"\n', (), "ils.currency"),
        ('[ils]\nurl = "sip2://a:b@h?institution=W"\nretries = 3\n', (), "unknown key(s) retries"),
        ('[ils]\ncurrency = "THB"\n', (), "ils.url is required"),
    ],
)
def test_bad_ils_config_is_refused_naming_the_key(tmp_db_url, tmp_path, toml, args, named):
    cfg = tmp_path / "library.toml"
    cfg.write_text(toml)
    proc = admin(tmp_db_url, "--json", *args, "member", "list", config=cfg)
    assert proc.returncode == 1 and named in proc.stderr, proc.stderr
    assert named in json.loads(proc.stdout)["error"]
    srv = subprocess.run(
        [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "server",
            "--db",
            tmp_db_url,
            "--mqtt",
            "mqtt://127.0.0.1:1",
            "--config",
            str(cfg),
            *args,
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )
    assert srv.returncode == 1 and named in srv.stderr, srv.stderr


def test_no_ils_configured_says_so(tmp_db_url):
    code, m = run_admin(tmp_db_url, "member", "add", "--name", "A", "--card", new_uid(), "--patron-id", "P1")
    assert code == 0
    for cmd in (("ils", "patron", str(m["id"])), ("ils", "settle"), ("ils", "pending")):
        code, d = run_admin(tmp_db_url, *cmd)
        assert code == 1 and "no library system is configured" in d["error"], d
    # a fine discount is then privcard's own (no "ils" part)
    code, r = run_admin(tmp_db_url, "redeem", str(m["id"]), "--reward", "fine_discount", "--points", "25")
    assert code == 0 and "ils" not in r


def test_server_kiosk_answer_taps_and_background_settle(tmp_db_url, ils, mosquitto, tmp_path):
    svc = open_service(tmp_db_url)
    svc.devices.add("g1", "gate", direction="in")
    svc.devices.add("k1", "kiosk")
    with_patron, without = new_uid(), new_uid()
    m = svc.members.add("Somchai", with_patron, patron_id="P100")
    svc.members.add("Jane", without)
    close_store()
    cfg = tmp_path / "library.toml"
    cfg.write_text("[ils]\nretry_interval_s = 0.5\nkiosk_budget_ms = 150\nreply_timeout_s = 1.0\nrecheck_after_s = 0\n")
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--ils", ils.url))
    with server, Device(mosquitto.url) as dev:
        dev.wait_server()
        a = dev.query("k1", with_patron)
        assert a.outcome == "member" and a.ils == {"state": "ok", "fines_baht": 35.0, "points_to_clear": 175}
        assert dev.query("k1", without).ils is None

        # a slow ILS: the answer comes anyway, within the budget, saying so
        ils.update(delay_ms=3000)
        t0 = time.monotonic()
        a = dev.query("k1", with_patron)
        took = time.monotonic() - t0
        assert a.outcome == "member" and a.ils == {"state": "unreachable"}
        assert took < 1.0, took  # 150 ms budget + the bus; never the ILS's 3 s
        # taps keep working (the ILS is never on the tap path)
        assert dev.tap("g1", with_patron).outcome == "credited"

        # the ILS down: the same
        ils.update(delay_ms=0)
        ils.kill()
        a = dev.query("k1", with_patron)
        assert a.outcome == "member" and a.ils == {"state": "unreachable"}
        assert dev.tap("g1", without).outcome == "credited"

        # a payment left pending is settled by the server in the background, once
        ils.restart()
        ils.fault("die_after_37")
        code, r = run_admin(
            tmp_db_url, "--ils", ils.url, "redeem", str(m.id), "--reward", "fine_discount", "--points", "25"
        )
        assert code == 3 and r["ils"]["status"] == "pending", r
        ils.wait_exit(10)
        ils.restart()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            code, pend = run_admin(tmp_db_url, "--ils", ils.url, "ils", "pending")
            if pend == []:
                break
            time.sleep(0.5)
        assert pend == [], pend
        assert len(ils.payments(r["ils"]["transaction"])) == 1
        svc = open_service(tmp_db_url)
        from server.store import IlsPayment

        p = IlsPayment.get(IlsPayment.transaction == r["ils"]["transaction"])
        # confirmed by the patron's fines (down by the payment): the 37 was not sent a second time
        assert p.status == "confirmed" and p.attempts == 1 and "35.00" in p.message
        close_store()


def test_attendance_import_by_patron_id(tmp_db_url, tmp_path):
    svc = open_service(tmp_db_url)
    m = svc.members.add("Somchai", new_uid(), patron_id="6301234567")
    close_store()
    f = tmp_path / "list.csv"
    f.write_text("name,patron_id\nSomchai,6301234567\nNobody,999\n")
    code, d = run_admin(tmp_db_url, "import-attendance", str(f), "--activity", "db_training", "--event", "Talk")
    assert code == 3, d
    assert [c["member"] for c in d["credited"]] == [m.id]
    assert d["errors"] == [
        {"line": 3, "error": "no member with patron_id '999'", "error_th": "ไม่พบสมาชิกที่มีรหัสผู้ใช้ห้องสมุด '999'"}
    ]


def test_admin_ils_resolve_settles_a_payment_the_fines_cannot_tell(tmp_db_url, ils, tmp_path):
    """A lost answer, then a fine added in the ILS: settle sends nothing and says to resolve; staff
    resolve it from the ILS's records (English and Thai lines; --json; a second resolve refused)."""
    ils.update(dedupe_bk=False)
    code, m = run_admin(
        tmp_db_url, "--ils", ils.url, "member", "add", "--name", "Somchai", "--card", new_uid(), "--patron-id", "P100"
    )
    assert code == 0, m
    quick = tmp_path / "quick.toml"
    quick.write_text("[ils]\nreply_timeout_s = 1\nrecheck_after_s = 0\n")
    ils.fault("silent:38")
    code, r = run_admin(
        tmp_db_url,
        "--config",
        str(quick),
        "--ils",
        ils.url,
        "redeem",
        str(m["id"]),
        "--reward",
        "fine_discount",
        "--points",
        "25",
    )
    assert code == 3 and r["ils"]["status"] == "pending", r
    bk = r["ils"]["transaction"]
    ils.update(lambda st: st["patrons"]["P100"].update(fines=50.0))
    code, settled = run_admin(tmp_db_url, "--config", str(quick), "--ils", ils.url, "ils", "settle")
    assert code == 3 and settled[0]["status"] == "pending" and f"ils resolve {bk}" in settled[0]["message"]
    assert ils.state()["fee_paid_log"].count(bk) == 1

    proc = admin(tmp_db_url, "--ils", ils.url, "ils", "resolve", bk, "--not-paid")
    assert proc.returncode == 0, proc.stderr
    assert f"not paid: {bk}" in proc.stdout and f"ไม่ได้ชำระ: {bk}" in proc.stdout
    code, mem = run_admin(tmp_db_url, "member", "show", str(m["id"]))
    assert mem["balance"] == 250  # the held points are back
    code, again = run_admin(tmp_db_url, "--ils", ils.url, "ils", "resolve", bk, "--paid")
    assert code == 1 and "already refused" in again["error"] and again.get("error_th"), again
    proc = admin(tmp_db_url, "--ils", ils.url, "ils", "resolve", bk)
    assert proc.returncode == 2 and "--paid" in proc.stderr  # one of the two is required
    assert ils.state()["fee_paid_log"].count(bk) == 1


def test_admin_ils_reversed_gives_a_confirmed_payments_points_back_once(tmp_db_url, ils):
    """Staff reversed a fine payment in the ILS by hand: ``ils reversed BK --reason`` (English and
    Thai line; a second one refused; no reason refused by argparse)."""
    code, m = run_admin(
        tmp_db_url, "--ils", ils.url, "member", "add", "--name", "Somchai", "--card", new_uid(), "--patron-id", "P100"
    )
    assert code == 0, m
    code, r = run_admin(
        tmp_db_url, "--ils", ils.url, "redeem", str(m["id"]), "--reward", "fine_discount", "--points", "50"
    )
    assert code == 0 and r["ils"]["status"] == "confirmed", r
    bk = r["ils"]["transaction"]
    proc = admin(tmp_db_url, "ils", "reversed", bk)
    assert proc.returncode == 2 and "--reason" in proc.stderr
    proc = admin(tmp_db_url, "ils", "reversed", bk, "--reason", "fine waived, payment reversed in Koha")
    assert proc.returncode == 0, proc.stderr
    assert f"reversed in the library system: {bk}" in proc.stdout and "คืน 50 คะแนนแล้ว" in proc.stdout, proc.stdout
    code, mem = run_admin(tmp_db_url, "member", "show", str(m["id"]))
    assert mem["balance"] == 250
    code, again = run_admin(tmp_db_url, "ils", "reversed", bk, "--reason", "again")
    assert code == 1 and "already reversed" in again["error"] and again.get("error_th"), again
    code, mem = run_admin(tmp_db_url, "member", "show", str(m["id"]))
    assert mem["balance"] == 250
