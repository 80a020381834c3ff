"""Staff scoped to sites (issue 16), the member routes a first pass left open: renewing, a tier
by hand, the patron PIN, contact data, the ILS record, the void page, the entries feed, enrolment
by the API and the kiosk ratings report — in the service layer, the console and the API, tried
by changing ids. Flask's test client on a real SQLite file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broker import contract
from server import store
from server.domain import config
from server.services import NotFound
from server.services.sites import Scope
from server.store import Fee, LedgerEntry, Member
from tests.browser.web_support import ADMIN, csrf_of
from tests.site_support import ANNA, BEA, SAM, TWO_SITES, UID_A, UID_B, A, client, token, two_site_app


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(ANNA, SAM, BEA), devices=("gate", "kiosk"), contact=True, visits=True)
    yield app
    store.db.close()


def _state(mid: int) -> tuple:
    """What a change of a member's site-only data would move."""
    from server.services.patrons import PatronPin

    m = Member.get_by_id(mid)
    return (
        m.valid_until,
        m.tier,
        m.email,
        m.phone,
        m.consent_marketing,
        Fee.select().where(Fee.member == mid).count(),
        PatronPin.select().where(PatronPin.member == mid).exists(),
    )


# --------------------------------------------------------------------------- term, tier, PIN, contact


def test_the_service_refuses_another_sites_members_term_tier_pin_and_contact(app):
    svc = app.extensions["privcard.service"]
    other, own = app.members["B"], app.members["A"]
    before = _state(other)
    for call in (
        lambda: svc.terms.renew(other, scope=A),
        lambda: svc.terms.set_tier(other, "gold", reason="favour", scope=A),
        lambda: svc.terms.renew(UID_B, scope=A),  # by card: the same answer
        lambda: svc.patrons.set_pin(other, "123456", actor="sam", scope=A),
        lambda: svc.patrons.set_member(other, actor="sam", scope=A, patron_pin="123456"),
        lambda: svc.messages.set_preferences(other, actor="sam", scope=A, email="x@example.org", phone="0812345678"),
    ):
        with pytest.raises(NotFound):
            call()
    assert _state(other) == before
    # its own member: yes
    until = (svc.today() + timedelta(days=365)).isoformat()
    assert svc.terms.renew(own, until=until, scope=A)["valid_until"] == until
    assert svc.terms.set_tier(own, "gold", reason="a favour", scope=A).tier == "gold"
    svc.patrons.set_pin(own, "123456", actor="sam", scope=A)
    assert svc.messages.set_preferences(own, actor="sam", scope=A, phone="0812345678").phone == "0812345678"
    # the programme administrator: any member
    assert svc.terms.set_tier(other, "gold", reason="a favour").tier == "gold"


def test_the_console_answers_another_sites_member_like_a_missing_one(app):
    other, own = app.members["B"], app.members["A"]
    c = client(app, SAM)
    page = c.get(f"/members/{other}")
    assert page.status_code == 200
    # the page shows points and history, not the site-only data nor the forms the service refuses
    assert "b@example.org" not in page.text and "P-B" not in page.text
    for form in ("renew-form", "tier-form", "patron-pin-form", "contact-form", "replace-form", "redeem-form"):
        assert f'id="{form}"' not in page.text, form
    assert 'id="credit-form"' in page.text  # a visitor may be credited here
    tok = csrf_of(page.text)
    before = _state(other)
    for url, data in (
        (f"/members/{other}/renew", {}),
        (f"/members/{other}/tier", {"tier": "gold", "reason": "favour"}),
        (f"/members/{other}/patron-pin", {"patron_pin": "123456", "action": "set"}),
        (f"/members/{other}/contact", {"email": "x@example.org", "phone": "0812345678", "consent_marketing": "1"}),
    ):
        r = c.post(url, data={**data, "csrf_token": tok})
        assert r.status_code == 404, url
        missing = c.post(url.replace(f"/{other}/", "/999999/"), data={**data, "csrf_token": tok})
        assert missing.status_code == 404, url
    assert _state(other) == before
    # its own member: the forms are there and work
    own_page = c.get(f"/members/{own}")
    for form in ("renew-form", "tier-form", "patron-pin-form", "contact-form"):
        assert f'id="{form}"' in own_page.text, form
    r = c.post(f"/members/{own}/tier", data={"tier": "gold", "reason": "a favour", "csrf_token": tok})
    assert r.status_code == 302 and Member.get_by_id(own).tier == "gold"
    r = c.post(f"/members/{own}/contact", data={"email": "new@example.org", "csrf_token": tok})
    assert r.status_code == 302 and Member.get_by_id(own).email == "new@example.org"
    # the programme administrator: any member
    admin = client(app, ADMIN)
    tok = csrf_of(admin.get(f"/members/{other}").text)
    r = admin.post(f"/members/{other}/tier", data={"tier": "gold", "reason": "a favour", "csrf_token": tok})
    assert r.status_code == 302 and Member.get_by_id(other).tier == "gold"


