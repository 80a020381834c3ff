"""The library system (ILS) link as the service layer sees it: patrons, fine discounts paid in the ILS.

What :class:`Ils` owns:

- ``patron(ref)``: the member's standing in the ILS (63 Patron Information), audited;
- the fine discount paid in the ILS (called by :meth:`server.services.points.Points.redeem`):
  :meth:`Ils.check_fines` before anything is taken, :meth:`Ils.hold` in the redemption's
  own transaction (the ledger debit *holds* the points and an :class:`~server.store.IlsPayment`
  row says *pending*, with its ``BK``), then :meth:`Ils.pay` sends 37 Fee Paid:
  38 accepted → *confirmed*; 38 refused → *refused*, and the held points come back (a void
  entry of the redemption); no answer → stays *pending* and :meth:`settle` settles it later
  (the server's background thread, ``privcard admin ils settle``): by the fines, or the same
  ``BK`` again, or staff (:meth:`resolve`); a confirmed payment staff reversed in the ILS by
  hand gives its points back with :meth:`reverse` (*reversed*);
- ``pending()``, ``settle()``, ``export_privileges()``;
- the kiosk's ``ils`` part of a member answer (:meth:`kiosk`), which never waits longer
  than ``kiosk_budget_ms`` (its own connection and a deadline on the whole exchange).

A payment is claimed before it is sent (``next_try_at``, a lease in one conditional
UPDATE), so the background retry, ``ils settle`` and a second server never send the
same pending payment at the same moment; every send of it carries the same ``BK``; and a
37 whose answer was lost is sent again only when the patron's fines show it was not made
(:meth:`Ils._lost_answer`: an ILS need not dedupe on ``BK``; Koha does not).

Every exchange with the ILS is audited (``ils.patron``, ``ils.fee_paid``: message type,
patron id, amount, ``BK``, outcome) — never the SIP login password, never a PIN. The
kiosk's look-ups are logged (``privcard.ils``), not audited: an audit row per kiosk tap
would be a database write on the worker's thread for a read.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime

from server.domain import rules
from server.ils import IlsConfig, IlsError, IlsLink, PatronInfo, open_link
from server.ils.base import IlsNotSent
from server.services import members
from server.services.errors import ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit, unit_of_work
from server.store import IlsPayment, LedgerEntry, Member

log = logging.getLogger("privcard.ils")

#: after the kiosk found the ILS unreachable, kiosk answers skip it this long
KIOSK_BACKOFF_S = 5.0
#: a reversal's reason, as long as a void's (the console's form takes as much)
REASON_MAX = 300


def _both(en: str, th: str) -> str:
    """A payment's stored note for staff, in English and Thai (it is kept as text, not as a template)."""
    return f"{en} / {th}"


class IlsUnavailable(ServiceError):
    """The library system did not answer (down, too slow, refused the login, spoke garbage)."""

    def __init__(self, detail: str = ""):
        super().__init__("library system not reachable: %(detail)s", detail=detail or "no answer")


class IlsNotConfigured(ServiceError):
    """No ``[ils]`` url, ``--ils`` or ``PRIVCARD_ILS``."""

    def __init__(self):
        super().__init__("no library system is configured ([ils] url in the config, --ils or PRIVCARD_ILS)")


def transaction_id(entry: LedgerEntry) -> str:
    """The ``BK`` of a redemption: ``PC-<entry id>-<6 hex>`` (unique and stable for the entry)."""
    seed = f"{entry.id}:{entry.member_id}:{entry.points}:{entry.created_at.isoformat()}"
    return f"PC-{entry.id}-{hashlib.sha256(seed.encode()).hexdigest()[:6]}"


