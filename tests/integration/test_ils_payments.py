"""The library system link against a real SIP2 server process (tests/sip2_ils.py, pysip2's server).

Patron information, fine discounts paid in the ILS (confirmed / refused / pending and
settled once), and the ILS misbehaving (bad checksum, garbage, an oversized frame, a
half-closed socket, killed between 37 and 38, down). Privcard's own client and services
run for real in this process; nothing of privcard is mocked.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from server import store
from server.domain.config import load
from server.ils.config import build
from server.services import ServiceError, bootstrap
from server.services.ils import IlsUnavailable
from server.store import Audit, IlsPayment, LedgerEntry
from tests.helpers import close_store, ledger_problems, new_uid
from tests.sip2_ils import start_ils


@pytest.fixture
def ils(tmp_path):
    with start_ils(tmp_path) as running:
        yield running


def services(db_url: str, ils, **cfg):
    close_store()
    store.connect(db_url)
    # recheck_after_s 0: a lost answer is checked at once (test_a_lost_answer_is_checked_only_after_recheck_after_s)
    config = build({"reply_timeout_s": 2.0, "connect_timeout_s": 1.0, "recheck_after_s": 0, **cfg}, ils.url)
    return bootstrap(load(overrides=PROGRAMME), ils=config)


@pytest.fixture
def svc(tmp_db_url, ils):
    s = services(tmp_db_url, ils)
    yield s
    s.ils.close()
    close_store()


#: a test programme: an unlimited 5-point activity to give members the points a test needs
PROGRAMME = {"activities": {"grant": {"points": 5, "limit": "unlimited", "th": "ทดสอบ", "en": "Test grant"}}}


def member(svc, patron_id: str | None = "P100", points: int = 300):
    """A member with exactly ``points`` (sign-up points topped up through awards)."""
    m = svc.members.add("Somchai", new_uid(), patron_id=patron_id)
    have = svc.ledger.balance(m.id)
    assert points >= have and (points - have) % 5 == 0
    for _ in range((points - have) // 5):
        svc.points.award(m.id, "grant")
    assert svc.ledger.balance(m.id) == points
    return m


def test_patron_information_with_fines(svc, ils):
    m = member(svc)
    d = svc.ils.patron(m.id)
    assert d == {
        "patron_id": "P100",
        "valid": True,
        "fines_baht": 35.0,
        "charged": 1,
        "overdue": 1,
        "blocked": False,
        "flags": ["too_many_items_overdue"],
        "message": "",
    }
    ils.update(lambda s: s["patrons"]["P100"].update(blocked=True))
    d = svc.ils.patron(m.id)
    assert d["blocked"] is True
    assert d["flags"][:2] == ["charge_privileges_denied", "renewal_privileges_denied"]
    audit = Audit.select().where(Audit.action == "ils.patron").order_by(Audit.id.desc()).first()
    assert audit.detail["message"] == "63" and audit.detail["patron"] == "P100"


def test_discount_over_the_fines_is_refused_and_nothing_taken(svc, ils):
    m = member(svc, points=500)
    with pytest.raises(ServiceError, match="more than the fines"):
        svc.points.redeem(m.id, "fine_discount", points=200)  # 40 baht > 35 baht owed
    assert svc.ledger.balance(m.id) == 500
    assert IlsPayment.select().count() == 0
    assert ils.payments() == []


def test_fee_paid_accepted_deducts_once(svc, ils):
    m = member(svc, points=300)
    d = svc.points.redeem(m.id, "fine_discount", points=100)  # 20 baht
    assert d["ils"]["status"] == "confirmed"
    bk = d["ils"]["transaction"]
    assert bk.startswith(f"PC-{d['entry']}-")
    assert d["balance"] == 200 == svc.ledger.balance(m.id)
    paid = ils.payments(bk)
    assert len(paid) == 1 and paid[0]["amount"] == 20.0 and paid[0]["currency"] == "THB"
    assert ils.fines("P100") == 15.0
    p = IlsPayment.get(IlsPayment.transaction == bk)
    assert (p.status, p.attempts, p.baht, p.points) == ("confirmed", 1, 20, 100)
    assert svc.ils.pending() == []
    assert ledger_problems([m.id]) == []
    # the audit has the exchange, never the SIP password
    rows = [a.detail for a in Audit.select().where(Audit.action == "ils.fee_paid")]
    assert rows[-1]["transaction"] == bk and rows[-1]["outcome"] == "confirmed" and rows[-1]["baht"] == 20
    assert "s3cret" not in str([a.detail for a in Audit.select()])


def test_fee_paid_refused_restores_points_and_shows_the_message(svc, ils):
    m = member(svc, points=300)
    ils.update(refuse_fee_paid="Payments closed at this branch")
    d = svc.points.redeem(m.id, "fine_discount", points=50)
    assert d["ils"]["status"] == "refused"
    assert d["ils"]["message"] == "Payments closed at this branch"
    assert d["balance"] == 300 == svc.ledger.balance(m.id)
    p = IlsPayment.get(IlsPayment.transaction == d["ils"]["transaction"])
    assert p.status == "refused" and p.refund_id is not None
    refund = LedgerEntry.get_by_id(p.refund_id)
    assert refund.void_of_id == d["entry"] and refund.points == 50
    assert ils.payments() == []
    assert ledger_problems([m.id]) == []


def test_ils_killed_between_37_and_38_pending_then_settled_once(svc, ils):
    m = member(svc, points=300)
    ils.fault("die_after_37")  # records the payment, dies before answering
    d = svc.points.redeem(m.id, "fine_discount", points=25)  # 5 baht
    assert d["ils"]["status"] == "pending"
    bk = d["ils"]["transaction"]
    assert ils.wait_exit(10) == 3
    assert svc.ledger.balance(m.id) == 275  # held, shown as pending
    [pend] = svc.ils.pending()
    assert pend["transaction"] == bk and pend["status"] == "pending" and pend["attempts"] == 1
    assert pend["last_error"]

    # still down: settle keeps it pending with the same BK (nothing sent: its fines could not be read)
    [again] = svc.ils.settle()
    assert again["status"] == "pending" and again["transaction"] == bk and again["attempts"] == 1

    ils.restart()
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed" and done["transaction"] == bk
    assert svc.ils.pending() == []
    assert svc.ils.settle() == []
    # the ILS's own record: one payment for this BK, sent once (its fines showed it made)
    assert len(ils.payments(bk)) == 1
    assert ils.state()["fee_paid_log"].count(bk) == 1
    assert ils.fines("P100") == 30.0
    assert svc.ledger.balance(m.id) == 275
    assert ledger_problems([m.id]) == []


def test_a_fine_discount_paid_or_pending_in_the_ils_cannot_be_voided_for_its_points(svc, ils):
    """The discount was (or may be being) paid in the ILS: a void would give the points back too.

    Before: staff's void of a confirmed payment's redemption restored the 100 points while
    the ILS kept the 20 baht paid; a void of a pending one restored them and the settle
    then confirmed the payment (both the discount and the points).
    """
    m = member(svc, points=300)
    d = svc.points.redeem(m.id, "fine_discount", points=100)
    assert d["ils"]["status"] == "confirmed"
    with pytest.raises(ServiceError, match="paid in the library system"):
        svc.points.void(d["entry"], "mistake", actor="t")
    assert svc.ledger.balance(m.id) == 200 and ils.fines("P100") == 15.0

    ils.fault("die_after_37")  # paid there, the answer lost: pending here
    p = svc.points.redeem(m.id, "fine_discount", points=25)
    assert p["ils"]["status"] == "pending"
    ils.wait_exit(10)
    with pytest.raises(ServiceError, match="not answered yet"):
        svc.points.void(p["entry"], "mistake", actor="t")
    assert svc.ledger.balance(m.id) == 175
    ils.restart()
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed"
    assert svc.ledger.balance(m.id) == 175 and ils.fines("P100") == 10.0
    assert LedgerEntry.select().where(LedgerEntry.source == "void").count() == 0
    assert ledger_problems([m.id]) == []


def test_a_refused_fine_payment_is_given_back_once_and_a_void_after_it_is_refused(svc, ils):
    m = member(svc, points=300)
    ils.update(refuse_fee_paid="Payments closed")
    d = svc.points.redeem(m.id, "fine_discount", points=50)
    assert d["ils"]["status"] == "refused" and svc.ledger.balance(m.id) == 300
    with pytest.raises(ServiceError, match="already voided"):
        svc.points.void(d["entry"], "mistake", actor="t")
    assert svc.ledger.balance(m.id) == 300
    assert ledger_problems([m.id]) == []


def test_ils_dies_before_recording_then_paid_once_on_retry(svc, ils):
    m = member(svc, points=300)
    ils.fault("die_on_37")
    d = svc.points.redeem(m.id, "fine_discount", points=25)
    assert d["ils"]["status"] == "pending"
    ils.wait_exit(10)
    ils.restart()
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed"
    assert len(ils.payments(d["ils"]["transaction"])) == 1


def test_bad_checksum_gets_a_resend(svc, ils):
    m = member(svc)
    svc.ils.patron(m.id)  # logged in
    ils.fault("bad_checksum:64")
    d = svc.ils.patron(m.id)
    assert d["fines_baht"] == 35.0
    assert svc.ils.link().resends == 1
    # a 38 with a bad checksum: resent, paid once
    ils.fault("bad_checksum:38")
    r = svc.points.redeem(m.id, "fine_discount", points=25)
    assert r["ils"]["status"] == "confirmed"
    assert svc.ils.link().resends == 2
    assert len(ils.payments()) == 1


@pytest.mark.parametrize("fault", ["garbage", "oversized", "half_close"])
def test_bad_reply_to_the_fines_check_is_a_clear_error_and_nothing_taken(svc, ils, fault):
    m = member(svc, points=300)
    svc.ils.patron(m.id)
    ils.fault(f"{fault}:64")
    t0 = time.monotonic()
    with pytest.raises(IlsUnavailable, match="library system not reachable") as err:
        svc.points.redeem(m.id, "fine_discount", points=25)
    assert time.monotonic() - t0 < 2.5  # never a hang (reply timeout 2 s)
    assert {"garbage": "not a SIP2 reply", "oversized": "longer than", "half_close": "closed the connection"}[
        fault
    ] in str(err.value)
    assert svc.ledger.balance(m.id) == 300
    assert IlsPayment.select().count() == 0 and ils.payments() == []
    # and the link recovers: the next request logs in again
    assert svc.ils.patron(m.id)["fines_baht"] == 35.0


@pytest.mark.parametrize("fault", ["garbage", "oversized", "half_close", "silent"])
def test_bad_reply_to_fee_paid_leaves_it_pending_then_settled_once(svc, ils, fault):
    m = member(svc, points=300)
    ils.fault(f"{fault}:38")
    d = svc.points.redeem(m.id, "fine_discount", points=25)
    assert d["ils"]["status"] == "pending"
    bk = d["ils"]["transaction"]
    assert len(ils.payments(bk)) == 1  # the ILS did take it; privcard cannot know yet
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed" and done["transaction"] == bk
    assert len(ils.payments(bk)) == 1
    assert svc.ledger.balance(m.id) == 275


def outcomes(svc) -> list[str]:
    """The outcomes of the ILS payments' audit rows, oldest first."""
    return [
        (a.detail or {}).get("outcome") for a in Audit.select().where(Audit.action == "ils.fee_paid").order_by(Audit.id)
    ]


