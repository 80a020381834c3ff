"""``privcard admin --as STAFF_USERNAME`` (issue 16, the scope's last gaps): the CLI acts as a
console account — its role and its sites, enforced by the same service calls as the console,
refusals in English and Thai, the account recorded in the audit. Without ``--as`` it acts for
the machine's operator (every site). The real ``privcard admin`` entry point on a real SQLite
file, in this process.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import admin, catalogue, store
from server.domain import config
from server.domain.config import to_toml
from server.store import Audit, Device, Feedback, ImportJob, LedgerEntry, Member
from tests.helpers import admin_here, close_store, open_service
from tests.site_support import FAR_APART, TWO_SITES, UID_A, UID_B


@pytest.fixture
def db(tmp_db_url, tmp_path):
    from server.web import accounts

    conf = tmp_path / "programme.toml"
    conf.write_text(to_toml(TWO_SITES), encoding="utf-8")  # the library's file: every process loads it
    svc = open_service(tmp_db_url, prog=config.load(conf))
    accounts.add_staff("anna", "admin", "anna-password-1", sites="A")
    accounts.add_staff("sam", "staff", "sam-password-22", sites="A")
    accounts.add_staff("gone", "admin", "gone-password-333", sites="A")
    accounts.set_staff("gone", active=False)
    for site in ("A", "B"):
        svc.devices.add(f"in-{site}", "gate", direction="in", site=site)
    ids = {
        "A": svc.members.add("Member A", UID_A, home_site="A").id,
        "B": svc.members.add("Member B", UID_B, home_site="B").id,
    }
    _o, b_entry = svc.points.award(UID_B, "borrow", actor="admin")  # made at B
    svc.feedback.submit(channel="phone", category="question", text="at A?", member=UID_A)
    svc.feedback.submit(channel="phone", category="question", text="at B?", member=UID_B)
    day = (svc.today() - timedelta(days=1)).isoformat()
    close_store()
    yield {"url": tmp_db_url, "conf": str(conf), "members": ids, "b_entry": b_entry.id, "day": day, "tmp": tmp_path}
    close_store()


#: the Thai of "site B is outside your sites"
THAI_OUTSIDE_B = catalogue.thai("site %(site)s is outside your sites", {"site": "B"})


def cli(db, *argv) -> tuple[int, dict | list | None, str]:
    """Run ``privcard admin --db URL --json ARGV``; (exit code, JSON printed, stderr)."""
    code, data, lines = admin_here("--db", db["url"], "--config", db["conf"], "--json", *argv)
    return code, data, "".join(f"{line}\n" for line in lines)


def _reopen(db):
    store.connect(db["url"])


def test_as_a_branch_admin_the_cli_sees_and_changes_only_its_sites_devices(db):
    code, rows, _ = cli(db, "--as", "anna", "device", "list")
    assert code == 0 and {d["id"] for d in rows} == {"in-A"}
    code, rows, _ = cli(db, "device", "list")  # the operator: every site
    assert code == 0 and {d["id"] for d in rows} == {"in-A", "in-B"}
    code, out, err = cli(db, "--as", "anna", "device", "set", "in-B", "location=moved")
    assert code == 1 and out == {"error": "no device in-B", "error_th": "ไม่พบอุปกรณ์ in-B"}
    assert "privcard admin: no device in-B" in err and "privcard admin: ไม่พบอุปกรณ์ in-B" in err
    code, _out, _ = cli(db, "--as", "anna", "device", "show", "in-B")
    assert code == 1
    code, out, _ = cli(db, "--as", "anna", "device", "add", "sneaky", "--kind", "gate", "--site", "B")
    assert code == 1 and out["error"] == "site B is outside your sites" and out["error_th"].startswith("สาขา B")
    code, out, _ = cli(db, "--as", "anna", "device", "add", "new-gate", "--kind", "gate")
    assert code == 0 and out["site"] == "A"
    _reopen(db)
    assert Device.get_by_id("in-B").location is None and Device.get_or_none(Device.id == "sneaky") is None
    assert Audit.get(Audit.action == "device.add", Audit.target == "new-gate").actor == "staff:anna"


def test_as_a_branch_account_points_follow_its_site_and_are_audited_as_it(db):
    code, out, _ = cli(db, "--as", "sam", "award", UID_B, "--activity", "db_training", "--item", "x")
    assert code == 0 and out["outcome"] == "credited"
    code, out, err = cli(db, "--as", "sam", "void", str(db["b_entry"]), "--reason", "not ours")
    assert code == 1 and out["error"].startswith("no ") and "ไม่พบ" in err
    code, out, _ = cli(db, "--as", "sam", "member", "set", UID_B, "name=Renamed")
    assert code == 1
    _reopen(db)
    visit = LedgerEntry.get(LedgerEntry.activity == "db_training")
    assert (visit.site, visit.actor) == ("A", "staff:sam")
    assert not LedgerEntry.select().where(LedgerEntry.void_of == db["b_entry"]).exists()
    assert Member.get_by_id(db["members"]["B"]).name == "Member B"
    assert (
        Audit.get(Audit.action == "points.award", Audit.target == str(db["members"]["B"]), Audit.actor != "admin").actor
        == "staff:sam"
    )
    store.db.close()
    # the operator (no --as) may void it, recorded as the login
    code, _out, _ = cli(db, "void", str(db["b_entry"]), "--reason", "typo")
    assert code == 0
    _reopen(db)
    assert Audit.get(Audit.action == "points.void").actor.startswith("cli:")


def test_the_account_role_and_programme_wide_commands_are_refused_in_english_and_thai(db):
    code, out, err = cli(db, "--as", "anna", "programme", "export")
    assert code == 1 and "is the whole programme's; anna works for sites A" in out["error"]
    assert "เป็นคำสั่งของทั้งโครงการ" in out["error_th"] and "เป็นคำสั่งของทั้งโครงการ" in err
    code, out, _ = cli(db, "--as", "anna", "term", "close", "--dry-run")
    assert code == 1 and "whole programme's" in out["error"]
    code, out, _ = cli(db, "--as", "sam", "device", "list")
    assert code == 1 and out["error"] == "privcard admin device list needs the admin role; sam is staff"
    assert "ต้องใช้บทบาทผู้ดูแลระบบ" in out["error_th"]
    for who in ("nobody", "gone"):
        code, out, _ = cli(db, "--as", who, "member", "list")
        assert code == 1 and out["error"] == f"no active staff account '{who}'" and "ไม่พบบัญชี" in out["error_th"]
    code, out, _ = cli(db, "--as", "anna", "--actor", "someone", "member", "list")
    assert code == 1 and out["error"] == "use --as or --actor, not both"


def test_as_a_branch_account_an_import_is_its_sites_and_the_feedback_desk_its_own(db):
    path = db["tmp"] / "list.csv"
    path.write_text(f"uid,site\n{UID_A},\n{UID_B},B\n", encoding="utf-8")
    argv = ("import-attendance", str(path), "--activity", "db_training", "--event", "Talk", "--date", db["day"])
    code, out, _ = cli(db, "--as", "anna", *argv)
    assert code == 3 and out["counts"]["credited"] == 1
    assert out["errors"] == [{"line": 3, "error": "site B is outside your sites", "error_th": THAI_OUTSIDE_B}]
    code, out, _ = cli(db, "--as", "anna", *argv, "--site", "B")
    assert code == 1 and out["error"] == "site B is outside your sites"
    _reopen(db)
    job = ImportJob.get(ImportJob.origin == "cli")
    assert (job.sites, job.started_by, job.actor) == ("A", "anna", "staff:anna")
    assert LedgerEntry.get(LedgerEntry.item == "Talk").site == "A"
    b_item = Feedback.get(Feedback.text == "at B?").id
    store.db.close()
    code, rows, _ = cli(db, "--as", "anna", "feedback", "list")
    assert code == 0 and [r["text"] for r in rows] == ["at A?"]
    code, _out, _ = cli(db, "--as", "anna", "feedback", "status", str(b_item), "in_progress")
    assert code == 1
    code, rows, _ = cli(db, "feedback", "list", "--site", "B")
    assert code == 0 and [r["text"] for r in rows] == ["at B?"]


def test_as_a_branch_account_another_sites_members_term_tier_and_pin_are_not_found(db):
    """The renew and tier commands share the service's check with the console (Terms.renew, set_tier)."""
    from server.services.patrons import PatronPin
    from server.store import Fee

    def state():
        _reopen(db)
        b = Member.get_by_id(db["members"]["B"])
        out = (b.tier, b.valid_until, b.term_start, Fee.select().count(), PatronPin.select().count())
        store.db.close()
        return out

    before = state()
    for argv in (
        ("member", "renew", UID_B),
        ("member", "tier", str(db["members"]["B"]), "gold", "--reason", "a favour"),
        ("member", "set", UID_B, "patron_pin=123456"),
    ):
        code, out, err = cli(db, "--as", "sam", *argv)
        assert code == 1 and out["error"].startswith("no member") and "ไม่พบสมาชิก" in err, argv
    assert state() == before
    code, out, _ = cli(db, "--as", "sam", "member", "tier", str(db["members"]["A"]), "gold", "--reason", "a favour")
    assert code == 0 and out["tier"] == "gold"


