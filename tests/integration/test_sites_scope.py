"""Staff scoped to sites (issue 16): a branch's staff see and change only their site's devices,
members' site-only data and reports — in the service layer, the console and the API, tried
by changing ids in URLs, forms and API calls. Flask's test client on a real SQLite file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from server import store
from server.services import NotFound, ServiceError
from server.services.sites import EVERYTHING as EVERYTHING_SCOPE
from server.services.sites import Scope
from server.store import Device, Member
from tests.browser.web_support import ADMIN, csrf_of, sign_in, text
from tests.site_support import ANNA, SAM, TWO_TIME_ZONES, client, token, two_site_app

BRANCH_ADMIN, BRANCH_STAFF = ANNA, SAM  # admin and staff of site A only


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(
        tmp_db_url,
        accounts=(ANNA, SAM),
        devices=("gate", "counter"),
        overrides=TWO_TIME_ZONES,
        contact=True,
        visits=True,
    )
    yield app
    store.db.close()


# --------------------------------------------------------------------------- the service layer


def test_the_service_layer_refuses_another_sites_device_member_and_report(app):
    svc = app.extensions["privcard.service"]
    a = Scope(frozenset({"A"}))
    assert svc.devices.get("in-A", a).id == "in-A"
    for call in (
        lambda: svc.devices.get("in-B", a),
        lambda: svc.devices.set("in-B", scope=a, location="moved"),
        lambda: svc.devices.retire("in-B", scope=a),
        lambda: svc.members.set(app.members["B"], scope=a, name="Renamed"),
        lambda: svc.members.replace_card(app.members["B"], "04CCCC0000000003", scope=a),
        lambda: svc.members.block_card("04BBBB0000000002", scope=a),
        lambda: svc.sites.report_sites(a, "B"),
        lambda: svc.sites.get("B", a),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(ServiceError, match="outside your sites"):
        svc.devices.add("sneaky", "gate", site="B", scope=a)
    with pytest.raises(ServiceError, match="outside your sites"):
        svc.devices.set("in-A", scope=a, site="B")
    with pytest.raises(ServiceError, match="outside your sites"):
        svc.members.set(app.members["A"], scope=a, home_site="B")
    assert Device.get_by_id("in-B").retired_at is None and Device.get_by_id("in-A").site == "A"
    assert Member.get_by_id(app.members["B"]).name == "Member B"
    # a one-site account's new device and member land on its site
    assert svc.devices.add("new-gate", "gate", scope=a).site == "A"
    # another site's member: points yes, contact details no
    seen = svc.reads.member_dict(Member.get_by_id(app.members["B"]), scope=a)
    assert (seen["balance"], seen["email"], seen["site_only"]) == (
        Member.get_by_id(app.members["B"]).balance,
        None,
        True,
    )
    own = svc.reads.member_dict(Member.get_by_id(app.members["A"]), scope=a)
    assert (own["email"], own["site_only"]) == ("a@example.org", False)
    assert svc.sites.report_sites(a) == ["A"] and svc.sites.report_sites(Scope()) is None


# --------------------------------------------------------------------------- the console, ids changed by hand


def test_a_branch_admin_sees_and_changes_only_its_sites_devices_in_the_console(app):
    c = client(app, BRANCH_ADMIN)
    page = c.get("/devices")
    assert page.status_code == 200 and 'data-device="in-A"' in page.text and 'data-device="in-B"' not in page.text
    token_ = csrf_of(page.text)
    assert c.get("/devices/in-B").status_code == 404
    assert c.post("/devices/in-B", data={"location": "moved", "csrf_token": token_}).status_code == 404
    assert c.post("/devices/in-B/retire", data={"csrf_token": token_}).status_code == 404
    assert c.post("/devices/in-B/reactivate", data={"csrf_token": token_}).status_code == 404
    assert Device.get_by_id("in-B").location is None and Device.get_by_id("in-B").retired_at is None
    # a device added with another site's code in the form is refused
    r = c.post("/devices", data={"id": "sneaky", "kind": "gate", "site": "B", "csrf_token": token_})
    assert r.status_code == 302 and Device.get_or_none(Device.id == "sneaky") is None
    # its own device cannot be moved to the other site either
    c.post("/devices/in-A", data={"kind": "gate", "direction": "in", "site": "B", "csrf_token": token_})
    assert Device.get_by_id("in-A").site == "A"
    # its own device it can change
    c.post("/devices/in-A", data={"kind": "gate", "direction": "in", "location": "Door 1", "csrf_token": token_})
    assert Device.get_by_id("in-A").location == "Door 1"
    # the programme-wide pages are the programme administrator's
    for url in ("/staff", "/programme", "/campaigns"):
        assert c.get(url).status_code == 403, url
    assert c.get("/sites/B").status_code == 404 and c.get("/sites/A").status_code == 200
    sites_page = c.get("/sites").text
    assert 'data-site="A"' in sites_page and 'data-site="B"' not in sites_page


def test_a_branch_account_cannot_change_another_sites_member_or_see_their_contact_details(app):
    c = client(app, BRANCH_STAFF)
    other, own = app.members["B"], app.members["A"]
    page = c.get(f"/members/{other}")
    assert page.status_code == 200 and "P-B" not in page.text and 'id="site-only"' in page.text
    token_ = csrf_of(page.text)
    assert c.post(f"/members/{other}/edit", data={"name": "Renamed", "csrf_token": token_}).status_code == 404
    assert (
        c.post(f"/members/{other}/replace-card", data={"card": "04CCCC0000000003", "csrf_token": token_}).status_code
        == 404
    )
    assert (
        c.post(f"/members/{other}/block-card", data={"card": "04BBBB0000000002", "csrf_token": token_}).status_code
        == 404
    )
    m = Member.get_by_id(other)
    assert m.name == "Member B" and [x.status for x in m.cards] == ["active"]
    own_page = c.get(f"/members/{own}")
    assert "P-A" in own_page.text and 'id="edit-form"' in own_page.text
    assert c.get("/devices").status_code == 403  # staff role: no device pages at all


def test_reports_by_site_and_combined_and_refused_for_another_site(app):
    branch, admin = client(app, BRANCH_STAFF), client(app, ADMIN)
    assert branch.get("/reports?site=B").status_code == 404
    assert branch.get("/reports/points.csv?site=B").status_code == 404
    assert branch.get("/reports").status_code == 200
    assert admin.get("/reports?site=B").status_code == 200
    page = admin.get("/reports").text
    assert 'id="report-site"' in page and "All sites, combined" in text(page)

    def entries(c, site=None, headers=None):
        url = "/api/reports/points" + (f"?site={site}" if site else "")
        r = c.get(url, headers=headers or {})
        assert r.status_code == 200, r.text
        return {row["activity"]: row["entries"] for row in r.get_json()["rows"]}

    bare = app.test_client()
    assert entries(bare, "A", token(ADMIN)).get("entry") == 1
    assert entries(bare, "B", token(ADMIN)).get("entry") == 1
    assert entries(bare, None, token(ADMIN)).get("entry") == 2  # combined
    assert entries(bare, None, token(BRANCH_STAFF)).get("entry") == 1  # a branch's "all" is its own sites
    r = bare.get("/api/reports/points?site=B", headers=token(BRANCH_STAFF))
    assert r.status_code == 404


# --------------------------------------------------------------------------- the API, ids changed by hand


def test_the_api_refuses_another_sites_devices_and_members(app):
    c = app.test_client()
    h = token(BRANCH_ADMIN)
    assert c.get("/api/me", headers=h).get_json()["sites"] == ["A"]
    ids = {d["id"] for d in c.get("/api/devices", headers=h).get_json()["devices"]}
    assert ids == {"in-A", "counter-A"}
    assert c.get("/api/devices/in-B", headers=h).status_code == 404
    assert c.patch("/api/devices/in-B", json={"location": "moved"}, headers=h).status_code == 404
    assert c.post("/api/devices/in-B/retire", headers=h).status_code == 404
    r = c.post("/api/devices", json={"id": "sneaky", "kind": "gate", "site": "B"}, headers=h)
    assert r.status_code == 400 and Device.get_or_none(Device.id == "sneaky") is None
    assert c.patch("/api/devices/in-A", json={"site": "B"}, headers=h).status_code == 400
    other = app.members["B"]
    assert c.get(f"/api/members/{other}", headers=h).get_json()["email"] is None
    assert c.patch(f"/api/members/{other}", json={"name": "Renamed"}, headers=h).status_code == 404
    assert c.post("/api/cards/04BBBB0000000002/block", json={}, headers=h).status_code == 404
    assert Member.get_by_id(other).name == "Member B" and Device.get_by_id("in-B").location is None
    # the programme administrator does all of it
    ha = token(ADMIN)
    assert c.get("/api/devices/in-B", headers=ha).status_code == 200
    assert c.get(f"/api/members/{other}", headers=ha).get_json()["email"] == "b@example.org"


# --------------------------------------------------------------------------- points moved by staff (gap 1, 2)


def _balances(app):
    return {k: Member.get_by_id(v).balance for k, v in app.members.items()}


def test_points_of_another_sites_member_are_not_found_for_a_branch_account(app):
    from server.store import LedgerEntry

    svc = app.extensions["privcard.service"]
    a, other, own = Scope(frozenset({"A"})), app.members["B"], app.members["A"]
    _o, b_entry = svc.points.award(other, "borrow", actor="admin")  # the administrator may
    before, entries = _balances(app), LedgerEntry.select().count()
    for call in (
        lambda: svc.points.redeem(other, next(iter(svc.points.prog.rewards)), scope=a),
        lambda: svc.points.transfer(own, other, 1, scope=a),
        lambda: svc.points.transfer(other, own, 1, scope=a),
        lambda: svc.points.void(b_entry.id, "typo", scope=a),
    ):
        with pytest.raises(NotFound):
            call()
    assert _balances(app) == before and LedgerEntry.select().count() == entries
    # its own member: yes, and the entry is made at its site
    _o, e = svc.points.award(own, "borrow", scope=a)
    assert e.site == "A"
    assert [r.member_id for r in svc.points.void(e.id, "typo", scope=a)] == [own]
    # a visitor from the other site (the shared card) may be credited at this site's counter,
    # by card too; the branch may void its own award to them, not the other site's
    svc.points.void(b_entry.id, "make room for today's borrow", actor="admin")
    outcome, visit = svc.points.award("04BBBB0000000002", "borrow", scope=a)
    assert outcome == "credited" and (visit.member_id, visit.site) == (other, "A")
    assert [r.member_id for r in svc.points.void(visit.id, "typo", scope=a)] == [other]
    # and the other way round: its own member's award made at the other site is that site's to void
    b = Scope(frozenset({"B"}))
    _o, away = svc.points.award(own, "borrow", scope=b)
    assert away.site == "B"
    entries = LedgerEntry.select().count()
    with pytest.raises(NotFound):
        svc.points.void(away.id, "typo", scope=a)
    assert LedgerEntry.select().count() == entries
    assert [r.member_id for r in svc.points.void(away.id, "typo", scope=b)] == [own]


def test_a_staff_award_is_made_at_a_site_and_uses_its_day(app):
    svc = app.extensions["privcard.service"]
    other = app.members["B"]
    # 23:30 in A (Bangkok) two days ago is 01:30 the next day in B (Tokyo)
    d = svc.today() - timedelta(days=2)
    at = datetime.combine(d, time(16, 30), tzinfo=UTC)
    _o, e = svc.points.award(other, "borrow", at=at, actor="admin")  # unscoped: the member's home site
    assert (e.site, e.day) == ("B", d + timedelta(days=1))
    _o, e = svc.points.award(app.members["A"], "borrow", at=at, actor="admin")
    assert (e.site, e.day) == ("A", d)
    # a one-site account's award is made at its site, whoever the member (an account of both: the member's)
    both = Scope(frozenset({"A", "B"}))
    _o, e = svc.points.award(other, "borrow", at=at + timedelta(days=1), scope=both)
    assert e.site == "B"
    b_only = Scope(frozenset({"B"}))
    _o, e = svc.points.award(other, "borrow", at=at - timedelta(days=1), scope=b_only)
    assert e.site == "B"


def test_the_console_and_api_refuse_points_of_another_sites_member(app):
    from server.store import LedgerEntry

    svc = app.extensions["privcard.service"]
    other, own = app.members["B"], app.members["A"]
    _o, b_entry = svc.points.award(other, "borrow", actor="admin")
    before = _balances(app)
    c = client(app, BRANCH_STAFF)
    tok = csrf_of(c.get(f"/members/{own}").text)
    reward = next(iter(svc.points.prog.rewards))
    assert c.post(f"/members/{other}/redeem", data={"reward": reward, "csrf_token": tok}).status_code == 404
    assert c.post(f"/members/{other}/transfer", data={"to": own, "points": 1, "csrf_token": tok}).status_code == 404
    assert c.get(f"/members/{other}/entries/{b_entry.id}/void").status_code == 404
    r = c.post(f"/members/{other}/entries/{b_entry.id}/void", data={"reason": "x", "csrf_token": tok})
    assert r.status_code == 404
    # its own member to the other site's: refused (flash), nothing moves
    c.post(f"/members/{own}/transfer", data={"to": str(other), "points": 1, "csrf_token": tok})
    h = token(BRANCH_STAFF)
    api = app.test_client()
    assert api.post(f"/api/members/{other}/redeem", json={"reward": reward}, headers=h).status_code == 404
    assert api.post("/api/transfers", json={"from": own, "to": other, "points": 1}, headers=h).status_code == 404
    assert api.post(f"/api/entries/{b_entry.id}/void", json={"reason": "x"}, headers=h).status_code == 404
    assert _balances(app) == before
    assert not LedgerEntry.select().where(LedgerEntry.void_of == b_entry.id).exists()
    # its own member: the credit is made at its site
    r = api.post(f"/api/members/{own}/credit", json={"activity": "borrow"}, headers=h)
    assert r.status_code == 200 and LedgerEntry.get_by_id(r.get_json()["entry"]["id"]).site == "A"
    # a visitor from the other site is credited at this site (console), once a day as anywhere
    svc.points.void(b_entry.id, "make room for today's borrow", actor="admin")
    assert c.post(f"/members/{other}/credit", data={"activity": "borrow", "csrf_token": tok}).status_code == 302
    visit = LedgerEntry.select().where(LedgerEntry.member == other, LedgerEntry.points > 0).order_by(LedgerEntry.id)
    assert visit[-1].site == "A" and visit[-1].id != b_entry.id
    r = api.post(f"/api/members/{other}/credit", json={"activity": "borrow"}, headers=h)
    assert r.status_code == 200 and r.get_json()["outcome"] == "limit_reached"


# --------------------------------------------------------------------------- events and imports (gap 3)


def test_events_belong_to_a_site_and_a_branch_sees_and_imports_only_its_own(app):
    from server.store import Event

    svc = app.extensions["privcard.service"]
    a = Scope(frozenset({"A"}))
    day = (svc.today() - timedelta(days=1)).isoformat()
    ev_b = svc.attendance.add_event("B talk", "db_training", day, created_by="admin", site="B")
    ev_a = svc.attendance.add_event("A talk", "db_training", day, created_by="anna", scope=a)
    assert (ev_a.site, ev_b.site) == ("A", "B")
    with pytest.raises(ServiceError, match="outside your sites"):
        svc.attendance.add_event("sneaky", "db_training", day, created_by="anna", site="B", scope=a)
    with pytest.raises(NotFound):
        svc.attendance.event(ev_b.id, a)
    with pytest.raises(NotFound):
        svc.attendance.preview_upload(ev_b, "x.csv", "04BBBB0000000002\n", created_by="anna", scope=a)
    assert [e.id for e in svc.attendance.events(a)] == [ev_a.id]
    assert {e.id for e in svc.attendance.events()} == {ev_a.id, ev_b.id}
    assert Event.select().count() == 2
    # the console: list, page, upload, credit and create with the other site's ids
    c = client(app, BRANCH_STAFF)
    page = c.get("/events")
    assert f'data-event="{ev_a.id}"' in page.text and f'data-event="{ev_b.id}"' not in page.text
    tok = csrf_of(page.text)
    assert c.get(f"/events/{ev_b.id}").status_code == 404 and c.get(f"/events/{ev_a.id}").status_code == 200
    up = svc.attendance.preview_upload(ev_b, "b.csv", "04BBBB0000000002\n", created_by="admin", role="admin")
    assert c.post(f"/events/{ev_b.id}/uploads/{up.id}/credit", data={"csrf_token": tok}).status_code == 404
    assert c.post(f"/events/{ev_a.id}/uploads/{up.id}/credit", data={"csrf_token": tok}).status_code == 404
    with pytest.raises(NotFound):
        svc.attendance.credit_upload(ev_a, up, scope=a)  # another event's list through its own event
    c.post("/events", data={"name": "sneaky", "activity": "db_training", "day": day, "site": "B", "csrf_token": tok})
    assert not Event.select().where(Event.name == "sneaky").exists()
    # the administrator sees both
    admin_page = client(app, ADMIN).get("/events").text
    assert f'data-event="{ev_a.id}"' in admin_page and f'data-event="{ev_b.id}"' in admin_page
    # the API's import into the other site's event by its name: 404; into its own: accepted
    h, api = token(BRANCH_STAFF), app.test_client()
    body = {"activity": "db_training", "day": day, "csv": "04AAAA0000000001\n", "dry_run": True, "wait": 0}
    assert api.post("/api/events/import", json={**body, "event": "B talk"}, headers=h).status_code == 404
    assert api.post("/api/events/import", json={**body, "event": "A talk"}, headers=h).status_code in (200, 202)


# --------------------------------------------------------------------------- history (gap 4)


def test_another_sites_member_history_is_visible_like_their_points(app):
    svc = app.extensions["privcard.service"]
    a = Scope(frozenset({"A"}))
    seen = svc.reads.member_dict(Member.get_by_id(app.members["B"]), history=5, scope=a)
    assert seen["history"] and seen["email"] is None and seen["patron_id"] is None


# --------------------------------------------------------------------------- removing a used site (gap 5)


def test_removing_a_site_devices_use_is_refused_naming_them(app):
    import tomllib

    svc = app.extensions["privcard.service"]
    text = svc.programme.section_text("sites")
    doc = tomllib.loads(text)
    doc["sites"].pop("B")
    from server.domain.config import to_toml

    version = svc.programme.version
    with pytest.raises(ServiceError, match=r"site B is used by devices counter-B, in-B") as err:
        svc.programme.set_section("sites", to_toml(doc), actor="admin")
    assert "retire" in str(err.value)
    assert svc.programme.version == version and "B" in svc.programme.prog.sites
    # once its devices are retired the site can go
    for d in ("in-B", "counter-B"):
        svc.devices.retire(d)
    svc.programme.set_section("sites", to_toml(doc), actor="admin")
    assert "B" not in svc.programme.prog.sites


def test_the_default_report_range_reaches_the_day_of_a_site_ahead_in_time(tmp_db_url):
    """At 16:00 UTC it is 23:00 in A (Bangkok) and 01:00 the next day in B (Tokyo): B's entry of now is dated
    B's today, and "this semester up to today" must reach it (it ended at A's day, and B's entry was left out)."""
    from broker.contract import Tap
    from server.domain import config
    from server.services import bootstrap
    from server.web import reports
    from tests.site_support import UIDS

    four_pm = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    store.connect(tmp_db_url)
    svc = bootstrap(config.load(overrides=TWO_TIME_ZONES), clock=lambda: four_pm)
    for site, uid in UIDS.items():
        svc.devices.add(f"in-{site}", "gate", site=site, direction="in")
        svc.members.add(f"Member {site}", uid, home_site=site)
        r = svc.taps.decide(f"in-{site}", Tap(tap_id=f"t-{site}", uid=uid, at=four_pm, clock_ok=True), four_pm)
        assert r.outcome == "credited", r
    assert svc.today() == datetime(2026, 12, 2).date()  # the programme's own day: A's
    a, b = Scope(frozenset({"A"})), Scope(frozenset({"B"}))
    assert reports.default_range(svc, a)[1] == datetime(2026, 12, 2).date()
    assert reports.default_range(svc, b)[1] == reports.default_range(svc)[1] == datetime(2026, 12, 3).date()

    def entries(scope, sites):
        start, end, _ = reports.default_range(svc, scope)
        rows = reports.build("points", svc, start, end, sites).rows
        return sum(row["entries"] for row in rows if row["activity"] == "entry")

    assert entries(b, ["B"]) == 1 and entries(a, ["A"]) == 1
    assert entries(Scope(), None) == 2  # combined: both sites' entries of "today"
    store.db.close()