def koha_like(ils):
    """The test ILS as Koha's SIP server behaves: every 37 pays, its BK only echoed back."""
    ils.update(dedupe_bk=False)


def test_a_lost_answer_whose_payment_was_made_is_confirmed_by_the_fines_not_sent_again(svc, ils):
    """An ILS that does not dedupe on BK (Koha) would take a resent 37 twice: before sending it
    again, privcard asks for the fines; down by the payment, it was made."""
    koha_like(ils)
    m = member(svc, points=300)
    ils.fault("silent:38")  # the ILS pays, its answer is lost
    d = svc.points.redeem(m.id, "fine_discount", points=25)  # 5 baht
    assert d["ils"]["status"] == "pending"
    bk = d["ils"]["transaction"]
    assert IlsPayment.get(IlsPayment.transaction == bk).fines_before == 35.0
    assert ils.fines("P100") == 30.0
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed" and "35.00" in done["message"] and "30.00" in done["message"]
    assert ils.state()["fee_paid_log"].count(bk) == 1  # not sent again
    assert len(ils.payments(bk)) == 1 and ils.fines("P100") == 30.0
    assert svc.ledger.balance(m.id) == 275 and svc.ils.pending() == []
    assert outcomes(svc).count("fines_show_paid") == 1
    assert ledger_problems([m.id]) == []


