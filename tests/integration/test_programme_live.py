"""The programme edited live (issue 13, item 4): versions, audit, refusals, two replicas.

The replica test runs two real ``privcard server`` processes on one SQLite file, each
on its own Mosquitto (so each tap is decided by the server we choose), both started
before the change; the activity is added through the console's form (Flask, CSRF and
all, in this process on the same database) and earns on the very next tap on each.
"""

from __future__ import annotations

import tomllib

import pytest

from server.services import ServiceError
from server.services.live import ProgrammeVersion
from server.store import Audit, LedgerEntry
from tests.brokers import running_mosquitto
from tests.browser.web_support import flashes, make_app, post_form, sign_in
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service


def _audit_changes():
    return [a.detail for a in Audit.select().where(Audit.action == "programme.change").order_by(Audit.id)]


def test_an_activity_added_in_the_console_earns_on_the_next_tap_on_two_servers(any_db_url, tmp_path):
    tmp_db_url = any_db_url  # SQLite and PostgreSQL
    svc = open_service(tmp_db_url)
    uids = [new_uid() for _ in range(4)]
    for i, uid in enumerate(uids):
        svc.members.add(f"M{i}", uid)
    close_store()
    with running_mosquitto() as b1, running_mosquitto() as b2:
        servers = [
            ServerProcess(tmp_db_url, b.url, client_id=f"srv-{n}", log_dir=tmp_path, name=f"server-{n}")
            for n, b in (("a", b1), ("b", b2))
        ]
        devs = [Device(b1.url), Device(b2.url)]
        try:
            for s in servers:
                s.start()
            for d in devs:
                d.start()
                d.wait_server()
            # the console: an admin adds "quiz" (7 points a day), then the counters that credit it
            app = make_app(tmp_db_url)
            client = app.test_client()
            sign_in(client)
            page = post_form(
                client,
                "/programme",
                "/programme/activities",
                {"code": "quiz", "th": "ตอบคำถาม", "en": "Library quiz", "points": "7", "limit": "per_day"},
            )
            assert any("version 2" in f for f in flashes(page.text)), flashes(page.text)
            svc = app.extensions["privcard.service"]
            svc.devices.add("desk-a", "counter", activity="quiz")
            svc.devices.add("desk-b", "counter", activity="quiz")
            ra = devs[0].tap("desk-a", uids[0])
            rb = devs[1].tap("desk-b", uids[1])
            assert (ra.outcome, ra.points, ra.activity) == ("credited", 7, "quiz"), servers[0].log_tail()
            assert (rb.outcome, rb.points, rb.activity) == ("credited", 7, "quiz"), servers[1].log_tail()
            # a change of points reaches both servers' next taps too
            post_form(
                client, "/programme", "/programme/activities", {"code": "quiz", "points": "9", "limit": "per_day"}
            )
            ra = devs[0].tap("desk-a", uids[2])
            rb = devs[1].tap("desk-b", uids[3])
            assert (ra.points, rb.points) == (9, 9)
            # retired: no tap earns it any more, and its entries stay
            post_form(client, "/programme", "/programme/activities/quiz/retire", {})
            again = devs[0].tap("desk-a", uids[0])
            assert again.outcome == "no_activity"
            # the audit has old -> new for each change
            changes = _audit_changes()
            assert changes[0]["changes"] == [
                {
                    "path": "activities.quiz",
                    "old": None,
                    "new": {"points": 7, "limit": "per_day", "th": "ตอบคำถาม", "en": "Library quiz"},
                }
            ]
            assert {"path": "activities.quiz.points", "old": 7, "new": 9} in changes[1]["changes"]
            assert {"path": "activities.quiz.retired", "old": None, "new": True} in changes[2]["changes"]
            assert [v.section for v in ProgrammeVersion.select().order_by(ProgrammeVersion.version)] == [
                "seed",
                "activities",
                "activities",
                "activities",
            ]
            assert LedgerEntry.select().where(LedgerEntry.activity == "quiz").count() == 4
            for s in servers:
                assert "Traceback" not in s.log(), s.log_tail()
            # each followed the versions itself (no restart): A decided a tap under version 4, B under 3
            assert "programme version 4 in force" in servers[0].log(), servers[0].log_tail()
            assert "programme version 3 in force" in servers[1].log(), servers[1].log_tail()
            assert servers[0].starts == servers[1].starts == 1
        finally:
            for d in devs:
                d.close()
            for s in servers:
                s.kill()
            close_store()