FOUR_PM = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 23:00 Wednesday in A (Bangkok), 01:00 Thursday in B (Tokyo)
WED, THU = datetime(2026, 12, 2).date(), datetime(2026, 12, 3).date()


def _fixed_clock_app(db_url, overrides, *accounts):
    """The console on two sites whose clock says :data:`FOUR_PM`, with the programme administrator and ``accounts``."""
    from server.domain import config
    from server.services import bootstrap
    from server.web import accounts as staff
    from server.web import create_app
    from tests.site_support import ROLES

    store.connect(db_url)
    prog = config.load(overrides=overrides)
    app = create_app(db_url, prog, bootstrap(prog, clock=lambda: FOUR_PM), connect=False, testing=True)
    staff.add_staff(ADMIN[0], "admin", ADMIN[1])
    for who in accounts:
        role, site = ROLES[who]
        staff.add_staff(who[0], role, who[1], sites=site)
    return app


def test_the_dashboard_counts_each_sites_own_today(tmp_db_url):
    """At 16:00 UTC B (Tokyo) is on Thursday while A (Bangkok) is still on Wednesday: B's dashboard counts
    B's Thursday (not its tap of 23:30 Wednesday, which is inside A's day) and the combined one each
    site's own today; the page's date is B's day for B, each site's day for the combined view."""
    from broker.contract import Tap
    from server.web import queries
    from tests.site_support import BEA, UIDS

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES, BEA)
    svc = app.extensions["privcard.service"]
    late_wednesday_in_b = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)  # 23:30 in B, 21:30 in A
    for site, uid in UIDS.items():
        svc.devices.add(f"in-{site}", "gate", site=site, direction="in")
        svc.members.add(f"Member {site}", uid, home_site=site)
    taps = [("B", late_wednesday_in_b, "y"), ("A", FOUR_PM, "t"), ("B", FOUR_PM, "t")]
    for site, when, tid in taps:
        r = svc.taps.decide(f"in-{site}", Tap(tap_id=f"{tid}-{site}", uid=UIDS[site], at=when, clock_ok=True), when)
        assert r.outcome == "credited", r
    a, b = Scope(frozenset({"A"})), Scope(frozenset({"B"}))
    d = queries.dashboard(svc, b)
    assert (d["today"], d["taps_today"], d["visitors_today"]) == (THU, 1, 1) and not d.get("site_days")
    acts = svc.prog.activities  # B's member signed up at B (its home site) on B's Thursday: B's points today
    assert d["points_today"] == acts["signup"].points + acts["entry"].points
    d = queries.dashboard(svc, a)
    assert (d["today"], d["taps_today"], d["visitors_today"]) == (WED, 1, 1)
    d = queries.dashboard(svc, Scope())
    assert (d["taps_today"], d["credited_today"], d["visitors_today"]) == (2, 2, 2)
    assert d["today"] == WED and d["site_days"] == {"A": WED, "B": THU}
    with app.test_client() as c:
        sign_in(c, ADMIN)
        assert c.get("/api/dashboard").get_json()["site_days"] == {"A": "2026-12-02", "B": "2026-12-03"}
        # each site by its name in the page's language, its code small beside (the header said "A … · B …")
        for lang, names in (("th", ("หอสมุดกลาง", "ห้องสมุดสาขา")), ("en", ("Central Library", "Branch Library"))):
            c.get(f"/lang/{lang}")
            head = c.get("/").text.split('data-k="today">')[1].split("</div>")[0]
            days = re.findall(
                r'<span class="site-day" data-site="(\w)">([^<]+) <small><code>(\w)</code></small> ', head
            )
            assert [(code, name.strip(), small) for code, name, small in days] == [
                ("A", names[0], "A"),
                ("B", names[1], "B"),
            ], head
    with app.test_client() as c:
        sign_in(c, BEA)
        assert c.get("/api/dashboard").get_json()["today"] == "2026-12-03"
    store.db.close()