def test_a_lost_answer_is_checked_only_after_recheck_after_s(tmp_db_url, ils):
    """An ILS may still be working on a 37 when privcard stops waiting: its fines are not asked
    (and nothing is sent) until recheck_after_s after the 37 went."""
    koha_like(ils)
    svc = services(tmp_db_url, ils, recheck_after_s=3)
    try:
        m = member(svc, points=300)
        ils.fault("silent:38")
        t0 = time.monotonic()
        d = svc.points.redeem(m.id, "fine_discount", points=25)
        bk = d["ils"]["transaction"]
        [early] = svc.ils.settle()
        assert early["status"] == "pending" and "no answer yet" in early["message"] and "ยังไม่ตอบ" in early["message"]
        assert outcomes(svc).count("fines_show_paid") == 0 and ils.state()["fee_paid_log"].count(bk) == 1
        time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
        [done] = svc.ils.settle()
        assert done["status"] == "confirmed" and outcomes(svc).count("fines_show_paid") == 1
        assert ils.state()["fee_paid_log"].count(bk) == 1 and ils.fines("P100") == 30.0
    finally:
        svc.ils.close()
        close_store()


def test_a_lost_37_that_never_paid_is_sent_again_once(svc, ils):
    koha_like(ils)
    m = member(svc, points=300)
    ils.fault("die_on_37")  # gone before recording anything
    d = svc.points.redeem(m.id, "fine_discount", points=25)
    assert d["ils"]["status"] == "pending"
    ils.wait_exit(10)
    ils.restart()
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed"
    assert len(ils.payments(d["ils"]["transaction"])) == 1 and ils.fines("P100") == 30.0
    assert svc.ledger.balance(m.id) == 275


