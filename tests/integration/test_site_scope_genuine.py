"""The dashboard's genuine-card checks (secured / UID-only counts, suspected clones) per site:
a branch's staff count their sites' members' cards only, a programme administrator every
card. The real console app on a real SQLite file, in English and Thai.
"""

from __future__ import annotations

import pytest

from server import store
from server.services.sites import EVERYTHING
from server.store import Card
from tests.browser.web_support import ADMIN, text
from tests.site_support import ANNA, BEA, SAM, A, B, two_site_app

#: at A: 2 secured (one of them a suspect), 1 UID-only (Member A's own card); at B: 1 secured, 3 UID-only
CARDS = {
    "A": [("Suda", "04DE5F1EACC040", True), ("Anan", "04958CAA5C5E80", True)],
    "B": [("Preeya", "04C1C2C3C4C5C6", True), ("Krit", "04B1B2B3B4", False), ("Mali", "04B1B2B3B5", False)],
}
SUSPECT = {"A": "04958CAA5C5E80", "B": "04C1C2C3C4C5C6"}


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(ANNA, SAM, BEA))
    svc = app.extensions["privcard.service"]
    for site, cards in CARDS.items():
        for name, uid, secured in cards:
            svc.members.add(name, uid, home_site=site)
            if secured:
                Card.update(sun=True).where(Card.uid == uid).execute()
    for uid in SUSPECT.values():  # what the tap path leaves behind
        Card.update(sun_suspect_at=store.utcnow(), sun_counter=9).where(Card.uid == uid).execute()
    yield app
    store.db.close()


def test_the_service_counts_a_scopes_members_cards(app):
    cards = app.extensions["privcard.service"].cards
    assert cards.counts(A) == {"secured": 2, "uid_only": 1}
    assert cards.counts(B) == {"secured": 1, "uid_only": 3}
    assert cards.counts(EVERYTHING) == cards.counts() == {"secured": 3, "uid_only": 4}
    assert [s["uid"] for s in cards.suspects(scope=A)] == [SUSPECT["A"]]
    assert [s["uid"] for s in cards.suspects(scope=B)] == [SUSPECT["B"]]
    assert {s["uid"] for s in cards.suspects()} == set(SUSPECT.values())


def test_a_member_without_a_home_site_counts_at_the_default_site(app):
    from server.store import Member

    Member.update(home_site=None).where(Member.name == "Krit").execute()  # made before sites existed
    cards = app.extensions["privcard.service"].cards
    assert cards.counts(A) == {"secured": 2, "uid_only": 2}  # A is the default site
    assert cards.counts(B) == {"secured": 1, "uid_only": 2}


COUNTS = {
    "en": "Active cards secured with NTAG 424 DNA: %s; still identified by UID only (can be copied): %s.",
    "th": "บัตรที่ใช้งานและป้องกันด้วย NTAG 424 DNA: %s ใบ; ยังระบุด้วย UID อย่างเดียว (ถูกคัดลอกได้): %s ใบ",
}


@pytest.mark.parametrize("lang", ["en", "th"])
@pytest.mark.parametrize(
    ("who", "secured", "uid_only", "site"),
    [(SAM, 2, 1, "A"), (ANNA, 2, 1, "A"), (BEA, 1, 3, "B"), (ADMIN, 3, 4, None)],
)
def test_the_dashboard_shows_each_account_its_sites_counts(app, lang, who, secured, uid_only, site):
    from tests.site_support import sign_in

    c = app.test_client()
    page = text(sign_in(c, who, lang=lang).text)
    assert COUNTS[lang] % (secured, uid_only) in page
    shown = {uid for uid in SUSPECT.values() if uid in page}
    assert shown == ({SUSPECT[site]} if site else set(SUSPECT.values()))