@pytest.mark.parametrize(
    ("b_extra", "shown"),
    [
        ({"hours": {"default": "08:00-22:00", "thu": "10:00-16:00"}}, "10:00-16:00"),
        ({"closures": ["2026-12-03"]}, "closed"),
    ],
)
def test_the_sites_page_shows_each_sites_hours_of_its_own_today(tmp_db_url, b_extra, shown):
    """At 16:00 UTC it is still Wednesday in A and already Thursday in B: B's "today's hours" are its Thursday's
    (they were the programme's weekday's, Wednesday's 08:00-22:00), and a closure of B's Thursday shows closed."""
    import copy

    overrides = copy.deepcopy(TWO_TIME_ZONES)
    overrides["sites"]["B"].update(b_extra)
    app = _fixed_clock_app(tmp_db_url, overrides)
    with app.test_client() as c:
        sign_in(c, ADMIN)
        page = c.get("/sites").text
    cells = {site: page.split(f'data-site="{site}"')[1].split("</tr>")[0] for site in ("A", "B")}
    assert f"<td>{shown}</td>" in cells["B"], cells["B"]
    assert "<td>08:00-20:00</td>" in cells["A"], cells["A"]
    store.db.close()


def test_a_stamp_of_the_sites_own_today_is_credited_at_a_site_ahead_in_time(tmp_db_url):
    """At 16:00 UTC it is Thursday in B (Tokyo): B's staff enter a partner-shop stamp dated Thursday, B's
    today. The form offered dates up to the programme's Wednesday, and Thursday was taken for an earlier
    day's stamp (its noon, still to come in B) and refused as in the future."""
    from server.store import LedgerEntry
    from tests.site_support import BEA, UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES, BEA)
    svc = app.extensions["privcard.service"]
    mid = svc.members.add("Member B", UID_B, home_site="B").id
    shop = next(iter(svc.prog.for_site("B").partners))
    with app.test_client() as c:
        sign_in(c, BEA)
        page = c.get(f"/members/{mid}").text
        assert 'name="stamp_date" type="date" value="2026-12-03"' in page and 'max="2026-12-03"' in page
        form = {"activity": "partner_purchase", "shop": shop, "stamp_date": "2026-12-03", "csrf_token": csrf_of(page)}
        r = c.post(f"/members/{mid}/credit", data=form, follow_redirects=True)
        assert "Credited" in text(r.text), text(r.text)[:400]
    e = LedgerEntry.get((LedgerEntry.member == mid) & (LedgerEntry.activity == "partner_purchase"))
    assert (e.day, e.site, e.item) == (THU, "B", shop)
    store.db.close()