@pytest.mark.parametrize("paid", [True, False])
def test_fines_changed_otherwise_keep_the_payment_pending_for_staff_to_resolve(svc, ils, paid):
    """A fine added (or paid at the desk) meanwhile: the fines cannot tell whether the lost 37 paid,
    so nothing is sent; staff look in the ILS and resolve it — paid, or not (the points come back once)."""
    koha_like(ils)
    m = member(svc, points=300)
    ils.fault("silent:38")
    d = svc.points.redeem(m.id, "fine_discount", points=25)
    bk = d["ils"]["transaction"]
    ils.update(lambda st: st["patrons"]["P100"].update(fines=42.5))  # a new fine on top
    for _ in range(2):  # every retry round asks again, sends nothing, audits once
        [still] = svc.ils.settle()
        assert still["status"] == "pending" and "42.50" in still["message"] and f"ils resolve {bk}" in still["message"]
        assert "ค่าปรับ" in still["message"]
    assert ils.state()["fee_paid_log"].count(bk) == 1
    assert outcomes(svc).count("unsure") == 1
    [pend] = svc.ils.pending()
    assert pend["transaction"] == bk and "42.50" in pend["last_error"]
    # a retry sending it right now (its lease): staff must wait, nothing changes
    IlsPayment.update(next_try_at=datetime.now(UTC) + timedelta(minutes=1)).where(
        IlsPayment.transaction == bk
    ).execute()
    with pytest.raises(ServiceError, match="being sent"):
        svc.ils.resolve(bk, paid, actor="staff:somsri")
    assert svc.ledger.balance(m.id) == 275 and svc.ils.pending()[0]["transaction"] == bk
    IlsPayment.update(next_try_at=None).where(IlsPayment.transaction == bk).execute()
    out = svc.ils.resolve(bk, paid, actor="staff:somsri")
    assert out["status"] == ("confirmed" if paid else "refused")
    assert svc.ils.pending() == [] and ils.state()["fee_paid_log"].count(bk) == 1
    assert svc.ledger.balance(m.id) == (275 if paid else 300)
    with pytest.raises(ServiceError, match="already"):
        svc.ils.resolve(bk, not paid, actor="staff:somsri")
    assert svc.ledger.balance(m.id) == (275 if paid else 300)
    assert Audit.select().where(Audit.action == "ils.fee_paid", Audit.actor == "staff:somsri").count() == 1
    with pytest.raises(ServiceError, match="no ILS payment"):
        svc.ils.resolve("PC-0-nothing", True, actor="staff:somsri")
    assert ledger_problems([m.id]) == []


