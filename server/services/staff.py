"""Staff unlock at a kiosk: the server checks a typed staff PIN, counts wrong ones, audits.

A kiosk never sees a PIN hash: it sends the PIN typed on its pad in a ``query``
(``pin``), and this part answers ``staff_unlocked``, ``pin_wrong`` or ``pin_locked``.

Lock-out, per card *and* kiosk (``staff_pin_guard``)::

    claim an attempt ── one conditional UPDATE: failures + 1 only while not locked and
         │              below 5 (or the lock-out is over: back to 1); 0 rows → pin_locked
         ▼              (the 5th claim also sets locked_until = now + the configured time)
    check the PIN (scrypt, outside any transaction)
         ├─ right → failures = 0, locked_until = NULL; audit staff.unlock
         └─ wrong → audit staff.pin_wrong; pin_wrong, or pin_locked after the 5th

An attempt is counted *before* its PIN is checked, so guesses sent in parallel (or to two
server replicas) cannot be checked more than 5 times; a crash between the claim and the
check costs the guesser an attempt, never the lock. Every outcome is audited; the PIN is
never logged nor stored.

A programme administrator can lift a lock-out before its time (:meth:`StaffPins.clear`:
``privcard admin staff unlock-pin``, the console's Staff page); that is audited too
(``staff.pin_cleared``).
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import peewee as pw

from broker import contract
from broker.contract import Answer, Query
from server.domain import rules
from server.services import members
from server.services.devices import Devices, Refused
from server.services.errors import ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import unit_of_work
from server.store import Card, Member, StaffPinGuard

log = logging.getLogger(__name__)


class StaffPins:
    """Check staff PINs typed at kiosks, with the lock-out and the audit trail."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, devices: Devices):
        self.ledger = ledger
        self.devices = devices
        self.clock = ledger.clock

    def unlock(self, device_id: str, query: Query) -> Answer:
        """Answer a query that carries a ``pin``: allow, refuse, or locked out (audited)."""
        qid = query.query_id
        try:
            self.devices.authorise(device_id, "query")
        except Refused as refused:
            return Answer(qid, "invalid", message={"th": rules.message("invalid")["th"], "en": refused.reason})
        with unit_of_work():
            card = Card.get_or_none(Card.uid == query.uid)
            member = Member.get_by_id(card.member_id) if card is not None else None
            refusal = self._card_refusal(card, member)
            if refusal is not None:
                self.ledger.audit(f"device:{device_id}", "staff.pin_refused", query.uid, outcome=refusal)
                return Answer(qid, refusal, message=rules.message(refusal))
            claimed, failures, locked_until = self._claim(device_id, query.uid)
            if not claimed:
                self.ledger.audit(
                    f"device:{device_id}", "staff.pin_locked", query.uid, member=member.id, until=_iso(locked_until)
                )
                return self._locked(qid, locked_until)
            stored = member.pin_hash if member.staff else None
        right = members.check_pin(query.pin or "", stored)  # scrypt: outside the write lock
        with unit_of_work():
            if right:
                StaffPinGuard.update(failures=0, locked_until=None).where(
                    (StaffPinGuard.device == device_id) & (StaffPinGuard.card == query.uid)
                ).execute()
                self.ledger.audit(f"device:{device_id}", "staff.unlock", query.uid, member=member.id)
                log.info("staff unlock: member %s at %s", member.id, device_id)
                return Answer(qid, "staff_unlocked", message=rules.message("staff_unlocked"))
            self.ledger.audit(
                f"device:{device_id}",
                "staff.pin_wrong",
                query.uid,
                member=member.id,
                failures=failures,
                locked=locked_until is not None,
            )
        log.warning("wrong staff PIN for card %s at %s (%d of %d)", query.uid, device_id, failures, self.limit)
        if locked_until is not None:
            return self._locked(qid, locked_until)
        left = max(self.limit - failures, 0)
        return Answer(qid, "pin_wrong", message=rules.message("pin_wrong", attempts=left), attempts_left=left)

    def lockouts(self) -> list[dict]:
        """Cards locked out on a kiosk now: card, kiosk, member id and name, wrong PINs, ``locked_until`` (a datetime)."""
        G = StaffPinGuard
        rows = (
            G.select(G, Member.id, Member.name)
            .join(Card, pw.JOIN.LEFT_OUTER, on=(Card.uid == G.card))
            .join(Member, pw.JOIN.LEFT_OUTER, on=(Member.id == Card.member_id))
            .where(G.locked_until > self.clock())
            .order_by(G.locked_until, G.device, G.card)
            .objects()
        )
        return [
            {
                "card": r.card,
                "device": r.device,
                "member": r.id,
                "name": r.name,
                "failures": r.failures,
                "locked_until": r.locked_until,
            }
            for r in rows
        ]

    def clear(self, ref, device: str | None = None, actor: str = "system") -> list[dict]:
        """Lift the staff PIN lock-out (and the count of wrong PINs) of a member's cards, on one kiosk or all.

        ``ref``: the member's id or one of their cards. Answers what was cleared (card, kiosk,
        whether it was locked); a member with nothing to clear is a ServiceError. Audited as
        ``staff.pin_cleared`` with the cards and kiosks, once per call.
        """
        G = StaffPinGuard
        with unit_of_work():
            member = members.find(ref)
            cards = [c.uid for c in Card.select(Card.uid).where(Card.member_id == member.id)]
            where = G.card.in_(cards) & (G.failures > 0)
            if device is not None:
                device = device.strip()
                where &= G.device == self.devices.get(device).id
            now = self.clock()
            rows = list(G.select().where(where).order_by(G.device, G.card))
            if not rows and device is not None:
                raise ServiceError(
                    "member #%(id)s has no staff PIN lock-out on %(device)s", id=member.id, device=device
                )
            if not rows:
                raise ServiceError("member #%(id)s has no staff PIN lock-out", id=member.id)
            cleared = [
                {
                    "card": r.card,
                    "device": r.device,
                    "failures": r.failures,
                    "was_locked": r.locked_until is not None and r.locked_until > now,
                }
                for r in rows
            ]
            G.delete().where(where).execute()
            self.ledger.audit(actor, "staff.pin_cleared", str(member.id), member=member.id, cleared=cleared)
        log.info("staff PIN lock-out of member %s lifted by %s (%d)", member.id, actor, len(cleared))
        return cleared

    @property
    def limit(self) -> int:
        """Wrong PINs in a row before the lock-out."""
        return rules.STAFF_PIN_ATTEMPTS

    def _card_refusal(self, card: Card | None, member: Member | None) -> str | None:
        """The card outcome that stops a PIN check before it is counted, or None."""
        if card is None:
            return "unknown_card"
        if card.status != "active" or member.status != "active":
            return "card_blocked"
        if member.valid_until and self.ledger.today() > member.valid_until:
            return "expired"
        return None

    def _claim(self, device_id: str, uid: str):
        """Count one attempt atomically; ``(claimed, failures, locked_until)``.

        One UPDATE whose WHERE says "not locked": of any number of parallel claims, only
        as many as the limit allows can match, whatever the interleaving.
        """
        G = StaffPinGuard
        now = self.clock()
        pair = (G.device == device_id) & (G.card == uid)
        G.insert(device=device_id, card=uid, failures=0).on_conflict_ignore().execute()
        over = G.locked_until.is_null(False) & (G.locked_until <= now)  # a lock-out that has ended
        claimed = (
            G.update(failures=pw.Case(None, [(over, 1)], G.failures + 1), locked_until=None)
            .where(pair & ((G.locked_until.is_null() & (G.failures < self.limit)) | over))
            .execute()
        )
        if claimed:  # the same transaction (and row lock): the limit reached locks it out
            until = now + timedelta(minutes=self.prog.staff_pin_lockout_minutes)
            G.update(locked_until=until).where(pair & (G.failures >= self.limit)).execute()
        row = G.get((G.device == device_id) & (G.card == uid))
        return bool(claimed), row.failures, row.locked_until

    def _locked(self, qid: str, locked_until) -> Answer:
        """``pin_locked`` with when it ends and the seconds (and whole minutes) left."""
        seconds = max(0, math.ceil((locked_until - self.clock()).total_seconds())) if locked_until else 0
        minutes = max(1, math.ceil(seconds / 60))
        return Answer(
            qid,
            "pin_locked",
            message=rules.message("pin_locked", minutes=minutes),
            locked_until=_iso(locked_until),
            retry_after_s=seconds,
        )


def _iso(when) -> str | None:
    return contract.format_time(when) if when is not None else None