def test_an_event_of_the_sites_own_today_is_created_and_credited_at_a_site_ahead_in_time(tmp_db_url):
    """At 16:00 UTC it is Thursday in B (Tokyo), still Wednesday in A (Bangkok): B's staff create an event of
    B's Thursday and credit its list (both refused as "in the future", the programme's day being Wednesday);
    an event of Thursday at A is still refused."""
    from server.store import Event, LedgerEntry
    from tests.site_support import BEA, UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES, BEA)
    svc = app.extensions["privcard.service"]
    mid = svc.members.add("Member B", UID_B, home_site="B").id
    with app.test_client() as c:
        sign_in(c, BEA)
        page = c.get("/events").text
        assert 'name="day" type="date" required value="2026-12-03" max="2026-12-03"' in page
        form = {
            "name": "Thursday training",
            "activity": "db_training",
            "day": "2026-12-03",
            "csrf_token": csrf_of(page),
        }
        r = c.post("/events", data=form)
        assert r.status_code == 302 and "/events/" in r.location, text(c.get("/events").text)[:400]
    ev = Event.get(Event.name == "Thursday training")
    assert (ev.day, ev.site) == (THU, "B")
    report = svc.attendance.import_csv(str(mid), ev.activity, ev.name, day="2026-12-03", scope=B_ONLY, site="B")
    assert not report.errors and len(report.credited) == 1, report.to_dict()
    assert LedgerEntry.get_by_id(report.credited[0][2]).day == THU
    with pytest.raises(ServiceError, match="future"):
        svc.attendance.add_event("At A", "db_training", "2026-12-03", created_by="admin", site="A")
    store.db.close()