def test_a_change_that_breaks_the_rules_is_refused_naming_the_field_and_changes_nothing(tmp_db_url):
    svc = open_service(tmp_db_url)
    try:
        p = svc.programme
        p.save_activity("quiz", {"points": 3, "limit": "per_day"}, actor="t")
        before = (p.version(), Audit.select().count(), p.export().split("\n", 1)[1])
        bad = [
            ("hours", '[hours]\ndefault = "08:00-08:20"\n', "activities.late_stay.window"),
            ("rewards", '[rewards.pen]\nth = "ปากกา"\nen = "Pen"\npoints = -5\n', "rewards.pen.points"),
            ("hours", '[hours]\nclosures = ["2026-13-01"]\n', "hours.closures[0]"),
            ("activities", '[activities.quiz]\npoints = 1\nlimit = "sometimes"\n', "activities.quiz.limit"),
            ("rules", "[rules]\nmax_tap_age_days = 0\n", "rules.max_tap_age_days"),
            ("hours", "[rules]\nx = 1\n", "rules"),
        ]
        for section, text, field in bad:
            with pytest.raises(ServiceError) as exc:
                p.set_section(section, text, actor="t")
            assert field in str(exc.value), (field, str(exc.value))
        # a campaign naming an activity that does not exist
        with pytest.raises(ServiceError, match=r"activities: unknown 'nope'"):
            svc.campaigns.add(
                {
                    "code": "c",
                    "kind": "bonus",
                    "bonus": 2,
                    "activities": ["nope"],
                    "starts": "2026-01-05 00:00",
                    "ends": "2026-01-09 23:59",
                },
                actor="t",
            )
        # an activity with ledger entries cannot be removed: retire it
        m = svc.members.add("A", new_uid())
        svc.points.award(m.id, "quiz")
        with pytest.raises(ServiceError, match=r"activities\.quiz has ledger entries: retire it instead"):
            p.delete_activity("quiz", actor="t")
        assert (p.version(), p.export().split("\n", 1)[1]) == (before[0], before[2])
        # an import with --dry-run lists the changes and stores nothing
        r = p.import_toml('[activities.quiz]\npoints = 4\nlimit = "per_day"\n', actor="t", dry_run=True)
        assert r["dry_run"] and {"path": "activities.quiz.points", "old": 3, "new": 4} in r["changes"]
        assert p.version() == before[0]
    finally:
        close_store()


def test_export_import_round_trip_and_a_librarys_existing_file(tmp_db_url, tmp_path):
    svc = open_service(tmp_db_url)
    try:
        p = svc.programme
        svc.devices.add("kiosk-1", "kiosk")
        for cfg, revision in svc.devices.configs_to_publish():
            svc.devices.mark_published(cfg.device_id, revision)
        text = p.export()
        assert p.version() == 0  # nothing stored until the first change: the start-up file is in force
        r = p.import_toml(text, actor="t")
        assert r["changes"] == [] and p.version() == 0  # the same programme: no new version
        p.set_section(
            "hours", '[hours]\ndefault = "08:00-22:00"\nsun = "closed"\nclosures = ["2026-12-31"]\n', actor="t"
        )
        exported = p.export()
        doc = tomllib.loads(exported)
        assert doc["hours"]["closures"] == ["2026-12-31"] and doc["hours"]["sun"] == "closed"
        assert svc.prog.hours[6].closed and str(min(svc.prog.closures)) == "2026-12-31"
        # devices are told the new hours: their retained config is due again, with sun closed
        due = {cfg.device_id: cfg for cfg, _ in svc.devices.configs_to_publish()}
        assert due["kiosk-1"].settings["hours"]["sun"] == "closed"
        # a library's own partial file (as given to --config) imports merged over the defaults
        r = p.import_toml(
            '[activities.visit]\npoints = 1\nlimit = "unlimited"\nth = "เยี่ยมชม"\nen = "Visit"\n', actor="t"
        )
        assert "visit" in svc.prog.activities and "entry" in svc.prog.activities
        assert {
            "path": "activities.visit",
            "old": None,
            "new": {"points": 1, "limit": "unlimited", "th": "เยี่ยมชม", "en": "Visit"},
        } in r["changes"]
    finally:
        close_store()


def test_a_database_from_before_gets_the_campaign_column_and_keeps_its_entries(tmp_db_url):
    """``programme_live`` migrates a database made before it: ledger_entry.campaign added, entries kept."""
    from server.store import Counter, db

    svc = open_service(tmp_db_url)
    m = svc.members.add("Before", new_uid())
    # make it look like a database from before issue 13: no column, no namespace version
    db.execute_sql("ALTER TABLE ledger_entry DROP COLUMN campaign")
    Counter.delete().where(Counter.key == "schema:programme_live").execute()
    db.execute_sql("DROP TABLE programme_version")
    close_store()
    svc = open_service(tmp_db_url)
    try:
        assert "campaign" in {c.name for c in db.get_columns("ledger_entry")}
        assert svc.ledger.balance(m.id) == 250 and svc.ledger.history(m.id)[0]["campaign"] is None
        svc.programme.save_activity("quiz", {"points": 3}, actor="t")
        assert svc.programme.version() == 2
    finally:
        close_store()


