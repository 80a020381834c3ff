"""The fees a member paid at the counter (joining, renewal, card replacement) are site-only
data (docs/sites.md): another site's staff see the member's points and history, not what
the member paid at their home site, nor which staff account took it. Tried by changing ids
in the console (Thai and English) and the API; Flask's test client on a real SQLite file.
"""

from __future__ import annotations

import pytest

from server import store
from tests.browser.web_support import ADMIN, text
from tests.site_support import ANNA, BEA, SAM, UID_A, UID_B, client, token, two_site_app

FEES_HEADING = {"en": "Fees", "th": "ค่าธรรมเนียม"}
REPLACED = {"A": "04AAAA00000000F1", "B": "04BBBB00000000F2"}


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(ANNA, SAM, BEA))
    svc = app.extensions["privcard.service"]
    for site, uid in (("A", UID_A), ("B", UID_B)):  # a card replaced at each member's home counter
        svc.members.replace_card(uid, REPLACED[site], actor=f"web:desk-{site.lower()}")
    yield app
    store.db.close()


def _fees(page: str) -> str | None:
    """The member page's fees list, or None when it shows none."""
    start = page.find('<ul class="fees">')
    return None if start < 0 else page[start : page.index("</ul>", start)]


@pytest.mark.parametrize("lang", ["en", "th"])
def test_a_branch_sees_its_own_members_fees_not_another_sites(app, lang):
    from tests.site_support import sign_in

    for who in (SAM, ANNA):
        c = app.test_client()
        sign_in(c, who, lang=lang)
        own = c.get(f"/members/{app.members['A']}")
        assert own.status_code == 200
        assert "desk-a" in _fees(own.text) and FEES_HEADING[lang] in text(own.text)
        other = c.get(f"/members/{app.members['B']}")  # the id changed in the URL
        assert other.status_code == 200  # points and history are every site's ...
        assert _fees(other.text) is None  # ... the fees are not
        assert "desk-b" not in other.text and f"<h3>{FEES_HEADING[lang]}</h3>" not in other.text
        assert "Member B" in text(other.text)
    # site B's staff: the mirror image
    c = app.test_client()
    sign_in(c, BEA, lang=lang)
    assert _fees(c.get(f"/members/{app.members['A']}").text) is None
    assert "desk-b" in _fees(c.get(f"/members/{app.members['B']}").text)


def test_the_programme_administrator_sees_every_members_fees(app):
    c = client(app, ADMIN)
    for site in ("A", "B"):
        fees = _fees(c.get(f"/members/{app.members[site]}").text)
        assert fees is not None and f"desk-{site.lower()}" in fees


def test_the_api_gives_another_sites_member_without_site_only_data(app):
    headers = token(SAM)
    c = app.test_client()
    other = c.get(f"/api/members/{app.members['B']}", headers=headers)
    assert other.status_code == 200
    body = other.get_json()
    assert body["site_only"] is True and body["email"] is None and body["patron_id"] is None
    assert "fees" not in body and "desk-b" not in other.text
    by_card = c.get(f"/api/members/{REPLACED['B']}", headers=headers).get_json()
    assert by_card["id"] == app.members["B"] and by_card["site_only"] is True and "desk-b" not in str(by_card)
    own = c.get(f"/api/members/{app.members['A']}", headers=headers).get_json()
    assert own["site_only"] is False