B_ONLY = Scope(frozenset({"B"}))


def test_a_row_of_a_list_is_refused_at_a_site_still_on_the_day_before(tmp_db_url):
    """At 16:00 UTC B (Tokyo) is on Thursday, A (Bangkok) still on Wednesday. A list for Thursday imported by the
    programme administrator (every site) is accepted as a whole — Thursday has begun at B — but a row whose
    entry would be made at A (its member's home site, or its own site cell) is refused: it would be dated A's
    tomorrow. Rows made at B are credited; nothing is written for the refused rows."""
    from server.store import LedgerEntry
    from tests.site_support import UID_A, UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    at_a = svc.members.add("Member A", UID_A, home_site="A").id
    at_b = svc.members.add("Member B", UID_B, home_site="B").id
    also_b = svc.members.add("Member B2", "04BBBB0000000003", home_site="B").id
    text = f"member,site\n{at_a},\n{at_b},\n{also_b},A\n"
    report = svc.attendance.import_csv(text, "db_training", "Thursday training", day="2026-12-03")
    assert [m for _, m, _ in report.credited] == [at_b], report.to_dict()
    refused = {line: str(msg) for line, msg in report.errors}
    assert set(refused) == {2, 4}, refused
    assert all("has not begun yet at site A" in why for why in refused.values()), refused
    assert [
        (e.member_id, e.day, e.site) for e in LedgerEntry.select().where(LedgerEntry.activity == "db_training")
    ] == [(at_b, THU, "B")]
    # the same list for Wednesday: every row is credited, A's at A and B's where they say
    report = svc.attendance.import_csv(text, "db_training", "Wednesday training", day="2026-12-02T12:00:00")
    assert not report.errors and len(report.credited) == 3, report.to_dict()
    store.db.close()


def test_a_list_for_a_day_dates_each_entry_at_noon_in_its_own_sites_time_zone(tmp_db_url):
    """A list for a day (no time typed) dates its entries that day's noon where each is made: 12:00 in Tokyo for
    B's, 12:00 in Bangkok for A's (both were 12:00 Bangkok, shown as 14:00 at B); a noon still to come at the
    site (B's Thursday at 16:00 UTC Wednesday is 01:00 there) is now. A time typed is kept as typed."""
    from zoneinfo import ZoneInfo

    from server.store import LedgerEntry
    from tests.site_support import UID_A, UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    at_a = svc.members.add("Member A", UID_A, home_site="A").id
    at_b = svc.members.add("Member B", UID_B, home_site="B").id

    def times(event):
        rows = LedgerEntry.select().where(LedgerEntry.ref == f"import:{event}")
        return {e.member_id: svc.ledger.time_of(e.at).astimezone(UTC) for e in rows}

    bangkok, tokyo = ZoneInfo("Asia/Bangkok"), ZoneInfo("Asia/Tokyo")
    report = svc.attendance.import_csv(f"member\n{at_a}\n{at_b}\n", "db_training", "Wednesday", day="2026-12-02")
    assert not report.errors and len(report.credited) == 2, report.to_dict()
    assert times("Wednesday") == {
        at_a: datetime(2026, 12, 2, 12, tzinfo=bangkok).astimezone(UTC),
        at_b: datetime(2026, 12, 2, 12, tzinfo=tokyo).astimezone(UTC),
    }
    report = svc.attendance.import_csv(f"member\n{at_b}\n", "db_training", "Thursday", day="2026-12-03")
    assert not report.errors and times("Thursday") == {at_b: FOUR_PM}, report.to_dict()
    typed = "2026-12-02T09:30:00+07:00"
    report = svc.attendance.import_csv(f"member\n{at_a}\n{at_b}\n", "db_training", "Typed", day=typed)
    assert not report.errors and set(times("Typed").values()) == {datetime.fromisoformat(typed).astimezone(UTC)}
    store.db.close()


