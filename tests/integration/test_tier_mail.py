"""The "you moved up a tier" mail (``tier_promoted``): a watermark job off the tap path, like the
level mail (``Messages.tier_job``, run by the server's messages thread with the level job).

End to end: a real ``privcard server`` promotes members at a gate tap (``[tiers.gold]
earned_at``), its messages thread queues the mail and sends it to the real SMTP server
(tests/smtp_server.py), in Thai and in English. And the job's rules on SQLite and
PostgreSQL: once per member, term and tier; a staff promotion too; no mail for a move
down, for a tier given at enrolment, for a member without notices; promotions from before
the job existed are not told.
"""

from __future__ import annotations

import time

import pytest

from server.domain import config
from server.domain.config import to_toml
from server.store import Card, Counter, LedgerEntry
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service
from tests.smtp_server import start_smtp, text_of

GOLD_AT_300 = {"tiers": {"gold": {"earned_at": 300, "groups": ["U5"]}}}


@pytest.fixture
def smtp(tmp_path):
    server = start_smtp(tmp_path)
    yield server
    server.stop()


def _to_295(svc, member_id):
    """Sign-up (250) + 4 volunteer days (40) + a partner purchase (5): 295 earned in the term, still silver."""
    for k in range(4):
        assert svc.points.award(member_id, "volunteer", item=f"day{k}")[0] == "credited"
    assert svc.points.award(member_id, "partner_purchase", item="More Coffee")[0] == "credited"


def _tier_mails(svc):
    return [r for r in svc.messages.list(limit=1000) if r["template"] == "tier_promoted"]


def test_a_promotion_at_a_gate_tap_is_mailed_in_thai_and_english_by_the_running_server(
    tmp_db_url, smtp, mosquitto, tmp_path
):
    cfg = tmp_path / "library.toml"
    cfg.write_text(
        to_toml(GOLD_AT_300)
        + '\n[mail]\npublic_url = "http://127.0.0.1:9"\nrate_per_second = 50\nretry_first_s = 0.2\n',
        encoding="utf-8",
    )
    svc = open_service(tmp_db_url, prog=config.load(cfg))
    svc.devices.add("gate-in", "gate", direction="in")
    th = svc.members.add("ปลาย", new_uid(), email="th@example.org")
    en = svc.members.add("Ann", new_uid(), email="en@example.org")
    svc.members.set(en.id, language="en")
    for m in (th, en):
        _to_295(svc, m.id)
    assert svc.messages.tier_job() == 0 and _tier_mails(svc) == []
    uids = {m.id: Card.get(Card.member == m.id).uid for m in (th, en)}
    close_store()
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--smtp", smtp.url))
    with server, Device(mosquitto.url) as dev:
        smtp.wait_for(2, timeout=30)  # the welcomes
        for m in (th, en):
            r = dev.tap("gate-in", uids[m.id])
            assert r.outcome == "credited" and r.tier == "gold", r  # promoted by the tap: 300 earned
        mails = smtp.wait_for(6, timeout=40)[2:]  # a level mail (300) and a tier mail each
        time.sleep(11)  # two more rounds of the jobs (every 5 s): nothing more
        assert len(smtp.files()) == 6, [m["Subject"] for m in smtp.messages()]
    tier = {m["To"]: m for m in mails if m["Subject"].startswith(("ยินดีด้วย", "Congratulations"))}
    assert sorted(tier) == ["en@example.org", "th@example.org"]
    mt, me = tier["th@example.org"], tier["en@example.org"]
    assert mt["Subject"] == "ยินดีด้วย คุณได้รับบัตรทองแล้ว"
    assert "สวัสดีคุณปลาย" in text_of(mt) and "เลื่อนระดับจากบัตรเงินเป็นบัตรทองแล้ว" in text_of(mt)
    assert "ไม่ต้องการรับข้อความแบบนี้อีก" in text_of(mt)
    assert me["Subject"] == "Congratulations: you now have the Gold card"
    assert "You have moved up from the Silver card to the Gold card." in text_of(me)
    assert "Stop messages like this" in text_of(me)
    svc = open_service(tmp_db_url, prog=config.load(cfg))
    assert svc.messages.tier_job() == 0
    rows = _tier_mails(svc)
    assert sorted(r["member"] for r in rows) == sorted([th.id, en.id]) and all(r["status"] == "sent" for r in rows)
    close_store()


@pytest.fixture
def db_url(any_db_url):
    """Each test once on SQLite, once on PostgreSQL (tests/integration/conftest.py)."""
    return any_db_url


@pytest.fixture
def svc(db_url):
    service = open_service(db_url, prog=config.load(overrides=GOLD_AT_300))
    yield service
    close_store()


def test_once_per_member_term_and_tier_and_staff_promotions_too(svc):
    m = svc.members.add("Somchai", new_uid(), email="s@example.org")
    _to_295(svc, m.id)
    assert svc.points.award(m.id, "volunteer", item="day9")[0] == "credited"  # 305: gold by the points rule
    assert svc.members.find(m.id).tier == "gold"
    assert svc.messages.tier_job() == 1 and svc.messages.tier_job() == 0
    (row,) = _tier_mails(svc)
    assert svc.messages.show(row["id"])["subject"] == "ยินดีด้วย คุณได้รับบัตรทองแล้ว"  # Thai by default
    # staff move them down and up again in the same term: the move down is no news, the same tier not twice
    svc.terms.set_tier(m.id, "silver", reason="mistake", actor="t")
    svc.terms.set_tier(m.id, "gold", reason="fixed", actor="t")
    assert svc.messages.tier_job() == 0 and len(_tier_mails(svc)) == 1
    # a staff promotion of another member is told (in English for an English reader)
    other = svc.members.add("Ann", new_uid(), email="a@example.org")
    svc.members.set(other.id, language="en")
    svc.points.award(other.id, "volunteer", item="x")
    svc.terms.set_tier(other.id, "gold", reason="committee", actor="t")
    assert svc.messages.tier_job() == 1
    (theirs,) = [r for r in _tier_mails(svc) if r["member"] == other.id]
    assert svc.messages.show(theirs["id"])["subject"] == "Congratulations: you now have the Gold card"


def test_no_mail_for_a_tier_given_at_enrolment_nor_to_who_wants_no_notices(svc):
    joined = svc.members.add("U5 student", new_uid(), group="U5", email="u5@example.org")
    assert svc.members.find(joined.id).tier == "gold"  # gold from the start ([tiers.gold] groups)
    quiet = svc.members.add("Quiet", new_uid(), email="q@example.org")
    svc.messages.unsubscribe(svc.messages.unsubscribe_token(quiet.id, "notice"))
    _to_295(svc, quiet.id)
    svc.points.award(quiet.id, "volunteer", item="more")
    assert svc.members.find(quiet.id).tier == "gold"
    assert svc.messages.tier_job() == 0 and _tier_mails(svc) == []
    # the watermark moved past them all
    top = LedgerEntry.select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).first().id
    assert Counter.get(Counter.key == "messages:tier_entry").value == top


def test_promotions_made_before_the_job_existed_are_not_told(svc):
    """The migration starts the watermark at the newest entry, as the level job's does."""
    from server.services.messages import _tier_mail_m1

    m = svc.members.add("Old news", new_uid(), email="o@example.org")
    _to_295(svc, m.id)
    svc.points.award(m.id, "volunteer", item="day9")
    Counter.delete().where(Counter.key == "messages:tier_entry").execute()  # a database from before
    _tier_mail_m1(None)
    assert svc.messages.tier_job() == 0 and _tier_mails(svc) == []
