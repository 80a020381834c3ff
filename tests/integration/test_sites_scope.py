"""Staff scoped to sites (issue 16): a branch's staff see and change only their site's devices,
members' site-only data and reports — in the service layer, the console and the API, tried
by changing ids in URLs, forms and API calls. Flask's test client on a real SQLite file.
"""

from __future__ import annotations

from datetime import UTC

import pytest

from broker.contract import Tap
from server import store
from server.domain import config
from server.services import NotFound, ServiceError
from server.services.sites import Scope
from server.store import Device, Member
from tests.browser.web_support import ADMIN, csrf_of, sign_in, text
from tests.helpers import local_time

TWO_SITES = {
    "library": {"default_site": "A"},
    "sites": {
        "A": {"name_th": "หอสมุดกลาง", "name_en": "Central Library", "hours": {"default": "08:00-20:00"}},
        "B": {"name_th": "ห้องสมุดสาขา", "name_en": "Branch Library", "hours": {"default": "08:00-22:00"}},
    },
}
BRANCH_ADMIN = ("anna", "anna-password-1")  # admin of site A only
BRANCH_STAFF = ("sam", "sam-password-22")  # staff of site A only


@pytest.fixture
def app(tmp_db_url):
    from server.web import accounts, create_app

    app = create_app(tmp_db_url, config.load(overrides=TWO_SITES), testing=True)
    app.config["WTF_CSRF_ENABLED"] = True
    accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
    accounts.add_staff(BRANCH_ADMIN[0], "admin", BRANCH_ADMIN[1], sites="A")
    accounts.add_staff(BRANCH_STAFF[0], "staff", BRANCH_STAFF[1], sites="A")
    svc = app.extensions["privcard.service"]
    for site in ("A", "B"):
        svc.devices.add(f"in-{site}", "gate", direction="in", site=site)
        svc.devices.add(f"counter-{site}", "counter", site=site)
    app.members = {
        site: svc.members.add(
            f"Member {site}", uid, email=f"{site.lower()}@example.org", patron_id=f"P-{site}", home_site=site
        ).id
        for site, uid in (("A", "04AAAA0000000001"), ("B", "04BBBB0000000002"))
    }
    # a visit at each site today, so reports have something per site
    at = local_time(svc.today(), 10)
    for site, uid in (("A", "04AAAA0000000001"), ("B", "04BBBB0000000002")):
        r = svc.taps.decide(f"in-{site}", Tap(tap_id=f"t-{site}", uid=uid, at=at.astimezone(UTC), clock_ok=True))
        assert r.outcome in ("credited", "limit_reached")
    yield app
    store.db.close()


def client(app, who):
    c = app.test_client()
    sign_in(c, who)
    return c


def token(who) -> dict:
    from server.web import accounts

    raw, _row = accounts.issue_token(who[0], "test")
    return {"Authorization": f"Bearer {raw}"}


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