class Ils:
    """The ILS link for the service layer (``svc.ils``)."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, config: IlsConfig | None = None, link: IlsLink | None = None):
        self.ledger = ledger
        self.clock = ledger.clock
        self.config = config
        self._link = link
        self._kiosk_link: IlsLink | None = None
        self._kiosk_down_until = 0.0
        self._opening = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether a library system is linked."""
        return self.config is not None

    # -- links ---------------------------------------------------------------------------

    def link(self) -> IlsLink:
        if self.config is None:
            raise IlsNotConfigured()
        with self._opening:  # the worker, the settle thread and the console share one link
            if self._link is None:
                self._link = open_link(self.config)
        return self._link

    def close(self) -> None:
        for link in (self._link, self._kiosk_link):
            if link is not None:
                link.close()

    def _audit(self, actor: str, action: str, member_id, **detail) -> None:
        try:
            with unit_of_work():
                self.ledger.audit(actor, action, member_id, **detail)
        except Exception:  # the audit must not turn an answer into an error
            log.exception("could not audit %s for member %s", action, member_id)

    # -- patrons -------------------------------------------------------------------------

    def _member_patron(self, ref) -> tuple[Member, str]:
        with read_unit():
            m = members.find(ref)
        if not m.patron_id:
            raise ServiceError("member %(id)s has no patron_id (member set %(id)s patron_id=...)", id=m.id)
        return m, m.patron_id

    def _patron_info(self, m: Member, patron_id: str, actor: str) -> PatronInfo:
        link = self.link()
        try:
            info = link.patron_status(patron_id)
        except IlsError as exc:
            self._audit(actor, "ils.patron", m.id, message="63", patron=patron_id, outcome="error", error=str(exc))
            raise IlsUnavailable(str(exc)) from None
        self._audit(
            actor,
            "ils.patron",
            m.id,
            message="63",
            patron=patron_id,
            outcome="ok" if info.valid else "invalid",
            fines_baht=info.fines_baht,
        )
        return info

    def patron(self, ref, actor: str = "system") -> dict:
        """The member's standing in the ILS: ``{"patron_id","valid","fines_baht","charged",
        "overdue","blocked","flags","message"}``; :class:`IlsUnavailable` when it does not answer."""
        m, patron_id = self._member_patron(ref)
        info = self._patron_info(m, patron_id, actor)
        return {
            "patron_id": patron_id,
            "valid": info.valid,
            "fines_baht": info.fines_baht,
            "charged": info.charged,
            "overdue": info.overdue,
            "blocked": info.blocked,
            "flags": list(info.flags),
            "message": info.message,
        }

    def check_pin(self, m: Member, pin: str, actor: str) -> bool:
        """Whether the ILS accepts ``pin`` as ``m``'s patron password (63 with AD, its CQ).

        True only when the ILS says the patron is valid *and* answers CQ = ``Y``; an ILS
        that does not answer CQ at all does not sign anyone in. Audited as ``ils.pin_check``
        with the outcome, never the PIN. :class:`IlsUnavailable` when the ILS does not answer.
        """
        link = self.link()
        try:
            info = link.patron_status(m.patron_id, pin)
        except IlsError as exc:
            self._audit(actor, "ils.pin_check", m.id, message="63", patron=m.patron_id, outcome="error", error=str(exc))
            raise IlsUnavailable(str(exc)) from None
        ok = bool(info.valid and info.password_ok is True)
        outcome = "ok" if ok else ("no_answer" if info.password_ok is None else "refused")
        self._audit(actor, "ils.pin_check", m.id, message="63", patron=m.patron_id, outcome=outcome)
        return ok

    # -- the kiosk -----------------------------------------------------------------------

    def points_to_clear(self, fines_baht: float) -> int:
        """Points that would pay ``fines_baht`` as fine discount (the reward's price per step)."""
        r = self.prog.rewards.get("fine_discount")
        step_points = (r.step_points if r and r.step_points else None) or self.prog.fine_step_points
        step_baht = (r.step_baht if r and r.step_baht else None) or self.prog.fine_step_baht
        if fines_baht <= 0:
            return 0
        return math.ceil(round(fines_baht / step_baht, 6)) * step_points

    def kiosk(self, patron_id: str | None) -> dict | None:
        """The kiosk answer's ``ils`` part (None: no ILS or no patron id); never waits past the budget."""
        if self.config is None or not patron_id:
            return None
        if time.monotonic() < self._kiosk_down_until:
            return {"state": "unreachable"}
        if self._kiosk_link is None:
            self._kiosk_link = open_link(self.config)
        started = time.monotonic()
        try:
            info = self._kiosk_link.patron_status(patron_id, timeout=self.config.kiosk_budget_ms / 1000)
        except IlsError as exc:
            self._kiosk_down_until = time.monotonic() + KIOSK_BACKOFF_S
            log.warning("kiosk: ILS look-up of patron %s failed: %s", patron_id, exc)
            return {"state": "unreachable"}
        log.info(
            "kiosk: ILS 63 patron %s fines %.2f (%.0f ms)",
            patron_id,
            info.fines_baht,
            (time.monotonic() - started) * 1000,
        )
        return {"state": "ok", "fines_baht": info.fines_baht, "points_to_clear": self.points_to_clear(info.fines_baht)}

    # -- the fine discount ---------------------------------------------------------------

    def applies(self, m: Member) -> bool:
        """Whether this member's fine discount is paid in the ILS."""
        return self.config is not None and bool(m.patron_id)

    def check_fines(self, m: Member, baht: int, actor: str) -> PatronInfo:
        """Before anything is taken: the ILS must answer and owe at least ``baht``."""
        info = self._patron_info(m, m.patron_id, actor)
        if not info.valid:
            raise ServiceError("the library system does not know patron %(patron)s", patron=m.patron_id)
        if baht > info.fines_baht + 1e-9:
            raise ServiceError(
                "a fine discount of %(baht)s baht is more than the fines the library system reports (%(fines)s baht)",
                baht=baht,
                fines=f"{info.fines_baht:.2f}",
            )
        return info

    def hold(
        self, m: Member, entry: LedgerEntry, baht: int, points: int, fines: tuple[float, datetime] | None = None
    ) -> IlsPayment:
        """In the redemption's transaction: the pending payment (claimed by this process to send now).

        ``fines``: what the ILS reported owed just before (:meth:`check_fines`), and when it was
        asked; a 37 whose answer is lost is checked against them before it is sent again
        (:meth:`_lost_answer`).
        """
        now = self.clock()
        return IlsPayment.create(
            entry=entry.id,
            member=m.id,
            patron_id=m.patron_id,
            baht=baht,
            points=points,
            transaction=transaction_id(entry),
            status="pending",
            attempts=0,
            created_at=now,
            next_try_at=now + timedelta(seconds=self._lease_s()),
            fines_before=fines[0] if fines else None,
            fines_at=fines[1] if fines else None,
        )

    def _lease_s(self) -> float:
        c = self.config
        return (c.connect_timeout_s + 2 * c.reply_timeout_s + 5) if c else 30

    def _claim(self, payment_id: int) -> bool:
        """Take a pending payment to send it now (nobody else sends it before the lease ends)."""
        now = self.clock()
        with unit_of_work():
            n = (
                IlsPayment.update(next_try_at=now + timedelta(seconds=self._lease_s()))
                .where(
                    (IlsPayment.id == payment_id)
                    & (IlsPayment.status == "pending")
                    & (IlsPayment.next_try_at.is_null() | (IlsPayment.next_try_at <= now))
                )
                .execute()
            )
        return n == 1

    def pay(self, payment_id: int, actor: str = "system") -> dict:
        """Send 37 for a claimed pending payment and record the answer; ``{"status","transaction","message"}``."""
        p = IlsPayment.get_by_id(payment_id)
        first = p.attempts == 0
        if not first and p.fines_before is not None:
            settled = self._lost_answer(p, actor)
            if settled is not None:
                return settled
        with unit_of_work():
            IlsPayment.update(attempts=IlsPayment.attempts + 1, sent_at=self.clock()).where(
                IlsPayment.id == p.id
            ).execute()
        detail = {"message": "37", "patron": p.patron_id, "baht": p.baht, "transaction": p.transaction}
        try:
            result = self.link().fee_paid(p.patron_id, p.baht, p.transaction)
        except IlsNotSent as exc:
            if first:  # nothing with this BK ever reached the ILS: not paid, the points come back
                return self._refuse(p, f"library system not reachable: {exc}", actor, detail, outcome="not_sent")
            return self._still_pending(p, exc, actor, detail)
        except IlsError as exc:
            return self._still_pending(p, exc, actor, detail)
        if result.accepted:
            now = self.clock()
            with unit_of_work():
                n = (
                    IlsPayment.update(status="confirmed", settled_at=now, message=result.message, last_error=None)
                    .where((IlsPayment.id == p.id) & (IlsPayment.status == "pending"))
                    .execute()
                )
                self.ledger.audit(
                    actor, "ils.fee_paid", p.member_id, outcome="confirmed", ils_message=result.message, **detail
                )
            if n != 1:
                log.error("payment %s confirmed by the ILS but no longer pending here", p.transaction)
            return {"status": "confirmed", "transaction": p.transaction, "message": result.message}
        return self._refuse(p, result.message or "refused by the library system", actor, detail, outcome="refused")

    def _lost_answer(self, p: IlsPayment, actor: str) -> dict | None:
        """Before a 37 is sent again: did the one whose answer was lost reach the ILS? None: send it.

        SIP2 has no way to ask about a payment, and an ILS need not dedupe on ``BK`` (Koha's
        ``handle_fee_paid`` records every 37 it gets: a resent one would pay the fines twice, or
        be refused as more than is owed and the points given back for a payment that was made).
        So, no sooner than ``recheck_after_s`` after the 37 went (an ILS still working on it
        when privcard stopped waiting has finished by then), the ILS's fines (63) are compared
        with those it reported when the points were held:
        down by the payment — it was made: *confirmed*, nothing sent; unchanged — it was not:
        sent again; anything else (a fine added or paid at the desk meanwhile, or another of the
        patron's payments held or settled since: :meth:`_overlapping`) cannot tell, so
        the payment stays *pending*, is not sent, and says why: staff check the patron's account
        in the ILS and settle it with :meth:`resolve` (``privcard admin ils resolve BK --paid|--not-paid``).
        """
        wait = self.config.recheck_after_s
        ago = (self.clock() - p.sent_at).total_seconds() if p.sent_at is not None else wait
        if ago < wait:  # the ILS may still be working on it: its fines would not show it yet
            with unit_of_work():  # the lease ends now: the next round looks again
                IlsPayment.update(next_try_at=self.clock()).where(
                    (IlsPayment.id == p.id) & (IlsPayment.status == "pending")
                ).execute()
            return {
                "status": "pending",
                "transaction": p.transaction,
                "message": _both(
                    f"no answer yet to the 37 sent {ago:.0f} s ago: checked {wait:.0f} s after it went",
                    f"ระบบห้องสมุดยังไม่ตอบรายการที่ส่งไปเมื่อ {ago:.0f} วินาทีก่อน: จะตรวจสอบเมื่อครบ {wait:.0f} วินาที",
                ),
            }
        detail = {"message": "63", "patron": p.patron_id, "baht": p.baht, "transaction": p.transaction}
        try:
            info = self.link().patron_status(p.patron_id)
        except IlsError as exc:
            return self._still_pending(p, exc, actor, detail)
        before, now = p.fines_before, info.fines_baht
        others = self._overlapping(p)
        if info.valid and not others and abs(now - (before - p.baht)) < 0.005:
            message = _both(
                f"the library system's fines went from {before:.2f} to {now:.2f} baht: the payment was made "
                "(its answer was lost); not sent again",
                f"ค่าปรับในระบบห้องสมุดลดจาก {before:.2f} เป็น {now:.2f} บาท: ชำระแล้ว (คำตอบครั้งก่อนหายไป) จึงไม่ส่งซ้ำ",
            )
            return self._confirm(
                p, message, actor, {**detail, "fines_before": before, "fines_now": now}, "fines_show_paid"
            )
        if info.valid and not others and abs(now - before) < 0.005:
            return None  # not made: the same 37 again
        then = f"privcard admin ils resolve {p.transaction} --paid (--not-paid)"
        error = (
            _both(
                f"another fine payment of patron {p.patron_id} ({', '.join(others)}) was held or settled since "
                f"this one: the fines ({before:.2f} then, {now:.2f} now) cannot tell whether it was made. Check the "
                f"patron's account in the library system, then: {then}",
                f"มีการชำระค่าปรับอื่นของผู้ใช้ {p.patron_id} ({', '.join(others)}) หลังรายการนี้: ยอดค่าปรับ "
                f"({before:.2f} ก่อน, {now:.2f} ตอนนี้) บอกไม่ได้ว่าชำระแล้วหรือไม่ ตรวจสอบบัญชีของผู้ใช้ในระบบห้องสมุด "
                f"แล้วสั่ง: {then}",
            )
            if info.valid and others
            else _both(
                f"the library system's fines went from {before:.2f} to {now:.2f} baht since the points were held "
                f"({p.baht} baht to pay): they cannot tell whether the payment was made. Check the patron's "
                f"account in the library system, then: {then}",
                f"ค่าปรับในระบบห้องสมุดเปลี่ยนจาก {before:.2f} เป็น {now:.2f} บาท หลังกันแต้มไว้ (ต้องชำระ {p.baht} บาท): "
                f"บอกไม่ได้ว่าชำระแล้วหรือไม่ ตรวจสอบบัญชีของผู้ใช้ในระบบห้องสมุด แล้วสั่ง: {then}",
            )
            if info.valid
            else _both(
                f"the library system does not know patron {p.patron_id} any more: check the payment there, then: {then}",
                f"ระบบห้องสมุดไม่รู้จักผู้ใช้ {p.patron_id} แล้ว: ตรวจสอบการชำระในระบบห้องสมุด แล้วสั่ง: {then}",
            )
        )
        with unit_of_work():
            said_before = p.last_error == error
            IlsPayment.update(last_error=error, next_try_at=self.clock()).where(
                (IlsPayment.id == p.id) & (IlsPayment.status == "pending")
            ).execute()
            if not said_before:  # each retry round asks again; the audit says it once
                self.ledger.audit(
                    actor, "ils.fee_paid", p.member_id, outcome="unsure", fines_before=before, fines_now=now, **detail
                )
        if not said_before:
            log.warning("ILS payment %s not sent again: %s", p.transaction, error)
        return {"status": "pending", "transaction": p.transaction, "message": error}

    def _overlapping(self, p: IlsPayment) -> list[str]:
        """The BKs of this patron's other payments that may have moved the fines since ``p``'s were read.

        Each one pending, or confirmed after ``p``'s fines were asked for, may have moved them too, so
        ``p``'s arithmetic cannot tell: two 5-baht payments, ``p`` never made and the other
        confirmed, bring the fines down by exactly ``p``'s amount. A refused one paid nothing.
        """
        since = p.fines_at or p.created_at  # one settled before the fines were asked for is in them
        with read_unit():
            rows = IlsPayment.select(IlsPayment.transaction).where(
                (IlsPayment.patron_id == p.patron_id)
                & (IlsPayment.id != p.id)
                & (IlsPayment.status != "refused")
                & (IlsPayment.settled_at.is_null() | (IlsPayment.settled_at >= since))
            )
            return [r.transaction for r in rows.order_by(IlsPayment.id)]

    def _confirm(self, p: IlsPayment, message: str, actor: str, detail: dict, outcome: str) -> dict:
        now = self.clock()
        with unit_of_work():
            n = (
                IlsPayment.update(status="confirmed", settled_at=now, message=message[:500], last_error=None)
                .where((IlsPayment.id == p.id) & (IlsPayment.status == "pending"))
                .execute()
            )
            if n == 1:
                self.ledger.audit(
                    actor, "ils.fee_paid", p.member_id, outcome=outcome, ils_message=message[:200], **detail
                )
        if n != 1:
            log.error("payment %s confirmed but no longer pending here", p.transaction)
        return {"status": "confirmed", "transaction": p.transaction, "message": message}

    def resolve(self, transaction: str, paid: bool, actor: str) -> dict:
        """Staff settle a pending payment by what the ILS's own records show: paid (*confirmed*),
        or not paid (*refused*: the held points come back, once)."""
        with read_unit():
            p = IlsPayment.get_or_none(IlsPayment.transaction == transaction)
        if p is None:
            raise ServiceError("no ILS payment %(transaction)s", transaction=transaction)
        if p.status != "pending":
            raise ServiceError(
                "ILS payment %(transaction)s is already %(status)s", transaction=transaction, status=p.status
            )
        if not self._claim(p.id):  # a retry is sending it right now: its answer must not cross this
            raise ServiceError(
                "ILS payment %(transaction)s is being sent to the library system right now; try again in a minute",
                transaction=transaction,
            )
        detail = {"message": "staff", "patron": p.patron_id, "baht": p.baht, "transaction": p.transaction}
        if paid:
            said = _both(
                f"paid, by {actor} from the library system's records", f"ชำระแล้ว ตามบันทึกของระบบห้องสมุด ({actor})"
            )
            out = self._confirm(p, said, actor, detail, "resolved_paid")
        else:
            said = _both(
                f"not paid, by {actor} from the library system's records", f"ไม่ได้ชำระ ตามบันทึกของระบบห้องสมุด ({actor})"
            )
            out = self._refuse(p, said, actor, detail, outcome="resolved_unpaid")
        with read_unit():
            status = IlsPayment.get_by_id(p.id).status
        if status != out["status"]:  # settled meanwhile by the retry round or another process
            raise ServiceError(
                "ILS payment %(transaction)s is already %(status)s", transaction=transaction, status=status
            )
        return out

    def reverse(self, transaction: str, reason: str, actor: str) -> dict:
        """Staff say a *confirmed* payment was reversed in the library system by hand (the fine is
        owed there again): the points it took come back, once, and the payment is *reversed*.

        SIP2 has no refund, so privcard never reverses a payment itself: this records what staff
        did in the ILS. The give-back is a ``void`` entry of the redemption; the status change and
        it are one conditional update, so two staff (or two replicas) give the points back once.
        """
        reason = (reason or "").strip() if isinstance(reason, str) else ""
        if not reason:
            raise ServiceError("say why the payment was reversed: the reason is kept in the ledger and the audit log")
        if len(reason) > REASON_MAX:
            raise ServiceError("the reason is too long (at most %(n)s characters)", n=REASON_MAX)
        with read_unit():
            p = IlsPayment.get_or_none(IlsPayment.transaction == transaction)
        if p is None:
            raise ServiceError("no ILS payment %(transaction)s", transaction=transaction)
        if p.status == "pending":
            raise ServiceError(
                "ILS payment %(transaction)s has no answer yet: settle it by the library system's records "
                "(ils resolve) before it can be reversed",
                transaction=transaction,
            )
        if p.status != "confirmed":
            raise ServiceError(
                "ILS payment %(transaction)s is already %(status)s", transaction=transaction, status=p.status
            )
        said = _both(
            f"reversed in the library system, by {actor}: {reason}",
            f"ยกเลิกการชำระในระบบห้องสมุดแล้ว ({actor}): {reason}",
        )
        with unit_of_work():
            n = (
                IlsPayment.update(status="reversed", message=said[:500])
                .where((IlsPayment.id == p.id) & (IlsPayment.status == "confirmed"))
                .execute()
            )
            if n == 1:
                orig = LedgerEntry.get_by_id(p.entry_id)
                restored = -orig.points
                refund = self.ledger.give_back(
                    orig, f"fine payment {p.transaction} reversed in the library system: {reason}", actor
                )
                IlsPayment.update(refund=refund.id).where(IlsPayment.id == p.id).execute()
                self.ledger.audit(
                    actor,
                    "ils.fee_paid",
                    p.member_id,
                    outcome="reversed",
                    reason=reason,
                    restored=restored,
                    patron=p.patron_id,
                    baht=p.baht,
                    transaction=p.transaction,
                )
        if n != 1:  # reversed (or otherwise settled) meanwhile by another member of staff
            with read_unit():
                status = IlsPayment.get_by_id(p.id).status
            raise ServiceError(
                "ILS payment %(transaction)s is already %(status)s", transaction=transaction, status=status
            )
        return {
            "status": "reversed",
            "transaction": p.transaction,
            "member": p.member_id,
            "points": restored,
            "refund": refund.id,
            "message": said,
        }

    def _still_pending(self, p: IlsPayment, exc: Exception, actor: str, detail: dict) -> dict:
        with unit_of_work():
            # eligible again at the next retry round (the lease ends now)
            IlsPayment.update(last_error=str(exc)[:500], next_try_at=self.clock()).where(
                (IlsPayment.id == p.id) & (IlsPayment.status == "pending")
            ).execute()
            self.ledger.audit(actor, "ils.fee_paid", p.member_id, outcome="no_reply", error=str(exc)[:200], **detail)
        log.warning("ILS payment %s stays pending: %s", p.transaction, exc)
        return {"status": "pending", "transaction": p.transaction, "message": f"library system: {exc}"}

    def _refuse(self, p: IlsPayment, message: str, actor: str, detail: dict, *, outcome: str) -> dict:
        """The ILS refused (or was never reached): refused, and the held points come back once."""
        now = self.clock()
        with unit_of_work():
            n = (
                IlsPayment.update(status="refused", settled_at=now, message=message[:500])
                .where((IlsPayment.id == p.id) & (IlsPayment.status == "pending"))
                .execute()
            )
            if n == 1:
                orig = LedgerEntry.get_by_id(p.entry_id)
                refund = self.ledger.give_back(
                    orig, f"library system refused the fine payment {p.transaction}: {message}", actor
                )
                IlsPayment.update(refund=refund.id).where(IlsPayment.id == p.id).execute()
                self.ledger.audit(
                    actor,
                    "ils.fee_paid",
                    p.member_id,
                    outcome=outcome,
                    ils_message=message[:200],
                    restored=-orig.points,
                    **detail,
                )
        return {"status": "refused", "transaction": p.transaction, "message": message}

    # -- pending payments ------------------------------------------------------------------

    @staticmethod
    def payment_dict(p: IlsPayment) -> dict:
        from broker import contract

        return {
            "entry_id": p.entry_id,
            "member": p.member_id,
            "patron_id": p.patron_id,
            "baht": p.baht,
            "points": p.points,
            "transaction": p.transaction,
            "status": p.status,
            "attempts": p.attempts,
            "last_error": p.last_error,
            "created_at": contract.format_time(p.created_at),
        }

    def pending(self) -> list[dict]:
        """ILS payments not settled yet, oldest first."""
        with read_unit():
            return [
                self.payment_dict(p)
                for p in IlsPayment.select().where(IlsPayment.status == "pending").order_by(IlsPayment.id)
            ]

    def payment(self, transaction: str) -> dict | None:
        with read_unit():
            p = IlsPayment.get_or_none(IlsPayment.transaction == transaction)
            return self.payment_dict(p) if p else None

    @staticmethod
    def for_entry(entry_id: int) -> dict | None:
        """The payment a redemption entry made in the ILS, if it made one."""
        with read_unit():
            p = IlsPayment.get_or_none(IlsPayment.entry == entry_id)
            return Ils.payment_dict(p) if p else None

    def settle(self, actor: str = "system") -> list[dict]:
        """Send every pending payment again (same ``BK``); each one's result.

        A payment another process is sending right now (its lease has not ended) is
        listed as it is, not sent.
        """
        if self.config is None:
            raise IlsNotConfigured()
        with read_unit():
            ids = [
                p.id
                for p in IlsPayment.select(IlsPayment.id).where(IlsPayment.status == "pending").order_by(IlsPayment.id)
            ]
        out = []
        for pid in ids:
            if not self._claim(pid):
                p = IlsPayment.get_by_id(pid)
                out.append({**self.payment_dict(p), "message": "being sent by another process; try again shortly"})
                continue
            res = self.pay(pid, actor)
            p = IlsPayment.get_by_id(pid)
            out.append({**self.payment_dict(p), "message": res["message"]})
        return out

    # -- what the ILS must apply ----------------------------------------------------------

    def export_privileges(self, changed_since: date | str | None = None) -> list[dict]:
        """One row per member with a patron id: borrowing level, locker days, study-room hours, ILS category.

        ``changed_since``: only members whose balance or record changed on or after that day.
        """
        since = members.parse_date(changed_since) if changed_since else None
        with read_unit():
            q = Member.select().where(Member.patron_id.is_null(False)).order_by(Member.id)
            if since is not None:
                cutoff = datetime.combine(since, dtime.min, tzinfo=self.prog.tz)
                touched = LedgerEntry.select(LedgerEntry.member).where(LedgerEntry.created_at >= cutoff)
                q = q.where((Member.updated_at >= cutoff) | Member.id.in_(touched))
            rows = []
            for m in q:
                priv = rules.privileges(m.balance, self.prog)
                rows.append(
                    {
                        "patron_id": m.patron_id,
                        "member": m.id,
                        "tier": m.tier,
                        "status": m.status,
                        "balance": m.balance,
                        "books": priv["borrow"]["books"],
                        "loan_days": priv["borrow"]["loan_days"] or 0,
                        "locker_days": priv["locker_days"],
                        "study_room_hours": priv["study_room_hours"],
                        "category": self.config.category(m.tier) if self.config else "",
                    }
                )
        return rows