def test_entries_staff_and_patrons_make_at_a_site_are_dated_its_own_day_and_counted_there(tmp_db_url):
    """At 16:00 UTC it is Thursday at B (Tokyo), Wednesday at A (Bangkok, the programme's zone). What B's staff
    and B's members do there is B's, on B's Thursday: a sign-up (it was dated Wednesday and counted at the default
    site A), a redemption and a transfer (dated Wednesday at B), a book-request pledge and its refund (both at A,
    dated Wednesday). B's report for Thursday counts them; A's counts none of them."""
    from server.store import LedgerEntry
    from server.web import reports

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    b_only = Scope(frozenset({"B"}))
    m = svc.members.add("Member B", "04BBBB0000000002", scope=b_only)  # a branch's staff enrol at the branch
    other = svc.members.add("Member B2", "04BBBB0000000003", scope=b_only)
    unplaced = svc.members.add("Member of no site", "04CCCC0000000004")  # the CLI: no home site
    svc.points.redeem(m.id, "locker_day", units=1, scope=b_only)
    svc.points.transfer(m.id, other.id, 10, scope=b_only)
    pledge = svc.feedback.submit(
        channel="counter", category="book_request", text="Dune", member=m.id, pledge=True, scope=b_only
    )
    svc.feedback.answer(pledge["id"], "Sorry, out of print.", decision="declined", scope=b_only)
    svc.members.set(other.id, tier="gold", reason="a branch's card upgrade", scope=b_only)

    made = {(e.member_id, e.activity, e.source): (e.day, e.site) for e in LedgerEntry.select()}
    assert made[(m.id, "signup", "signup")] == (THU, "B")
    assert made[(unplaced.id, "signup", "signup")] == (WED, None)  # the default site's day
    assert made[(m.id, "redeem", "redeem")] == (THU, "B")
    assert made[(m.id, "transfer_out", "transfer")] == made[(other.id, "transfer_in", "transfer")] == (THU, "B")
    assert made[(m.id, "book_request", "feedback")] == made[(m.id, "book_request", "void")] == (THU, "B")
    assert made[(other.id, "tier", "tier")] == (THU, "B")  # the member's tier: their home site's, on its day

    def signups(site):
        rows = reports.build("points", svc, THU, THU, [site]).rows
        return sum(row["entries"] for row in rows if row["activity"] == "signup")

    assert signups("B") == 2 and signups("A") == 0
    store.db.close()


def test_a_kiosk_counts_the_points_earned_today_on_its_own_sites_day(tmp_db_url):
    """At 16:00 UTC B (Tokyo) is on Thursday, A (Bangkok, the programme) on Wednesday. A member enters at B's gate
    and asks B's kiosk: "points today" counts that entry and the sign-up (B's Thursday; it counted Wednesday's, so
    0); A's kiosk, on A's Wednesday, counts neither."""
    from broker.contract import Query, Tap
    from tests.site_support import UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    svc.members.add("Member B", UID_B, home_site="B")
    svc.devices.add("in-B", "gate", site="B", direction="in")
    svc.devices.add("kiosk-B", "kiosk", site="B")
    svc.devices.add("kiosk-A", "kiosk", site="A")
    r = svc.taps.decide("in-B", Tap(tap_id="t-B", uid=UID_B, at=FOUR_PM, clock_ok=True), FOUR_PM)
    assert r.outcome == "credited" and r.points == svc.prog.activities["entry"].points, r
    at_b = svc.reads.answer_query("kiosk-B", Query(query_id="q-B", uid=UID_B))
    at_a = svc.reads.answer_query("kiosk-A", Query(query_id="q-A", uid=UID_B))
    assert at_b.outcome == at_a.outcome == "member", (at_b, at_a)
    signup = svc.prog.activities["signup"].points  # enrolled at B, on B's Thursday too
    assert at_b.stats["earned_today"] == signup + r.points, at_b.stats
    assert at_a.stats["earned_today"] == 0, at_a.stats  # Wednesday at A: B's sign-up and entry are Thursday's
    assert at_b.stats["semester"] == at_a.stats["semester"]  # the term is the programme's
    store.db.close()


def test_a_voided_tap_is_reversed_at_the_site_of_its_gate(tmp_db_url):
    """A tap's entry names only its device; its reversal (staff void it) counted at the default site A
    while the credit counted at B: B's report showed +5, A's -5. Both are B's now, and cancel there."""
    from broker.contract import Tap
    from server.store import LedgerEntry
    from server.web import reports
    from tests.site_support import UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    m = svc.members.add("Member B", UID_B, home_site="B")
    svc.devices.add("in-B", "gate", site="B", direction="in")
    r = svc.taps.decide("in-B", Tap(tap_id="t-B", uid=UID_B, at=FOUR_PM, clock_ok=True), FOUR_PM)
    assert r.outcome == "credited", r
    [credit] = LedgerEntry.select().where((LedgerEntry.member == m.id) & (LedgerEntry.activity == "entry"))
    assert (credit.site, credit.device) == (None, "in-B")
    [rev] = svc.points.void(credit.id, "tapped by mistake", scope=Scope(frozenset({"B"})))
    assert rev.site == "B"

    def entry_points(site):
        rows = reports.build("points", svc, THU, THU, [site]).rows
        return [(row["entries"], row["earned"], row["voided"]) for row in rows if row["activity"] == "entry"]

    assert entry_points("A") == []
    assert entry_points("B") == [(1, r.points, r.points)]
    store.db.close()


