"""The console's Terms page says which tiers a term close puts back (issue 13: a tier won by points lasts
the term it was won in; the close on the new term's first days puts it back), in Thai and English.
Flask's test client on a real SQLite file.

Before: the page's result listed only the lapsed members and the flash said "Term close done: 0
member(s) lapsed." while the close had taken gold cards back to silver.
"""

from __future__ import annotations

from datetime import timedelta

from server.store import LedgerEntry, Member
from tests.browser.web_support import ADMIN, flashes, post_form, sign_in, text
from tests.helpers import new_uid


def _won_in_an_earlier_term(svc, name: str) -> int:
    """A member whose gold was won by points in an earlier term and whose new term began 10 days ago.

    (The console runs on the real clock: the tier change's day and the term's start are written back
    as an early renewal leaves them — ``tests/unit/test_programme_year.py`` makes them with a clock.)
    """
    today = svc.ledger.today()
    m = svc.members.add(name, new_uid(), group="U1")
    svc.terms.set_tier(m.id, "gold", reason="270 points earned", actor="test")
    Member.update(tier_basis="points", term_start=today - timedelta(days=10)).where(Member.id == m.id).execute()
    LedgerEntry.update(day=today - timedelta(days=40)).where(
        (LedgerEntry.member == m.id) & (LedgerEntry.source == "tier")
    ).execute()
    return m.id


def test_the_terms_page_lists_the_tiers_a_close_puts_back_in_thai_and_english(app):
    svc = app.extensions["privcard.service"]
    mid = _won_in_an_earlier_term(svc, "Malee Gold")
    client = app.test_client()
    sign_in(client, ADMIN, "th")
    page = post_form(client, "/terms", "/terms", {"run": "0"})
    shown = text(page.text)
    assert "ประเภทบัตรที่ได้จากคะแนนที่จะกลับเป็นประเภทเดิม เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว: 1" in shown, shown
    assert f"#{mid} Malee Gold" in shown and "บัตรทอง → บัตรเงิน" in shown
    assert Member.get_by_id(mid).tier == "gold"  # a preview changes nothing
    sign_in(client, ADMIN, "en")
    page = post_form(client, "/terms", "/terms", {"run": "1"})
    assert "1 card type(s) won by points put back: the new term has begun." in flashes(page.text)
    shown = text(page.text)
    assert "Card types won by points put back: the new term has begun: 1" in shown, shown
    assert f"#{mid} Malee Gold" in shown and "Gold card → Silver card" in shown
    assert Member.get_by_id(mid).tier == "silver"
    page = post_form(client, "/terms", "/terms", {"run": "1"})  # once
    assert "card type(s) won by points" not in text(page.text)