# --------------------------------------------------------------------------- the void page (visitors)


def test_the_void_page_follows_the_services_rule_a_visitors_award_made_here_is_voidable(app):
    svc = app.extensions["privcard.service"]
    other = app.members["B"]
    _o, visit = svc.points.award(other, "borrow", scope=A)  # a visitor from B credited at A
    _o2, at_b = svc.points.award(app.members["A"], "volunteer", item="shelving", scope=Scope(frozenset({"B"})))
    assert (visit.site, at_b.site) == ("A", "B")
    c = client(app, SAM)
    assert c.get(f"/members/{other}/entries/{visit.id}/void").status_code == 200
    tok = csrf_of(c.get(f"/members/{app.members['A']}").text)
    r = c.post(f"/members/{other}/entries/{visit.id}/void", data={"reason": "typo", "csrf_token": tok})
    assert r.status_code == 302 and LedgerEntry.select().where(LedgerEntry.void_of == visit.id).exists()
    # another site's entry of another site's member: 404; an entry under the wrong member's URL: 404
    b_tap = LedgerEntry.select().where(LedgerEntry.member == other, LedgerEntry.device == "in-B").get()
    assert c.get(f"/members/{other}/entries/{b_tap.id}/void").status_code == 404
    assert c.get(f"/members/{app.members['A']}/entries/{visit.id}/void").status_code == 404


# --------------------------------------------------------------------------- the ILS record


@pytest.fixture
def ils_app(tmp_db_url, tmp_path):
    """The console with a real SIP2 test ILS (``tests.sip2_ils``); member B's patron P100 owes 35 baht."""
    from server.ils.config import build
    from server.services import bootstrap
    from server.web import accounts, create_app
    from tests.sip2_ils import start_ils

    with start_ils(tmp_path) as server:
        store.connect(tmp_db_url)
        prog = config.load(overrides=TWO_SITES)
        svc = bootstrap(prog, ils=build({"reply_timeout_s": 2, "connect_timeout_s": 1}, server.url))
        app = create_app(tmp_db_url, prog, svc, connect=False, testing=True)
        app.config["WTF_CSRF_ENABLED"] = True
        accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
        accounts.add_staff(SAM[0], "staff", SAM[1], sites="A")
        app.members = {
            "A": svc.members.add("Member A", UID_A, patron_id="P200", home_site="A").id,
            "B": svc.members.add("Member B", UID_B, patron_id="P100", home_site="B").id,
        }
        yield app
        svc.ils.close()
        store.db.close()


def test_the_ils_record_of_another_sites_member_is_site_only(ils_app):
    app = ils_app
    other, own = app.members["B"], app.members["A"]
    h, api = token(SAM), app.test_client()
    assert api.get(f"/api/members/{other}/ils", headers=h).status_code == 404
    r = api.get(f"/api/members/{own}/ils", headers=h)
    assert r.status_code == 200 and r.get_json()["state"] == "ok"
    page = client(app, SAM).get(f"/members/{other}")
    assert page.status_code == 200 and 'id="ils-panel"' not in page.text and "35.00" not in page.text
    assert 'id="ils-panel"' in client(app, SAM).get(f"/members/{own}").text
    # the programme administrator sees it
    admin_page = client(app, ADMIN).get(f"/members/{other}")
    assert 'id="ils-panel"' in admin_page.text and "35.00" in admin_page.text
    assert api.get(f"/api/members/{other}/ils", headers=token(ADMIN)).get_json()["fines_baht"] == 35.0


# --------------------------------------------------------------------------- the API: entries, enrolment