def test_a_time_typed_for_a_sites_list_is_that_sites_clock_and_never_ahead_of_now(tmp_db_url):
    """At 16:00 UTC it is 23:00 Wednesday at A (Bangkok) and 01:00 Thursday at B (Tokyo). B's staff type
    00:30 for their list: B's 00:30 (15:30 UTC), not Bangkok's (17:30 UTC, still to come). A time typed
    that has not happened yet — 23:30 at A — is refused, nothing credited."""
    from server.store import LedgerEntry
    from tests.site_support import UID_A, UID_B

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    at_b = svc.members.add("Member B", UID_B, home_site="B").id
    at_a = svc.members.add("Member A", UID_A, home_site="A").id
    b_only, a_only = Scope(frozenset({"B"})), Scope(frozenset({"A"}))
    report = svc.attendance.import_csv(
        f"member\n{at_b}\n", "db_training", "Night talk", day="2026-12-03T00:30:00", scope=b_only
    )
    assert not report.errors and len(report.credited) == 1, report.to_dict()
    [e] = LedgerEntry.select().where(LedgerEntry.activity == "db_training")
    assert (e.at.astimezone(UTC), e.day, e.site) == (datetime(2026, 12, 2, 15, 30, tzinfo=UTC), THU, "B")
    for day, scope in (("2026-12-02T23:30:00", a_only), ("2026-12-02T16:30:00+00:00", EVERYTHING_SCOPE)):
        with pytest.raises(ServiceError, match="in the future"):
            svc.attendance.import_csv(f"member\n{at_a}\n", "db_training", "Late talk", day=day, scope=scope)
    assert LedgerEntry.select().where(LedgerEntry.activity == "db_training").count() == 1
    store.db.close()


def test_a_stored_rows_reason_shows_its_day_in_the_buddhist_era_in_thai(tmp_db_url):
    """A preview kept with an upload stores each refusal's values as JSON (a day as YYYY-MM-DD); the event page
    shows the reason in the viewer's language, the day in the Buddhist era in Thai (it showed 2026-11-30)."""
    from datetime import date

    from server.store import Event
    from tests.site_support import UID_A

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    lapsed = svc.members.add("Member A", UID_A, home_site="A", valid_until="2026-11-30").id
    ev = Event.create(name="Wednesday training", activity="db_training", day=WED, created_by="admin", site="A")
    up = svc.attendance.preview_upload(ev, "list.csv", f"member\n{lapsed}\n", created_by="admin")
    svc.attendance.run_job(svc.attendance.upload_job(up.id).id)
    assert date(2026, 11, 30) < WED
    with app.test_client() as c:
        sign_in(c, ADMIN)
        c.get("/lang/th")
        page = text(c.get(f"/events/{ev.id}?upload={up.id}").text)
        assert f"สมาชิกภาพของสมาชิก {lapsed} หมดอายุแล้วเมื่อ 30/11/2569" in page, page[:2000]
        c.get("/lang/en")
        page = text(c.get(f"/events/{ev.id}?upload={up.id}").text)
        assert f"member {lapsed}'s membership expired on 2026-11-30" in page, page[:2000]
    store.db.close()


def test_the_combined_dashboard_counts_an_entry_of_a_removed_site_when_the_sites_days_differ(tmp_db_url):
    """An entry made at a site since removed from the programme ("C": history, kept) counts in the combined
    dashboard on the programme's day, as it does when every site shares one day; it was left out when the
    sites' days differed (each day's entries were matched to the sites of that day only)."""
    from server.store import LedgerEntry
    from server.web import queries
    from tests.site_support import UID_A

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    mid = svc.members.add("Member A", UID_A, home_site="A").id
    a_only = Scope(frozenset({"A"}))
    before, a_before = queries.dashboard(svc, Scope()), queries.dashboard(svc, a_only)
    assert before["site_days"] == {"A": WED, "B": THU}
    LedgerEntry.create(member=mid, activity="entry", points=5, day=WED, at=FOUR_PM, source="admin", site="C")
    after = queries.dashboard(svc, Scope())
    assert after["points_today"] - before["points_today"] == 5, (before, after)
    assert after["visitors_today"] - before["visitors_today"] == 1
    # a site's own dashboard counts its own site's entries only
    assert queries.dashboard(svc, a_only)["points_today"] == a_before["points_today"]
    store.db.close()


def test_the_consoles_combined_figures_count_a_removed_sites_entries_on_the_default_sites_day(tmp_db_url):
    """What the programme administrator sees when the sites' days differ: the dashboard (``/api/dashboard``) and
    the points report, every site combined, count an entry made at a site since removed ("C") — as they do when
    the sites share a day — on the default site's day (A's Wednesday, not B's Thursday). Points given back now for
    an entry made at C are made at C and dated A's day too (C has no day of its own any more), so they meet the
    entry they reverse in the same figures. No site's own figures count them, and C cannot be asked for (404)."""
    from server.store import LedgerEntry
    from server.web import reports
    from tests.site_support import UID_A

    app = _fixed_clock_app(tmp_db_url, TWO_TIME_ZONES)
    svc = app.extensions["privcard.service"]
    mid = svc.members.add("Member A", UID_A, home_site="A").id
    api = app.test_client()

    def dashboard_points():
        r = api.get("/api/dashboard", headers=token(ADMIN))
        assert r.status_code == 200 and r.get_json()["site_days"] == {"A": "2026-12-02", "B": "2026-12-03"}
        return r.get_json()["points_today"]

    def report(day, sites=None):
        rows = reports.build("points", svc, day, day, sites).rows
        return {row["activity"]: (row["entries"], row["earned"], row["redeemed"], row["voided"]) for row in rows}

    before = dashboard_points()
    LedgerEntry.create(member=mid, activity="entry", points=5, day=WED, at=FOUR_PM, source="admin", site="C")
    spent = LedgerEntry.create(
        member=mid, activity="redeem", points=-20, day=WED, at=FOUR_PM, source="redeem", site="C"
    )
    with store.db.atomic():
        back = svc.ledger.give_back(spent, "the library system refused the payment", "system")
    assert (back.site, back.day) == ("C", WED)
    assert dashboard_points() - before == 5
    combined = report(WED)
    assert combined["entry"] == (1, 5, 0, 0) and combined["redeem"] == (1, 0, 20, -20), combined
    assert "redeem" not in report(THU) and "redeem" not in report(WED, ["A"]) and "redeem" not in report(THU, ["B"])
    assert api.get("/api/reports/points?site=C", headers=token(ADMIN)).status_code == 404
    store.db.close()


