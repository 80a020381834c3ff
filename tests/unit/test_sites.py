"""Sites (issue 16): the programme's ``[sites]``, the site views, taps decided by the device's
site (late-stay window, which day, limit scopes), and the kiosk's own site name and hours.

Real SQLite (in memory) and the real service layer with a settable clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from broker.contract import Tap
from kiosk import present
from server.domain import config
from server.domain.config import ConfigError
from server.store import Accrual, LedgerEntry
from tests.helpers import close_store, ledger_problems, local_time, open_service

MONDAY = date(2026, 11, 23)
UID = "04A1B2C3D4E5F6"

#: site A closes at 20:00, site B two hours later (and is in another time zone for "which day")
TWO_SITES = {
    "library": {"default_site": "A"},
    "sites": {
        "A": {"name_th": "หอสมุดกลาง", "name_en": "Central Library", "hours": {"default": "08:00-20:00"}},
        "B": {
            "name_th": "ห้องสมุดสาขา",
            "name_en": "Branch Library",
            "hours": {"default": "08:00-22:00", "sun": "closed"},
        },
    },
}


class Clock:
    def __init__(self):
        self.now = local_time(MONDAY, 10).astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


def programme(extra: dict | None = None):
    raw = {**TWO_SITES}
    if extra:
        raw = config._merge(raw, extra)
    return config.load(overrides=raw)


def service(prog, clock):
    svc = open_service("sqlite:///:memory:", prog=prog, clock=clock)
    for site in ("A", "B"):
        svc.devices.add(f"in-{site}", "gate", direction="in", site=site)
        svc.devices.add(f"out-{site}", "gate", direction="out", site=site)
        svc.devices.add(f"kiosk-{site}", "kiosk", site=site)
    return svc


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(clock):
    s = service(programme(), clock)
    yield s
    assert ledger_problems(prog=s.prog) == []
    close_store()


_n = iter(range(1, 10**9))


def tap(svc, device, at):
    svc.clock.now = at.astimezone(UTC)
    return svc.taps.decide(device, Tap(tap_id=f"{device}:{next(_n)}", uid=UID, at=at.astimezone(UTC), clock_ok=True))


# --------------------------------------------------------------------------- the programme's sites


def test_a_programme_without_sites_has_one_default_site_from_library_and_hours():
    prog = config.load()
    assert list(prog.sites) == ["MAIN"] and prog.default_site == "MAIN"
    main = prog.for_site(None)
    assert (main.name_en, main.timezone, main.hours, main.activities) == (
        prog.name_en,
        prog.timezone,
        prog.hours,
        prog.activities,
    )
    assert "sites" not in prog.raw  # nothing is added to the document (export unchanged)


def test_site_views_override_hours_names_activities_and_are_cached_per_version():
    prog = programme({"sites": {"B": {"activities": {"entry": {"points": 7, "scope": "site"}}}}})
    a, b = prog.for_site("A"), prog.for_site("B")
    assert (a.name_en, b.name_en) == ("Central Library", "Branch Library")
    assert a.hours[0].close.hour == 20 and b.hours[0].close.hour == 22 and b.hours[6].closed
    assert (a.activities["entry"].points, b.activities["entry"].points) == (5, 7)
    assert b.activities["entry"].scope == "site" and a.activities["entry"].scope == "programme"
    assert prog.for_site("B") is b and a.for_site("B") is b and b.for_site("A") is a  # one view per version
    assert prog.for_site(None) is a  # the default site
    with pytest.raises(ConfigError, match="unknown site 'Z'"):
        prog.for_site("Z")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"sites": {"b2": {}}}, r"^sites\.b2: a site code"),
        ({"sites": {"B": {"hours": {"mon": "9-5"}}}}, r"^sites\.B\.hours\.mon must be 'HH:MM-HH:MM'"),
        ({"sites": {"B": {"timezone": "Mars/Base"}}}, r"^sites\.B\.timezone: unknown time zone"),
        ({"sites": {"B": {"closures": ["2026-13-01"]}}}, r"^sites\.B\.closures\[0\] must be a 'YYYY-MM-DD' date"),
        ({"sites": {"B": {"activities": {"entry": {"scope": "room"}}}}}, r"^sites\.B\.activities\.entry\.scope"),
        ({"sites": {"B": {"activities": {"entry": {"pointz": 1}}}}}, r"^sites\.B\.activities\.entry: unknown key"),
        ({"sites": {"B": {"colour": "red"}}}, r"^sites\.B: unknown key\(s\) colour"),
        ({"sites": {"B": {"partners": {"shops": "Cafe"}}}}, r"^sites\.B\.partners\.shops must be a list"),
        ({"sites": {"B": {"hours": {"default": "08:00-08:20"}}}}, r"^sites\.B\.hours\.mon: 30 minutes before"),
        ({"library": {"default_site": "C"}}, r"^library\.default_site: no site 'C'"),
        (
            {"activities": {"entry": {"scope": "world"}}},
            r"^activities\.entry\.scope must be one of programme \(the limit across every site\), "
            r"site \(the limit at each site\), got 'world'",
        ),
    ],
)
def test_a_bad_site_is_refused_naming_the_field(override, message):
    with pytest.raises(ConfigError, match=message):
        programme(override)


def test_a_site_without_names_is_refused():
    with pytest.raises(ConfigError, match=r"^sites\.C\.name_th must be a non-empty string"):
        programme({"sites": {"C": {"name_en": "C"}}})


# --------------------------------------------------------------------------- taps by the device's site


def test_late_stay_follows_the_exit_gates_own_site_closing_time(svc):
    svc.members.add("Somchai", UID)
    at = local_time(MONDAY, 19, 40)  # 20 minutes before A closes; B is open two more hours
    at_a = tap(svc, "out-A", at)
    assert (at_a.outcome, at_a.activity, at_a.points) == ("credited", "late_stay", 10)
    at_b = tap(svc, "out-B", at)
    assert (at_b.outcome, at_b.points) == ("no_activity", 0)
    # B's own window: 21:40 at B earns it (the programme-wide once-a-day limit then stops A's... none left)
    assert tap(svc, "out-B", local_time(MONDAY, 21, 40)).outcome == "limit_reached"


def test_late_stay_at_site_b_in_its_own_window(svc):
    svc.members.add("Somchai", UID)
    r = tap(svc, "out-B", local_time(MONDAY, 21, 45))
    assert (r.outcome, r.points) == ("credited", 10)
    assert tap(svc, "out-A", local_time(MONDAY, 21, 45)).outcome == "no_activity"  # A closed at 20:00


def test_entry_at_two_sites_the_same_day_is_one_credit_with_programme_scope(svc):
    svc.members.add("Somchai", UID)
    assert tap(svc, "in-A", local_time(MONDAY, 9)).outcome == "credited"
    r = tap(svc, "in-B", local_time(MONDAY, 13))
    assert (r.outcome, r.points) == ("limit_reached", 0)
    assert LedgerEntry.select().where(LedgerEntry.activity == "entry").count() == 1


def test_entry_at_two_sites_the_same_day_is_two_credits_with_site_scope(clock):
    svc = service(programme({"activities": {"entry": {"scope": "site"}}}), clock)
    try:
        svc.members.add("Somchai", UID)
        assert tap(svc, "in-A", local_time(MONDAY, 9)).outcome == "credited"
        r = tap(svc, "in-B", local_time(MONDAY, 13))
        assert (r.outcome, r.points) == ("credited", 5)
        # once a day per site still holds
        assert tap(svc, "in-A", local_time(MONDAY, 15)).outcome == "limit_reached"
        assert tap(svc, "in-B", local_time(MONDAY, 16)).outcome == "limit_reached"
        keys = sorted((a.day, a.item) for a in Accrual.select().where(Accrual.activity == "entry"))
        assert keys == [("2026-11-23", "@A:"), ("2026-11-23", "@B:")]
        assert LedgerEntry.select().where(LedgerEntry.activity == "entry").count() == 2
        assert ledger_problems(prog=svc.prog) == []
    finally:
        close_store()


def test_a_site_override_of_the_scope_applies_only_there(clock):
    # entry is per site at B only: A then B = two credits, B then A the next day = one... per key
    svc = service(programme({"sites": {"B": {"activities": {"entry": {"scope": "site"}}}}}), clock)
    try:
        svc.members.add("Somchai", UID)
        assert tap(svc, "in-A", local_time(MONDAY, 9)).outcome == "credited"
        assert tap(svc, "in-B", local_time(MONDAY, 10)).outcome == "credited"
        assert tap(svc, "in-B", local_time(MONDAY, 11)).outcome == "limit_reached"
    finally:
        close_store()


def test_which_day_follows_the_sites_time_zone(clock):
    # B is in Tokyo (two hours ahead): 23:30 in Bangkok on Monday is already Tuesday at B
    prog = programme({"sites": {"B": {"timezone": "Asia/Tokyo", "hours": {"default": "00:00-24:00"}}}})
    svc = service(prog, clock)
    try:
        svc.members.add("Somchai", UID)
        at = local_time(MONDAY, 23, 30)
        assert tap(svc, "in-A", at).outcome == "credited"
        r = tap(svc, "in-B", at)
        assert r.outcome == "credited"  # another day at B, so the programme-wide daily key differs
        days = sorted(e.day for e in LedgerEntry.select().where(LedgerEntry.activity == "entry"))
        assert days == [MONDAY, date(2026, 11, 24)]
    finally:
        close_store()


def test_closures_of_one_site_do_not_close_the_other(clock):
    prog = programme({"sites": {"A": {"closures": ["2026-11-23"]}}})
    svc = service(prog, clock)
    try:
        svc.members.add("Somchai", UID)
        assert tap(svc, "out-A", local_time(MONDAY, 19, 45)).outcome == "no_activity"
        assert tap(svc, "out-B", local_time(MONDAY, 21, 45)).outcome == "credited"
    finally:
        close_store()


# --------------------------------------------------------------------------- a site's own late-stay window in its name

#: site B stays open late and gives the late stay 45 minutes (the programme: 30)
B_45 = {"sites": {"B": {"activities": {"late_stay": {"window": "before_close:45"}}}}}


def test_a_sites_own_late_stay_window_is_the_number_its_name_says():
    from server.domain import rules

    prog = programme(B_45)
    a, b = prog.for_site("A").activities["late_stay"], prog.for_site("B").activities["late_stay"]
    assert (a.en, a.th) == ("Reading in the last 30 minutes before closing", "ใช้พื้นที่นั่งอ่านก่อนปิด 30 นาที")
    assert (b.en, b.th) == ("Reading in the last 45 minutes before closing", "ใช้พื้นที่นั่งอ่านก่อนปิด 45 นาที")
    assert b.window_before_close_min == 45 and prog.activities["late_stay"].en == a.en  # the programme's own
    # the tap result a device shows (server.domain.rules: it goes out on the bus as it is)
    said = rules.message("limit_reached", activity=b)
    assert said == {
        "th": "วันนี้ได้รับคะแนนใช้พื้นที่นั่งอ่านก่อนปิด 45 นาทีแล้ว",
        "en": "Already earned today: Reading in the last 45 minutes before closing",
    }
    # a name the site writes is kept as written; a name that states no number stays as it is
    own = programme(config._merge(B_45, {"sites": {"B": {"activities": {"late_stay": {"en": "Late reader"}}}}}))
    late = own.for_site("B").activities["late_stay"]
    assert (late.en, late.th) == ("Late reader", "ใช้พื้นที่นั่งอ่านก่อนปิด 45 นาที")
    plain = programme(config._merge(B_45, {"activities": {"late_stay": {"en": "Late reading"}}}))
    assert plain.for_site("B").activities["late_stay"].en == "Late reading"


def test_a_late_stay_at_a_site_with_its_own_window_is_named_with_it_on_the_bus_the_kiosk_and_the_history(clock):
    from broker.contract import Query

    svc = service(programme(B_45), clock)
    try:
        m = svc.members.add("Somchai", UID)
        assert tap(svc, "out-B", local_time(MONDAY, 21, 20)).outcome == "credited"  # 40 minutes before 22:00
        again = tap(svc, "out-B", local_time(MONDAY, 21, 30))
        assert again.outcome == "limit_reached"
        assert again.message["en"] == "Already earned today: Reading in the last 45 minutes before closing"
        assert "45 นาที" in again.message["th"] and "30" not in again.message["th"]
        # the next day at A (its own 30-minute window): the same activity, the programme's name
        assert tap(svc, "out-A", local_time(date(2026, 11, 24), 19, 40)).outcome == "credited"
        answer = svc.reads.answer_query("kiosk-B", Query(query_id="q1", uid=UID))
        names = [e["label"]["en"] for e in answer.history if e["activity"] == "late_stay"]
        assert names == [
            "Reading in the last 30 minutes before closing",
            "Reading in the last 45 minutes before closing",
        ]
        th = [e["label"]["th"] for e in svc.ledger.history(m.id) if e["activity"] == "late_stay"]
        assert th == ["ใช้พื้นที่นั่งอ่านก่อนปิด 30 นาที", "ใช้พื้นที่นั่งอ่านก่อนปิด 45 นาที"]
        # a single entry as the API and the void page show it, and its void (made at the tap's site)
        entry = LedgerEntry.get((LedgerEntry.activity == "late_stay") & (LedgerEntry.device == "out-B"))
        assert "45 minutes" in svc.ledger.entry_dict(entry)["label"]["en"]
        [void] = svc.points.void(entry.id, reason="test", actor="t")
        assert svc.ledger.entry_dict(void)["label"]["en"] == "Void: Reading in the last 45 minutes before closing"
    finally:
        close_store()


# --------------------------------------------------------------------------- the kiosk's own site


@pytest.mark.parametrize(
    ("device", "name_en", "name_th", "close"),
    [("kiosk-A", "Central Library", "หอสมุดกลาง", "20:00"), ("kiosk-B", "Branch Library", "ห้องสมุดสาขา", "22:00")],
)
def test_the_kiosk_shows_its_own_sites_name_and_hours(svc, device, name_en, name_th, close):
    from server.store import Device

    published = svc.devices.config(Device.get_by_id(device))
    assert published.settings["library"]["en"] == name_en
    seen = present.read_config(published.settings)  # what the kiosk takes from its retained config
    today = present.hours_today(seen["week_hours"], MONDAY)
    view_en = present.idle_view(local_time(MONDAY, 12), "en", today, seen["library_name"])
    view_th = present.idle_view(local_time(MONDAY, 12), "th", today, seen["library_name"])
    assert view_en["library"] == name_en and view_th["library"] == name_th
    assert close in view_en["hours"] and close in view_en["status"]
    sunday = present.hours_today(seen["week_hours"], date(2026, 11, 29))
    assert (sunday is None) == (device == "kiosk-B")  # B is closed on Sundays, A is not


def test_moving_a_device_to_another_site_republishes_its_config(svc):
    from server.store import Device

    before = Device.get_by_id("kiosk-A").revision
    d = svc.devices.set("kiosk-A", site="B")
    assert d.site == "B" and d.revision == before + 1
    assert svc.devices.config(d).settings["library"]["en"] == "Branch Library"
    with pytest.raises(Exception, match="unknown site 'Q'"):
        svc.devices.set("kiosk-A", site="Q")
    assert Device.get_by_id("kiosk-A").site == "B"  # unchanged by the refusal


def test_sites_service_lists_sites_and_maps_devices(svc):
    assert [s.code for s in svc.sites.list()] == ["A", "B"]
    assert svc.sites.get("B").name_en == "Branch Library"
    assert svc.sites.devices("B") == ["in-B", "kiosk-B", "out-B"]
    assert svc.sites.device_sites()["out-A"] == "A"
    with pytest.raises(Exception, match="no site Z"):
        svc.sites.get("Z")


def test_an_imported_list_earns_by_the_view_of_the_site_each_entry_is_made_at(clock):
    """A site's own points and limit for an activity (``[sites.B.activities.db_training]``) are what a list's
    row made at B earns, as a tap at B's device would; a row made at A earns the programme's.

    Before: every row earned the programme's activity — 10 points at B too, and B's once-a-day limit was the
    programme's once per event, so a second training at B the same day was credited again; a site-only
    activity was refused as unknown.
    """
    extra = {
        "sites": {
            "B": {
                "activities": {
                    "db_training": {"points": 30, "limit": "per_day"},
                    "b_tour": {"points": 7, "limit": "once", "th": "ทัวร์สาขา", "en": "Branch tour"},
                }
            }
        }
    }
    svc = service(programme(extra), clock)
    try:
        m = svc.members.add("Somchai", UID, home_site="A")
        earned = lambda event: [  # noqa: E731
            (e.points, e.site) for e in LedgerEntry.select().where(LedgerEntry.ref == f"import:{event}")
        ]
        report = svc.attendance.import_csv(f"member\n{m.id}\n", "db_training", "Scopus", site="B")
        assert len(report.credited) == 1, report.to_dict()
        assert earned("Scopus") == [(30, "B")]  # B's points
        report = svc.attendance.import_csv(f"member\n{m.id}\n", "db_training", "Scopus", site="A")
        assert earned("Scopus") == [(30, "B"), (10, "A")]  # A's are the programme's (per event per day)
        # B's limit is once a day, whatever the event: a second training at B the same day earns nothing
        preview = svc.attendance.import_csv(f"member\n{m.id}\n", "db_training", "WoS", site="B", dry_run=True)
        assert (len(preview.credited), len(preview.already)) == (0, 1), preview.to_dict()
        report = svc.attendance.import_csv(f"member\n{m.id}\n", "db_training", "WoS", site="B")
        assert (len(report.credited), len(report.already)) == (0, 1), report.to_dict()
        assert earned("WoS") == []
        # a site-only activity is credited at its site, and refused for a row made at another
        text = f"member,site\n{m.id},B\n"
        report = svc.attendance.import_csv(text, "b_tour", "Tour")
        assert earned("Tour") == [(7, "B")], report.to_dict()
        other = svc.members.add("Malee", "04A1B2C3D4E5F7", home_site="A")
        report = svc.attendance.import_csv(f"member\n{other.id}\n", "b_tour", "Tour")
        assert [str(msg) for _, msg in report.errors] == ["site A has no activity b_tour"]
        assert svc.ledger.balance(m.id) == 250 + 30 + 10 + 7
        assert ledger_problems(prog=svc.prog) == []
    finally:
        close_store()