def test_the_entries_feed_shows_a_branch_the_entries_made_at_its_sites(app):
    svc = app.extensions["privcard.service"]
    # a visitor from A credited at B: made at B, so B's and not A's (as reports count it)
    _o, visit = svc.points.award(app.members["A"], "borrow", scope=Scope(frozenset({"B"})))
    api = app.test_client()

    def ids(who):
        r = api.get("/api/entries?limit=500", headers=token(who))
        assert r.status_code == 200, r.text
        return {e["id"] for e in r.get_json()["entries"]}

    everything, at_a, at_b = ids(ADMIN), ids(SAM), ids(BEA)
    assert everything == {e.id for e in LedgerEntry.select()}
    assert at_a and at_b and not at_a & at_b and at_a | at_b == everything
    b_tap = LedgerEntry.select().where(LedgerEntry.device == "in-B").get()
    assert b_tap.id in at_b and b_tap.id not in at_a
    assert visit.id in at_b and visit.id not in at_a
    # the same rule as the points report by site
    assert at_a == {e.id for e in LedgerEntry.select().where(svc.sites.entry_condition(["A"]))}


def test_a_member_enrolled_through_the_api_by_a_branch_lands_on_its_site(app):
    api = app.test_client()
    r = api.post("/api/members", json={"name": "New A", "card": "04CCCC0000000003"}, headers=token(SAM))
    assert r.status_code == 201, r.text
    assert Member.get_by_id(r.get_json()["id"]).home_site == "A"
    r = api.post(
        "/api/members", json={"name": "Sneaky", "card": "04DDDD0000000004", "home_site": "B"}, headers=token(SAM)
    )
    assert r.status_code == 400 and not Member.select().where(Member.name == "Sneaky").exists()
    r = api.post(
        "/api/members", json={"name": "New B", "card": "04EEEE0000000005", "home_site": "B"}, headers=token(ADMIN)
    )
    assert r.status_code == 201 and Member.get_by_id(r.get_json()["id"]).home_site == "B"


# --------------------------------------------------------------------------- the kiosk ratings report


def test_kiosk_ratings_count_where_they_were_given_even_after_the_kiosk_moves(app):
    svc = app.extensions["privcard.service"]
    at = datetime.now(UTC).replace(microsecond=0)
    for n, (kiosk, rating) in enumerate((("kiosk-A", 5), ("kiosk-B", 2), ("kiosk-B", 3))):
        assert svc.devices.record_feedback(kiosk, contract.Feedback(f"r-{n}", rating, at))
    svc.devices.set("kiosk-B", site="A")  # the kiosk moves to A afterwards

    def counts(site):
        r = app.test_client().get(f"/api/reports/feedback?site={site}", headers=token(ADMIN))
        assert r.status_code == 200, r.text
        return {row["rating"]: row["count"] for row in r.get_json()["rows"] if row["count"]}

    assert counts("A") == {5: 1}
    assert counts("B") == {2: 1, 3: 1}
    # and a branch's own report is its own ratings
    r = app.test_client().get("/api/reports/feedback", headers=token(BEA))
    assert {row["rating"]: row["count"] for row in r.get_json()["rows"] if row["count"]} == {2: 1, 3: 1}


# --------------------------------------------------------------------------- pages of every site's members


def test_messages_and_the_ils_queue_are_the_whole_programmes(ils_app):
    """Segment messages (their delivery logs hold every site's addresses) and pending ILS payments
    (every site's patron ids) are refused to an account scoped to sites, as the CLI refuses them."""
    from server.web import accounts

    app = ils_app
    accounts.add_staff(ANNA[0], "admin", ANNA[1], sites="A")
    anna, sam, admin = client(app, ANNA), client(app, SAM), client(app, ADMIN)
    assert anna.get("/messages").status_code == 403 and admin.get("/messages").status_code == 200
    assert anna.get("/messages/1").status_code == 403
    for c in (anna, sam):
        tok = csrf_of(c.get("/members").text)
        assert c.get("/ils/pending").status_code == 403
        assert c.post("/ils/settle", data={"csrf_token": tok}).status_code == 403
        assert 'href="/ils/pending"' not in c.get("/members").text
    assert admin.get("/ils/pending").status_code == 200
    api = app.test_client()
    assert api.get("/api/ils/pending", headers=token(SAM)).status_code == 403
    assert api.post("/api/ils/settle", headers=token(ANNA)).status_code == 403
    assert api.get("/api/ils/pending", headers=token(ADMIN)).status_code == 200