def test_staff_add_keeps_the_role_it_is_given_whoever_runs_it(db, capsys):
    """``staff add --role staff`` makes a staff account — the operator's own role (admin) is not it."""
    from server import store
    from server.web.accounts import Staff

    base = ["--db", db["url"], "--config", db["conf"]]
    assert admin.main([*base, "staff", "add", "clerk", "--role", "staff", "--password", "clerk-password-22"]) == 0
    assert "staff account clerk (staff) created" in capsys.readouterr().out
    # staff accounts are the programme administrator's: a site's admin acting with --as is refused
    assert admin.main([*base, "--as", "anna", "staff", "add", "clerk2", "--password", "clerk-password-22"]) == 1
    store.connect(db["url"])
    try:
        assert Staff.get(Staff.username == "clerk").role == "staff"
        assert Staff.get_or_none(Staff.username == "clerk2") is None
    finally:
        close_store()


def test_an_all_sites_list_for_the_day_ahead_refuses_its_rows_at_a_site_still_on_the_day_before(tmp_db_url, tmp_path):
    """``privcard admin import-attendance`` for every site (no ``--site``), dated the day of the site furthest ahead
    (B, UTC+14): the list is accepted (that day has begun at B) and B's member's row is credited at B on that day,
    but A's member's row — made at A (UTC-12), still on the day before — is refused in English and Thai (the
    text's line, ``--json``'s ``error`` and ``error_th``) and writes nothing."""
    import contextlib
    import io

    conf = tmp_path / "programme.toml"
    conf.write_text(to_toml(FAR_APART), encoding="utf-8")
    svc = open_service(tmp_db_url, prog=config.load(conf))
    at_a = svc.members.add("Member A", UID_A, home_site="A").id
    at_b = svc.members.add("Member B", UID_B, home_site="B").id
    a_today, b_today = svc.sites.day_of("A"), svc.sites.day_of("B")
    assert a_today < b_today
    balance_a = Member.get_by_id(at_a).balance
    close_store()
    path = tmp_path / "list.csv"
    path.write_text(f"member\n{at_a}\n{at_b}\n", encoding="utf-8")
    base = ("--db", tmp_db_url, "--config", str(conf))
    argv = ("import-attendance", str(path), "--activity", "db_training", "--date", b_today.isoformat())

    code, out, _ = admin_here(*base, "--json", *argv, "--event", "Talk", "--dry-run")
    assert code == 3 and out["counts"] == {"credited": 1, "already_credited": 0, "errors": 1}, out
    code, out, _ = admin_here(*base, "--json", *argv, "--event", "Talk")
    assert code == 3 and out["counts"] == {"credited": 1, "already_credited": 0, "errors": 1}, out
    [refused] = out["errors"]
    assert refused["line"] == 2 and f"{b_today} has not begun yet at site A" in refused["error"], refused
    assert "ที่สาขา A ยังไม่ถึงวันที่" in refused["error_th"], refused

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        assert admin.main([*base, *argv, "--event", "Talk again"]) == 3
    line = next(row for row in printed.getvalue().splitlines() if "has not begun yet at site A" in row)
    assert "ที่สาขา A ยังไม่ถึงวันที่" in line, printed.getvalue()

    store.connect(tmp_db_url)
    made = [(e.member_id, e.day, e.site) for e in LedgerEntry.select().where(LedgerEntry.source == "import")]
    assert made == [(at_b, b_today, "B"), (at_b, b_today, "B")], made
    assert Member.get_by_id(at_a).balance == balance_a
    close_store()
