"""The console's dashboard: how many active cards are still UID-only, suspected clones and their one-click block."""

from __future__ import annotations

from server import store
from server.store import Card
from tests.browser.web_support import ADMIN, post_form, sign_in, text

SECURED = "04DE5F1EACC040"
SUSPECT = "04958CAA5C5E80"
PLAIN = "04A1B2C3D4"


def test_dashboard_counts_uid_only_cards_and_blocks_a_suspected_clone_in_one_click(app):
    members = app.extensions["privcard.service"].members
    m = members.add("Suda", SUSPECT)
    members.add("Anan", SECURED)
    members.add("Preeya", PLAIN)
    # what the tap path leaves behind: two secured cards, one whose counter went backwards
    Card.update(sun=True).where(Card.uid.in_([SECURED, SUSPECT])).execute()
    Card.update(sun_suspect_at=store.utcnow(), sun_counter=9).where(Card.uid == SUSPECT).execute()
    client = app.test_client()
    page = text(sign_in(client, ADMIN, "en").text)
    assert "Active cards secured with NTAG 424 DNA: 2; still identified by UID only (can be copied): 1." in page
    assert "Suspected clones" in page and f"{SUSPECT} Suda" in page and SECURED not in page
    th = text(client.get("/lang/th", follow_redirects=True).text)
    assert "บัตรที่สงสัยว่าถูกคัดลอก" in th and "ยังระบุด้วย UID อย่างเดียว (ถูกคัดลอกได้): 1 ใบ" in th
    client.get("/lang/en")
    after = post_form(client, "/", f"/members/{m.id}/block-card", {"card": SUSPECT, "reason": "suspected clone"})
    assert f"Card {SUSPECT} blocked." in text(after.text)
    assert Card.get_by_id(SUSPECT).status == "blocked"
    page = text(client.get("/").text)
    assert "UID only (can be copied): 1." in page  # blocked cards are not counted as active
    assert "Active cards secured with NTAG 424 DNA: 1;" in page