def test_another_payment_of_the_patron_meanwhile_keeps_a_lost_one_for_staff(svc, ils):
    """Two 5-baht payments: the first never reached the ILS, the second was confirmed — the fines are
    down by exactly the first's amount, yet it was not made. Its arithmetic cannot tell: staff decide."""
    koha_like(ils)
    m = member(svc, points=300)
    ils.fault("die_on_37")  # gone before recording the first
    first = svc.points.redeem(m.id, "fine_discount", points=25)["ils"]
    assert first["status"] == "pending"
    ils.wait_exit(10)
    ils.restart()
    second = svc.points.redeem(m.id, "fine_discount", points=25)["ils"]
    assert second["status"] == "confirmed" and ils.fines("P100") == 30.0
    [still] = svc.ils.settle()
    assert still["transaction"] == first["transaction"] and still["status"] == "pending", still
    assert second["transaction"] in still["message"] and "ils resolve" in still["message"]
    assert ils.payments(first["transaction"]) == [] and ils.fines("P100") == 30.0  # not confirmed, not sent
    assert svc.ledger.balance(m.id) == 250  # both held until staff decide
    svc.ils.resolve(first["transaction"], False, actor="staff:somsri")
    assert svc.ledger.balance(m.id) == 275 and svc.ils.pending() == []
    assert ledger_problems([m.id]) == []


def test_a_payment_held_before_fines_were_kept_is_sent_again_as_before(svc, ils):
    m = member(svc, points=300)
    ils.fault("silent:38")
    d = svc.points.redeem(m.id, "fine_discount", points=25)
    bk = d["ils"]["transaction"]
    IlsPayment.update(fines_before=None).where(IlsPayment.transaction == bk).execute()
    [done] = svc.ils.settle()
    assert done["status"] == "confirmed"
    assert ils.state()["fee_paid_log"].count(bk) == 2 and len(ils.payments(bk)) == 1  # deduped by this ILS


def test_ils_down_refuses_the_redemption_and_nothing_is_taken(svc, ils):
    m = member(svc, points=300)
    ils.kill()
    with pytest.raises(IlsUnavailable):
        svc.points.redeem(m.id, "fine_discount", points=25)
    with pytest.raises(IlsUnavailable):
        svc.ils.patron(m.id)
    assert svc.ledger.balance(m.id) == 300 and IlsPayment.select().count() == 0
    # other rewards and members without a patron id are not the ILS's business
    assert svc.points.redeem(m.id, "locker_day")["balance"] == 275
    other = member(svc, patron_id=None)
    assert "ils" not in svc.points.redeem(other.id, "fine_discount", points=25)


def test_kiosk_part_of_the_answer_never_waits_past_the_budget(svc, ils):
    m = member(svc)
    assert svc.ils.kiosk("P100") == {"state": "ok", "fines_baht": 35.0, "points_to_clear": 175}
    assert svc.ils.kiosk(None) is None
    ils.update(delay_ms=1000)
    t0 = time.monotonic()
    assert svc.ils.kiosk("P100") == {"state": "unreachable"}
    took = time.monotonic() - t0
    assert took < 0.15 + 0.1, took
    # within the back-off the ILS is not asked at all
    t0 = time.monotonic()
    assert svc.ils.kiosk("P100") == {"state": "unreachable"}
    assert time.monotonic() - t0 < 0.02
    assert m.patron_id == "P100"


def test_patron_id_is_unique_and_checked(svc):
    a = svc.members.add("A", new_uid(), patron_id="X1")
    with pytest.raises(ServiceError, match="already belongs"):
        svc.members.add("B", new_uid(), patron_id="X1")
    b = svc.members.add("B", new_uid())
    with pytest.raises(ServiceError, match="already belongs"):
        svc.members.set(b.id, patron_id="X1")
    with pytest.raises(ServiceError, match="patron_id must be"):
        svc.members.set(b.id, patron_id="bad|id")
    assert svc.members.set(b.id, patron_id="00123").patron_id == "00123"
    assert svc.members.set(a.id, patron_id="").patron_id is None