def test_changes_and_refusals_on_postgresql_too(any_db_url):
    svc = open_service(any_db_url)
    try:
        p = svc.programme
        p.save_activity("quiz", {"points": 3, "limit": "per_day"}, actor="t")
        with pytest.raises(ServiceError, match=r"activities\.late_stay\.window"):
            p.set_section("hours", '[hours]\ndefault = "08:00-08:20"\n', actor="t")
        m = svc.members.add("A", new_uid(), group="U1")
        assert svc.points.award(m.id, "quiz")[0] == "credited"
        svc.devices.add("door", "gate", direction="in")
        assert p.version() == 2 and "quiz" in svc.prog.activities
        svc.campaigns.add(
            {
                "code": "all_x2",
                "kind": "multiplier",
                "multiplier": "2",
                "starts": "2020-01-01 00:00",
                "ends": "2099-12-31 23:59",
            },
            actor="t",
        )
        from broker.contract import Tap
        from tests.helpers import library_today, local_time

        at = local_time(library_today(), 12)
        uid = new_uid()
        svc.members.add("B", uid, group="U1")
        r = svc.taps.decide("door", Tap(tap_id="pg-1", uid=uid, at=at, clock_ok=True), received=at)
        assert (r.outcome, r.points) == ("credited", 10)
    finally:
        close_store()


def test_shared_replicas_on_postgresql_follow_a_change_without_a_restart(pg_url, pg_template, mosquitto, tmp_path):
    """Two ``--shared`` replicas on one PostgreSQL database (the production topology): after a
    points change every tap, whichever replica takes it, earns the new points."""
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        uids = [new_uid() for _ in range(24)]
        for uid in uids:
            svc.members.add("R", uid)
        svc.devices.add("desk", "counter", activity="volunteer")
        close_store()
        servers = [
            ServerProcess(
                url,
                mosquitto.url,
                client_id=f"rep-{n}",
                log_dir=tmp_path,
                name=f"rep-{n}",
                extra_args=("--shared", "grp"),
            )
            for n in ("a", "b")
        ]
        dev = Device(mosquitto.url)
        try:
            for s in servers:
                s.start()
            dev.start()
            dev.wait_server()
            first = [dev.tap("desk", uid) for uid in uids[:4]]
            assert {(r.outcome, r.points) for r in first} == {("credited", 10)}
            svc = open_service(url)
            svc.programme.save_activity("volunteer", {"points": 12}, actor="test")
            close_store()
            after = [dev.tap("desk", uid) for uid in uids[4:]]
            assert {(r.outcome, r.points) for r in after} == {("credited", 12)}, [r.points for r in after]
            took = [s for s in servers if "programme version 2 in force" in s.log()]
            assert len(took) == 2, "both replicas decided taps under version 2 (20 taps shared between them)"
            assert all(s.starts == 1 and "Traceback" not in s.log() for s in servers)
        finally:
            dev.close()
            for s in servers:
                s.kill()
            close_store()


def test_console_import_and_delete_flash_their_outcome(tmp_path):
    """The console's upload (refused, checked, imported) and activity delete, each flashed and redirected."""
    from io import BytesIO

    from tests.browser.web_support import csrf_of

    app = make_app(f"sqlite:///{tmp_path / 'p.db'}")
    client = app.test_client()
    sign_in(client)
    svc = app.extensions["privcard.service"]

    def upload(data: bytes, **form) -> list[str]:
        token = csrf_of(client.get("/programme").text)
        r = client.post(
            "/programme/import",
            data={"file": (BytesIO(data), "programme.toml"), "csrf_token": token, **form},
            content_type="multipart/form-data",
        )
        assert r.status_code == 302 and r.location.endswith("/programme"), r.status_code
        return flashes(client.get(r.location).text)

    assert any("at most 512 KB" in f for f in upload(b"")), "an empty upload is refused"
    assert any("not UTF-8" in f for f in upload(b"\xff\xfe[hours]")), "a non-UTF-8 upload is refused"
    assert svc.programme.version() == 0
    text = b'[hours]\ndefault = "07:30-20:00"\n'  # merged over the defaults
    checked = upload(text, dry_run="1")
    assert any("Checked: 1 change, nothing saved." == f for f in checked), checked
    assert svc.programme.version() == 0  # a dry run keeps the programme
    done = upload(text)
    assert any("is in force (1 change)" in f for f in done), done

    post_form(client, "/programme", "/programme/activities", {"code": "quiz", "points": "7", "limit": "per_day"})
    before = svc.programme.version()
    page = post_form(client, "/programme", "/programme/activities/quiz/delete", {})
    assert any(f"version {before + 1}" in f for f in flashes(page.text)), flashes(page.text)
    assert "quiz" not in svc.programme.document()["activities"]
    page = post_form(client, "/programme", "/programme/activities/quiz/delete", {})
    assert any("quiz" in f for f in flashes(page.text)), flashes(page.text)  # gone: refused, named