@pytest.mark.parametrize(
    ("b_zone", "now", "days"),
    [
        # 17:30 UTC: 00:30 Thursday in A (Bangkok, the programme's zone), 22:30 Wednesday in B (Karachi)
        ("Asia/Karachi", datetime(2026, 12, 2, 17, 30, tzinfo=UTC), {"A": THU, "B": WED}),
        # 16:00 UTC: 23:00 Wednesday in A, 01:00 Thursday in B (Tokyo)
        ("Asia/Tokyo", FOUR_PM, {"A": WED, "B": THU}),
    ],
)
def test_a_list_of_now_or_of_a_time_dates_each_row_by_its_own_sites_day(tmp_db_url, b_zone, now, days):
    """A list imported for every site with no date (now), or with a time typed, dates each row by the day at its own
    site: a row at B, in a zone behind the programme's, is B's Wednesday while A is on Thursday (it was refused:
    "Thursday has not begun yet at site B"), and one at B ahead is B's Thursday while A is on Wednesday (it was dated
    Wednesday, so B's own Thursday did not count it). A preview of the same list then finds each row credited."""
    import copy

    from server.store import LedgerEntry
    from tests.helpers import open_service
    from tests.site_support import UID_A, UID_B

    overrides = copy.deepcopy(TWO_TIME_ZONES)
    overrides["sites"]["B"]["timezone"] = b_zone
    svc = open_service(tmp_db_url, prog=config_load(overrides), clock=lambda: now)
    ids = {
        "A": svc.members.add("Member A", UID_A, home_site="A").id,
        "B": svc.members.add("Member B", UID_B, home_site="B").id,
    }
    text = f"member\n{ids['A']}\n{ids['B']}\n"
    typed = (now - timedelta(minutes=30)).isoformat()  # the same day as now at each site
    for event, day in (("Now", None), ("Typed", typed)):
        report = svc.attendance.import_csv(text, "db_training", event, day=day)
        assert not report.errors and len(report.credited) == 2, report.to_dict()
        made = {e.member_id: (e.day, e.site) for e in LedgerEntry.select().where(LedgerEntry.ref == f"import:{event}")}
        assert made == {ids[s]: (days[s], s) for s in ("A", "B")}, made
        preview = svc.attendance.import_csv(text, "db_training", event, day=day, dry_run=True)
        assert len(preview.already) == 2 and not preview.credited, preview.to_dict()
    store.db.close()


def config_load(overrides):
    """The programme with ``overrides``."""
    from server.domain import config

    return config.load(overrides=overrides)


def test_the_api_refuses_a_row_at_a_site_still_on_the_day_before_in_english_and_thai(tmp_db_url):
    """``POST /api/events/import`` by the programme administrator (every site), dated the day of the site furthest
    ahead (B, UTC+14): B's member's row is credited; A's (UTC-12, still the day before) is refused, its reason in
    English and Thai (``error``, ``error_th``, as the API's own refusals), and nothing is written for it."""
    from server.store import LedgerEntry
    from tests.site_support import FAR_APART

    app = two_site_app(tmp_db_url, overrides=FAR_APART)
    svc = app.extensions["privcard.service"]
    a_today, b_today = svc.sites.day_of("A"), svc.sites.day_of("B")
    assert a_today < b_today
    at_a, at_b = app.members["A"], app.members["B"]
    body = {
        "activity": "db_training",
        "event": "Talk",
        "day": b_today.isoformat(),
        "csv": f"member\n{at_a}\n{at_b}\n",
        "wait": 30,
    }
    r = app.test_client().post("/api/events/import", json=body, headers=token(ADMIN))
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["counts"] == {"credited": 1, "already_credited": 0, "errors": 1}, out
    [refused] = out["errors"]
    assert refused["line"] == 2 and f"{b_today} has not begun yet at site A" in refused["error"], refused
    assert "ที่สาขา A ยังไม่ถึงวันที่" in refused["error_th"], refused
    made = [(e.member_id, e.day, e.site) for e in LedgerEntry.select().where(LedgerEntry.source == "import")]
    assert made == [(at_b, b_today, "B")], made
    store.db.close()


def test_an_event_s_and_feedback_s_audit_rows_record_their_site_and_the_log_names_it(tmp_db_url):
    """``event.add`` and ``feedback.submit`` rows said "site: —" though the event had a site (the
    default one, stored as no site), the feedback its kiosk's or member's: each row records the
    site by its code, and the Staff page's log names it."""
    from broker import contract
    from server.store import Audit
    from tests.site_support import UIDS

    app = two_site_app(tmp_db_url, devices=("kiosk",))
    svc = app.extensions["privcard.service"]
    day = svc.today().isoformat()
    ev = svc.attendance.add_event("Open day", "learning_activity", day, created_by="admin", actor="web:admin")
    ev_b = svc.attendance.add_event("Branch talk", "learning_activity", day, created_by="admin", site="B")
    counter = svc.feedback.submit(channel="counter", category="question", text="Where is the exit?", actor="web:a")
    theirs = svc.feedback.submit(
        channel="counter", category="suggestion", text="More seats", member=app.members["B"], actor="web:a"
    )
    kiosk = contract.Feedback(
        feedback_id="k-1", rating=4, at=svc.ledger.clock(), uid=UIDS["B"], category="compliment", text="Nice"
    )
    assert svc.feedback.record_kiosk("kiosk-B", kiosk)
    rows = {
        (a.action, a.target): a.detail for a in Audit.select().where(Audit.action.in_(["event.add", "feedback.submit"]))
    }
    assert rows[("event.add", str(ev.id))]["site"] == "A"  # the default site, by its code
    assert rows[("event.add", str(ev_b.id))]["site"] == "B"
    assert rows[("feedback.submit", str(counter["id"]))]["site"] == "A"
    assert rows[("feedback.submit", str(theirs["id"]))]["site"] == "B"  # the member's home site
    kiosk_row = next(d for (action, _), d in rows.items() if d.get("channel") == "kiosk")
    assert (kiosk_row["site"], kiosk_row["member"]) == ("B", app.members["B"])  # the kiosk's site, the card's member
    with app.test_client() as c:
        sign_in(c, ADMIN)
        log = c.get("/staff").text
        cells = re.findall(r'<tr data-action="(event\.add|feedback\.submit)">(.*?)</tr>', log, flags=re.S)
        assert len(cells) == 5, cells
        for _action, row in cells:
            shown = text(row)
            assert "site: Central Library" in shown or "site: Branch Library" in shown, shown
            assert "site: —" not in shown, shown