def test_export_privileges(svc, ils, tmp_db_url):
    s = services(tmp_db_url, ils, categories={"silver": "PC-S", "gold": "PC-G", "default": "PC"})
    gold = s.members.add("G", new_uid(), patron_id="G1", tier="gold")
    member(s, patron_id="S1", points=500)
    s.members.add("N", new_uid())  # no patron id: not exported
    rows = s.ils.export_privileges()
    assert [r["patron_id"] for r in rows] == ["G1", "S1"]
    assert rows[0]["category"] == "PC-G" and rows[1]["category"] == "PC-S"
    assert rows[1]["locker_days"] == 7 and rows[1]["study_room_hours"] == 4
    assert rows[0]["member"] == gold.id
    assert s.ils.export_privileges("2999-01-01") == []
    s.ils.close()


def test_a_payment_reversed_in_the_ils_by_hand_gives_its_points_back_once(svc, ils):
    """Staff reversed a confirmed fine payment in the library system (the fine is owed again).

    Before: nothing in privcard gave the points back (a void is refused: the ILS keeps a
    confirmed payment), so staff typed a staff award of the same points, unlinked to the payment.
    """
    m = member(svc, points=300)
    d = svc.points.redeem(m.id, "fine_discount", points=100)
    bk = d["ils"]["transaction"]
    assert d["ils"]["status"] == "confirmed" and svc.ledger.balance(m.id) == 200

    # bad input changes nothing: no reason, a reason too long, an unknown BK
    for reason, bad in (("  ", "say why"), ("x" * 301, "too long")):
        with pytest.raises(ServiceError, match=bad):
            svc.ils.reverse(bk, reason, actor="staff:a")
    with pytest.raises(ServiceError, match="no ILS payment"):
        svc.ils.reverse("PC-0-nope", "typo", actor="staff:a")
    assert svc.ledger.balance(m.id) == 200 and IlsPayment.get(IlsPayment.transaction == bk).status == "confirmed"

    out = svc.ils.reverse(bk, "fine waived at the desk, payment reversed in Koha", actor="staff:a")
    assert (out["status"], out["points"], out["member"]) == ("reversed", 100, m.id)
    assert svc.ledger.balance(m.id) == 300
    p = IlsPayment.get(IlsPayment.transaction == bk)
    assert p.status == "reversed" and p.refund_id == out["refund"]
    refund = LedgerEntry.get_by_id(p.refund_id)
    assert refund.void_of_id == d["entry"] and refund.points == 100 and "reversed" in refund.note
    a = Audit.select().where(Audit.action == "ils.fee_paid").order_by(Audit.id.desc()).first()
    assert a.actor == "staff:a" and a.detail["outcome"] == "reversed" and a.detail["restored"] == 100
    assert a.detail["reason"].startswith("fine waived") and a.detail["transaction"] == bk
    assert ils.payments(bk)  # privcard sent nothing: the ILS's own record is the staff's to change

    # once: again, or a void of the redemption, changes nothing
    with pytest.raises(ServiceError, match="already reversed"):
        svc.ils.reverse(bk, "again", actor="staff:b")
    with pytest.raises(ServiceError, match="already voided"):
        svc.points.void(d["entry"], "again", actor="staff:b")
    assert svc.ledger.balance(m.id) == 300
    assert ledger_problems([m.id]) == []


def test_only_a_confirmed_payment_can_be_reversed(svc, ils):
    m = member(svc, points=300)
    ils.update(refuse_fee_paid="Payments closed")
    refused = svc.points.redeem(m.id, "fine_discount", points=50)["ils"]["transaction"]
    with pytest.raises(ServiceError, match="already refused"):
        svc.ils.reverse(refused, "mistake", actor="t")
    ils.update(refuse_fee_paid="")
    ils.fault("die_after_37")
    pending = svc.points.redeem(m.id, "fine_discount", points=25)
    assert pending["ils"]["status"] == "pending"
    ils.wait_exit(10)
    with pytest.raises(ServiceError, match="no answer yet"):
        svc.ils.reverse(pending["ils"]["transaction"], "mistake", actor="t")
    assert svc.ledger.balance(m.id) == 275
    assert LedgerEntry.select().where(LedgerEntry.source == "void").count() == 1  # the refused one's refund
    assert ledger_problems([m.id]) == []
