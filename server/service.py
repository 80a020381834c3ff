"""The service layer: every operation on points, members, cards and devices.

Entry points (MQTT adapter, admin CLI, web console) are thin and call this. Each
public method is one transaction; taps can be decided in batches (group commit)
with a savepoint per tap, so one bad tap never spoils its neighbours.
"""

from __future__ import annotations

import csv
import hashlib
import json
import hmac
import io
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import peewee as pw

from broker import contract
from broker.contract import Allowlist, Answer, ContractError, DeviceConfig, Feedback, Query, Status, Tap, TapResult
from server import store
from server.domain import rules
from server.domain.config import Programme
from server.store import Accrual, Audit, Card, Device, Fee, LedgerEntry, Member, db, utcnow

log = logging.getLogger(__name__)

GROUPS = ("U1", "U2", "U3", "U4", "U5")
#: device settings the server knows, with (type, min, max) checks
SETTING_TYPES = {
    "open_ms": (int, 100, 60000),
    "repeat_s": ((int, float), 0, 600),
    "decision_timeout_ms": (int, 100, 10000),
    "heartbeat_s": (int, 5, 3600),
    "offline_policy": (str, None, None),
    "reader": (str, None, None),
    "pins": (dict, None, None),
    "clock_check": (str, None, None),
    "lang": (str, None, None),
    "staff_pin_required": (bool, None, None),
}
DEFAULT_SETTINGS = {
    "gate": {"open_ms": 3000, "repeat_s": 3, "decision_timeout_ms": 800, "offline_policy": "allowlist", "heartbeat_s": 30},
    "counter": {"repeat_s": 3, "decision_timeout_ms": 800, "offline_policy": "allowlist", "heartbeat_s": 30},
    "kiosk": {"repeat_s": 3, "heartbeat_s": 30, "lang": "th"},
}
NON_EARNING = ("redeem", "transfer_in", "transfer_out", "adjust")


class Message(str):
    """English text for staff that keeps its ``template`` and ``values`` apart.

    It is the plain text (``template % values``) for everything that compares, prints or
    serialises it, so the CLI and the JSON API are unchanged; the console translates
    ``template`` (an ``i18n.TH`` key) and fills in the same values.
    """

    def __new__(cls, template: str, **values):
        self = super().__new__(cls, template % values if values else template)
        self.template, self.values = template, values
        return self


class ServiceError(ValueError):
    """An operation refused; the message is meant for staff.

    ``template`` is the English message with ``%(name)s`` placeholders and ``values`` the
    data that fills them (names, UIDs, line numbers stay out of the template), so the
    console can show it in the staff's language; ``str(exc)`` is the English text.
    """

    def __init__(self, template: str, **values):
        super().__init__(template % values if values else template)
        self.template, self.values = template, values

    @property
    def message(self) -> Message:
        """The English text, still carrying its template and values."""
        return Message(self.template, **self.values)

    @classmethod
    def of(cls, message: Message) -> ServiceError:
        """The error for a :class:`Message`."""
        return cls(message.template, **message.values)


class NotFound(ServiceError):
    """The member, card, device or entry does not exist."""


#: the messages of ``broker.contract`` and ``server.domain.rules`` that the service passes
#: on to staff, as templates: each placeholder matches text cut back out of the original
#: message, so the English stays exactly what that package wrote
FOREIGN_TEMPLATES = (
    "uid must be a string, got %(type)s",
    "uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s",
    "device id must be 1-64 characters of A-Z a-z 0-9 _ -, got %(device_id)s",
    "%(activity)s needs an item (event, shop or session)",
    "fine discounts are redeemed in steps of %(step)s points",
    "at most %(max)s points can be redeemed as a fine discount",
)
_FOREIGN = [(t, re.compile(re.sub(r"%\\\((\w+)\\\)s", r"(?P<\1>.*)", re.escape(t)), re.S))
            for t in FOREIGN_TEMPLATES]


def foreign_message(exc: Exception) -> Message:
    """Another package's error as a :class:`Message` (a known template, or the text as it is)."""
    text = str(exc)
    for template, pattern in _FOREIGN:
        found = pattern.fullmatch(text)
        if found:
            return Message(template, **found.groupdict())
    return Message(text)


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of a staff PIN/password (standard library KDF)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str | None) -> bool:
    """Verify a PIN against :func:`hash_pin`'s output in constant time."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    test = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(test.hex(), digest)


@dataclass
class ImportReport:
    """What an attendance import did, row by row."""

    credited: list = field(default_factory=list)   # (line, member_id, entry_id)
    already: list = field(default_factory=list)    # (line, member_id)
    errors: list = field(default_factory=list)     # (line, message)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "credited": [{"line": ln, "member": m, "entry": e} for ln, m, e in self.credited],
            "already_credited": [{"line": ln, "member": m} for ln, m in self.already],
            "errors": [{"line": ln, "error": msg} for ln, msg in self.errors],
        }


class Service:
    """Operations on the ledger store under the programme's rules."""

    def __init__(self, prog: Programme, clock=utcnow):
        self.prog = prog
        self.clock = clock
        self._devices: dict[str, tuple[float, Device | None]] = {}

    # ------------------------------------------------------------------ helpers

    def today(self) -> date:
        """The current business day."""
        return rules.business_day(self.clock(), self.prog)

    def _device(self, device_id: str) -> Device | None:
        """A device row, cached for 2 s (keeps the hot path free of lookups)."""
        now = time.monotonic()
        hit = self._devices.get(device_id)
        if hit and now - hit[0] < 2.0:
            return hit[1]
        dev = Device.get_or_none(Device.id == device_id)
        self._devices[device_id] = (now, dev)
        return dev

    def _audit(self, actor: str, action: str, target=None, **detail) -> None:
        Audit.create(actor=actor or "system", action=action, target=None if target is None else str(target)[:120],
                     detail=detail or None, at=self.clock())

    def _credit(self, member_id: int, activity_code: str, points: int, day: date, at: datetime, *, source: str,
                item: str = "", device: str | None = None, ref: str | None = None, note: str | None = None,
                actor: str | None = None, key: tuple | None = None) -> LedgerEntry | None:
        """Append an entry (and its accrual key) and move the cached balance; None if the key exists."""
        try:
            with db.atomic():
                entry = LedgerEntry.create(member=member_id, activity=activity_code, points=points, day=day,
                                           item=item or "", at=at, source=source, device=device, ref=ref,
                                           note=note, actor=actor, created_at=self.clock())
                if key is not None:
                    Accrual.create(member=member_id, activity=activity_code, day=key[0], item=key[1], entry=entry)
        except pw.IntegrityError:
            return None
        Member.update(balance=Member.balance + points, updated_at=self.clock()).where(Member.id == member_id).execute()
        return entry

    def _debit(self, member_id: int, points: int) -> None:
        """Take points off the cached balance, atomically refusing to go below zero."""
        n = (Member.update(balance=Member.balance - points, updated_at=self.clock())
             .where((Member.id == member_id) & (Member.balance >= points)).execute())
        if n != 1:
            bal = Member.get_by_id(member_id).balance
            raise ServiceError("balance %(balance)s is less than %(points)s points", balance=bal, points=points)

    @staticmethod
    def balance(member_id: int) -> int:
        """The member's cached balance."""
        return Member.select(Member.balance).where(Member.id == member_id).scalar() or 0

    @staticmethod
    def ledger_sum(member_id: int) -> int:
        """The member's balance recomputed from the ledger (audits the cache)."""
        return LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0)).where(
            LedgerEntry.member == member_id).scalar()

    # ------------------------------------------------------------------ taps

    def process_taps(self, batch: list[tuple[str, Tap, datetime]]) -> list[TapResult]:
        """Decide several taps in one transaction (group commit); returns results in order."""
        for attempt in range(5):
            try:
                with store.write_transaction():
                    return [self._tap_savepoint(dev, tap, received) for dev, tap, received in batch]
            except pw.OperationalError as exc:  # deadlock / serialisation failure between replicas
                log.warning("tap batch of %d retried after %s", len(batch), exc)
                time.sleep(0.05 * (attempt + 1))
        # last resort: one transaction per tap
        out = []
        for dev, tap, received in batch:
            with store.write_transaction():
                out.append(self._tap_savepoint(dev, tap, received))
        return out

    def process_tap(self, device_id: str, tap: Tap, received: datetime | None = None) -> TapResult:
        """Decide one tap and commit it."""
        return self.process_taps([(device_id, tap, received or self.clock())])[0]

    def _tap_savepoint(self, device_id: str, tap: Tap, received: datetime) -> TapResult:
        """Decide one tap inside the batch transaction (hand-written SQL: this is the hot path).

        No savepoints are needed: the tap is claimed in the inbox and the daily key in
        the accrual table with ``INSERT ... ON CONFLICT DO NOTHING``, so a concurrent
        replica's claim makes this one a no-op instead of an aborted transaction.
        """
        device = self._device(device_id)
        if device is None:
            log.warning("tap %s from unknown device %s refused", tap.tap_id, device_id)
            return contract.invalid_result(tap.tap_id, f"unknown device {device_id}")
        if device.kind == "kiosk":
            return contract.invalid_result(tap.tap_id, "kiosks send queries, not taps")
        sql = self._sql
        claimed = db.execute_sql(sql["claim"], (device_id, tap.tap_id, tap.uid, _ts(tap.at), _ts(received)))
        if claimed.rowcount != 1:
            row = db.execute_sql(sql["stored"], (device_id, tap.tap_id)).fetchone()
            return TapResult(**json.loads(row[0]))
        row = db.execute_sql(sql["card"], (tap.uid,)).fetchone()
        card_status, member_id, name, tier, member_status, valid_until, balance = row if row else (None,) * 7
        if isinstance(valid_until, str):
            valid_until = date.fromisoformat(valid_until)
        act_code = device.activity
        per_item = act_code in self.prog.activities and self.prog.activities[act_code].limit == "per_item_per_day"
        decision = rules.decide_tap(
            prog=self.prog, device_kind=device.kind, device_direction=device.direction,
            device_activity_code=act_code, card_status=card_status, member_status=member_status,
            valid_until=valid_until, at=tap.at, clock_ok=tap.clock_ok, received=received,
            item=device.id if per_item else "",
        )
        outcome, points = decision.outcome, 0
        if outcome == "credited":
            act = decision.activity
            key = rules.accrual_key(act, decision.day, decision.item)
            if key is not None and db.execute_sql(sql["accrue"], (member_id, act.code, key[0], key[1])).rowcount != 1:
                outcome = "limit_reached"
            else:
                now = _ts(self.clock())
                entry_id = db.execute_sql(sql["entry"], (member_id, act.code, act.points, decision.day.isoformat(),
                                                         decision.item, _ts(tap.at), device_id, tap.tap_id,
                                                         now)).fetchone()[0]
                if key is not None:
                    db.execute_sql(sql["accrued"], (entry_id, member_id, act.code, key[0], key[1]))
                balance = db.execute_sql(sql["credit"], (act.points, now, member_id)).fetchone()[0]
                points = act.points
        show = member_id is not None and outcome not in ("card_blocked", "invalid")
        result = TapResult(
            tap_id=tap.tap_id, outcome=outcome, open=outcome in rules.OPEN_OUTCOMES, points=points,
            balance=balance if show else None,
            activity=decision.activity.code if decision.activity else None,
            name=name if show else None, tier=tier if show else None,
            message=rules.message(outcome, points=points, balance=balance, activity=decision.activity,
                                  reason=decision.reason),
        )
        db.execute_sql(sql["decided"], (outcome, points, member_id,
                                        json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True),
                                        device_id, tap.tap_id))
        return result

    @property
    def _sql(self) -> dict:
        """The hot path's statements in the bound database's parameter style."""
        param = store.db.obj.param
        cached = getattr(self, "_sql_cache", None)
        if cached is None or cached[0] != param:
            cached = (param, {k: v.replace("?", param) for k, v in HOT_SQL.items()})
            self._sql_cache = cached
        return cached[1]

    # ------------------------------------------------------------------ kiosk

    def answer_query(self, device_id: str, query: Query) -> Answer:
        """Balance, tier, privileges and the last 20 entries for a card."""
        card = Card.get_or_none(Card.uid == query.uid)
        if card is None:
            return Answer(query.query_id, "unknown_card", message=rules.message("unknown_card"))
        member = Member.get_by_id(card.member_id)
        today = self.today()
        summary = {"id": member.id, "name": member.name, "tier": member.tier, "group": member.group,
                   "valid_until": member.valid_until.isoformat() if member.valid_until else None,
                   "staff": bool(member.staff), "card": card.uid}
        if member.staff and member.pin_hash:
            # only to this kiosk (the broker ACL keeps answers private): it checks the PIN itself
            summary["pin_hash"] = member.pin_hash
        if card.status != "active" or member.status != "active":
            summary.pop("pin_hash", None)
            return Answer(query.query_id, "card_blocked", member=summary, message=rules.message("card_blocked"))
        if member.valid_until and today > member.valid_until:
            return Answer(query.query_id, "expired", member=summary, message=rules.message("expired"))
        return Answer(
            query_id=query.query_id, outcome="member", member=summary, balance=member.balance,
            privileges=rules.privileges(member.balance, self.prog), history=self.history(member.id, 20),
            stats=self.stats(member.id, today), message={"th": "", "en": ""},
        )

    def stats(self, member_id: int, today: date) -> dict:
        """Points earned today and this semester (net of voids)."""
        label, start, end = rules.semester_of(today, self.prog)
        earning = list(self.prog.activities)
        base = LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0)).where(
            (LedgerEntry.member == member_id) & (LedgerEntry.activity.in_(earning)))
        return {
            "earned_today": base.where(LedgerEntry.day == today).scalar(),
            "earned_semester": base.where(LedgerEntry.day.between(start, end)).scalar(),
            "semester": label,
        }

    def history(self, member_id: int, limit: int = 20) -> list[dict]:
        """The member's latest entries, newest first, with voided ones marked."""
        rows = list(LedgerEntry.select().where(LedgerEntry.member == member_id)
                    .order_by(LedgerEntry.id.desc()).limit(limit))
        voided = {e.void_of_id for e in LedgerEntry.select(LedgerEntry.void_of).where(
            LedgerEntry.void_of.in_([r.id for r in rows]))} if rows else set()
        return [self.entry_dict(r, voided=r.id in voided) for r in rows]

    def entry_dict(self, e: LedgerEntry, voided: bool = False) -> dict:
        """An entry as shown on screens and in JSON."""
        act = self.prog.activities.get(e.activity)
        label = act.label if act else LABELS.get(e.activity, {"th": e.activity, "en": e.activity})
        if e.source == "void":
            label = {"th": f"ยกเลิก: {label['th']}", "en": f"Void: {label['en']}"}
        return {"id": e.id, "member": e.member_id, "at": contract.format_time(e.at), "day": e.day.isoformat(), "activity": e.activity,
                "label": label, "item": e.item or None, "points": e.points, "voided": voided,
                "void_of": e.void_of_id, "source": e.source, "device": e.device, "note": e.note, "actor": e.actor}

    def record_feedback(self, device_id: str, fb: Feedback) -> bool:
        """Store a kiosk rating once per feedback_id; True if new."""
        member = None
        if fb.uid:
            card = Card.get_or_none(Card.uid == fb.uid)
            member = card.member_id if card else None
        try:
            with store.write_transaction():
                store.Feedback.create(device=device_id, feedback_id=fb.feedback_id, rating=fb.rating, at=fb.at,
                                      member=member, received_at=self.clock())
            return True
        except pw.IntegrityError:
            return False

    def record_status(self, device_id: str, status: Status) -> bool:
        """Remember a device's latest retained status; False for unknown devices."""
        with store.write_transaction():
            n = Device.update(state=status.state, last_seen=self.clock(), status=status.to_dict()).where(
                Device.id == device_id).execute()
        return n == 1

    # ------------------------------------------------------------------ members and cards

    def find_member(self, ref) -> Member:
        """A member by id, or by one of their cards' UIDs."""
        text = str(ref).strip()
        if re.fullmatch(r"\d{1,7}", text):
            m = Member.get_or_none(Member.id == int(text))
            if m:
                return m
        try:
            uid = contract.normalise_uid(text)
        except ContractError:
            raise NotFound("no member with id or card %(ref)r", ref=text) from None
        card = Card.get_or_none(Card.uid == uid)
        if card is None:
            raise NotFound("no member with id or card %(ref)r", ref=text)
        return Member.get_by_id(card.member_id)

    def member_dict(self, m: Member, *, history: int = 0) -> dict:
        """A member as JSON, with cards (and optionally recent history)."""
        out = {
            "id": m.id, "name": m.name, "group": m.group, "tier": m.tier,
            "valid_until": m.valid_until.isoformat() if m.valid_until else None, "status": m.status,
            "staff": bool(m.staff), "email": m.email, "balance": m.balance,
            "cards": [{"uid": c.uid, "status": c.status, "issued_at": contract.format_time(c.issued_at)}
                      for c in Card.select().where(Card.member == m.id).order_by(Card.issued_at)],
            "created_at": contract.format_time(m.created_at),
        }
        if history:
            out["history"] = self.history(m.id, history)
            out["privileges"] = rules.privileges(m.balance, self.prog)
        return out

    def _check_member_fields(self, tier=None, group=None, valid_until=None, name=None) -> None:
        if name is not None and (not name.strip() or len(name) > 200):
            raise ServiceError("name must be 1-200 characters")
        if tier is not None and tier not in self.prog.tiers:
            raise ServiceError("tier must be one of %(tiers)s, got %(tier)r", tiers=", ".join(self.prog.tiers),
                               tier=tier)
        if group is not None and group not in GROUPS:
            raise ServiceError("group must be one of %(groups)s, got %(group)r", groups=", ".join(GROUPS), group=group)

    @staticmethod
    def _date(value) -> date | None:
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ServiceError("not a date (YYYY-MM-DD): %(value)r", value=value) from None

    def add_member(self, name: str, card: str, *, tier: str = "silver", group: str | None = None,
                   valid_until=None, staff: bool = False, email: str | None = None, actor: str = "system") -> Member:
        """Enrol a member with a card: records the joining fee and credits the sign-up points."""
        self._check_member_fields(tier, group, None, name)
        uid = self._uid(card)
        until = self._date(valid_until)
        signup = self.prog.activity("signup")
        now = self.clock()
        with store.write_transaction():
            if Card.get_or_none(Card.uid == uid):
                raise ServiceError("card %(uid)s already belongs to a member", uid=uid)
            m = Member.create(name=name.strip(), tier=tier, group=group, valid_until=until, staff=staff, email=email,
                              created_at=now, updated_at=now)
            Card.create(uid=uid, member=m, issued_at=now)
            Fee.create(member=m, kind="joining", baht=self.prog.signup_fee_baht, actor=actor, at=now)
            self._credit(m.id, "signup", signup.points, rules.business_day(now, self.prog), now, source="signup",
                         actor=actor, key=rules.accrual_key(signup, rules.business_day(now, self.prog)))
            store.bump("allowlist")
            self._audit(actor, "member.add", m.id, name=m.name, card=uid, tier=tier)
        return Member.get_by_id(m.id)

    @staticmethod
    def _uid(card: str) -> str:
        try:
            return contract.normalise_uid(card)
        except ContractError as exc:
            raise ServiceError.of(foreign_message(exc)) from None

    def list_members(self, search: str | None = None, limit: int = 50, offset: int = 0) -> list[Member]:
        """Members matching a name fragment, member id or card UID."""
        q = Member.select().order_by(Member.id)
        if search:
            s = search.strip()
            cond = Member.name.contains(s)
            if re.fullmatch(r"\d{1,9}", s):
                cond |= Member.id == int(s)
            hexs = re.sub(r"[\s:-]", "", s).upper()
            if re.fullmatch(r"[0-9A-F]{8,20}", hexs):
                cond |= Member.id.in_(Card.select(Card.member).where(Card.uid == hexs))
            q = q.where(cond)
        return list(q.limit(limit).offset(offset))

    def set_member(self, ref, actor: str = "system", **fields) -> Member:
        """Change name, tier, group, valid_until, status, staff, email or pin."""
        allowed = {"name", "tier", "group", "valid_until", "status", "staff", "email", "pin"}
        unknown = set(fields) - allowed
        if unknown:
            raise ServiceError("unknown member field(s): %(fields)s; known: %(known)s",
                               fields=", ".join(sorted(unknown)), known=", ".join(sorted(allowed)))
        self._check_member_fields(fields.get("tier"), fields.get("group"), None, fields.get("name"))
        if "status" in fields and fields["status"] not in ("active", "blocked"):
            raise ServiceError("status must be active or blocked")
        changes = {}
        for k, v in fields.items():
            if k == "valid_until":
                changes["valid_until"] = self._date(v) if v not in ("", "none", None) else None
            elif k == "staff":
                changes["staff"] = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
            elif k == "pin":
                if not re.fullmatch(r"\d{4,8}", str(v)):
                    raise ServiceError("pin must be 4-8 digits")
                changes["pin_hash"] = hash_pin(str(v))
            elif k == "group" and v in ("", "none"):
                changes["group"] = None
            else:
                changes[k] = v
        with store.write_transaction():
            m = self.find_member(ref)
            if changes:
                changes["updated_at"] = self.clock()
                Member.update(**changes).where(Member.id == m.id).execute()
                store.bump("allowlist")
            self._audit(actor, "member.set", m.id, **{k: ("***" if k == "pin" else str(v)) for k, v in fields.items()})
        return Member.get_by_id(m.id)

    def replace_card(self, ref, new_card: str, actor: str = "system") -> Member:
        """Give a member a new card: old cards blocked, the replacement fee recorded."""
        uid = self._uid(new_card)
        now = self.clock()
        with store.write_transaction():
            m = self.find_member(ref)
            if Card.get_or_none(Card.uid == uid):
                raise ServiceError("card %(uid)s is already in use", uid=uid)
            old = [c.uid for c in Card.select().where((Card.member == m.id) & (Card.status == "active"))]
            Card.update(status="blocked", blocked_at=now, reason=f"replaced by {uid}").where(
                (Card.member == m.id) & (Card.status == "active")).execute()
            Card.create(uid=uid, member=m, issued_at=now)
            Fee.create(member=m, kind="card_replacement", baht=self.prog.card_replacement_fee_baht, actor=actor, at=now,
                       note=f"replaces {', '.join(old) or '-'}")
            store.bump("allowlist")
            self._audit(actor, "card.replace", m.id, new=uid, old=old)
        return m

    def block_card(self, card: str, reason: str = "blocked by staff", actor: str = "system") -> Card:
        """Block one card (lost, stolen); the member keeps their points."""
        uid = self._uid(card)
        with store.write_transaction():
            c = Card.get_or_none(Card.uid == uid)
            if c is None:
                raise NotFound("no card %(uid)s", uid=uid)
            Card.update(status="blocked", blocked_at=self.clock(), reason=reason[:200]).where(Card.uid == uid).execute()
            store.bump("allowlist")
            self._audit(actor, "card.block", uid, reason=reason)
        return Card.get_by_id(uid)

    # ------------------------------------------------------------------ devices

    def _check_device(self, kind, direction, activity, settings) -> None:
        if kind not in contract.DEVICE_KINDS:
            raise ServiceError("kind must be one of %(kinds)s, got %(kind)r", kinds=", ".join(contract.DEVICE_KINDS),
                               kind=kind)
        if direction not in (None, "in", "out"):
            raise ServiceError("direction must be in or out, got %(direction)r", direction=direction)
        if activity is not None and activity not in self.prog.activities:
            raise ServiceError("unknown activity %(activity)r; known: %(known)s", activity=activity,
                               known=", ".join(sorted(self.prog.activities)))
        for key, value in (settings or {}).items():
            spec = SETTING_TYPES.get(key)
            if spec is None:
                raise ServiceError("unknown device setting %(key)r; known: %(known)s", key=key,
                                   known=", ".join(sorted(SETTING_TYPES)))
            kind_, lo, hi = spec
            if not isinstance(value, kind_) or (isinstance(value, bool) and kind_ is not bool):
                raise ServiceError("setting %(key)s has the wrong type (%(type)s)", key=key, type=type(value).__name__)
            if lo is not None and not lo <= value <= hi:
                raise ServiceError("setting %(key)s must be between %(lo)s and %(hi)s, got %(value)s",
                                   key=key, lo=lo, hi=hi, value=value)
        policy = (settings or {}).get("offline_policy")
        if policy is not None and policy not in contract.OFFLINE_POLICIES:
            raise ServiceError("offline_policy must be one of %(policies)s",
                               policies=", ".join(contract.OFFLINE_POLICIES))

    def add_device(self, device_id: str, kind: str, *, direction: str | None = None, activity: str | None = None,
                   location: str | None = None, settings: dict | None = None, actor: str = "system") -> Device:
        """Register a gate, kiosk or counter reader."""
        try:
            contract.check_device_id(device_id)
        except ContractError as exc:
            raise ServiceError.of(foreign_message(exc)) from None
        if kind == "gate" and direction is None:
            direction = "in"
        self._check_device(kind, direction, activity, settings)
        with store.write_transaction():
            if Device.get_or_none(Device.id == device_id):
                raise ServiceError("device %(id)s already exists", id=device_id)
            d = Device.create(id=device_id, kind=kind, direction=direction, activity=activity, location=location,
                              settings=settings or {}, revision=1, created_at=self.clock(), updated_at=self.clock())
            self._audit(actor, "device.add", device_id, kind=kind, direction=direction, activity=activity)
        self._devices.pop(device_id, None)
        return d

    def set_device(self, device_id: str, actor: str = "system", **changes) -> Device:
        """Change a device's fields or settings (``pins.relay=17`` style keys go into settings)."""
        with store.write_transaction():
            d = Device.get_or_none(Device.id == device_id)
            if d is None:
                raise NotFound("no device %(id)s", id=device_id)
            fields = {k: getattr(d, k) for k in ("kind", "direction", "activity", "location")}
            settings = dict(d.settings or {})
            for key, value in changes.items():
                if key in fields:
                    fields[key] = None if value in ("", "none", None) else value
                elif "." in key:
                    head, sub = key.split(".", 1)
                    nested = dict(settings.get(head) or {})
                    nested[sub] = value
                    settings[head] = nested
                elif value is None:
                    settings.pop(key, None)
                else:
                    settings[key] = value
            self._check_device(fields["kind"], fields["direction"], fields["activity"], settings)
            Device.update(**fields, settings=settings, revision=Device.revision + 1, updated_at=self.clock()).where(
                Device.id == device_id).execute()
            self._audit(actor, "device.set", device_id, **{k: str(v) for k, v in changes.items()})
        self._devices.pop(device_id, None)
        return Device.get_by_id(device_id)

    def device_dict(self, d: Device) -> dict:
        """A device as JSON."""
        return {"id": d.id, "kind": d.kind, "direction": d.direction, "activity": d.activity, "location": d.location,
                "settings": d.settings, "revision": d.revision, "state": d.state,
                "last_seen": contract.format_time(d.last_seen) if d.last_seen else None, "status": d.status}

    def device_config(self, d: Device) -> DeviceConfig:
        """The retained config a device receives: defaults, its settings, the library's hours."""
        settings = dict(DEFAULT_SETTINGS.get(d.kind, {}))
        settings.update(d.settings or {})
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        settings["library"] = {"th": self.prog.name_th, "en": self.prog.name_en, "timezone": self.prog.timezone}
        settings["hours"] = {names[i]: ("closed" if h.closed else f"{h.open:%H:%M}-{h.close:%H:%M}")
                             for i, h in self.prog.hours.items()}
        return DeviceConfig(device_id=d.id, kind=d.kind, direction=d.direction,
                            activity=rules.device_activity(d.kind, d.direction, d.activity), location=d.location,
                            settings=settings, revision=d.revision)

    def configs_to_publish(self) -> list[tuple[DeviceConfig, int]]:
        """Configs changed since last published, with their revisions."""
        return [(self.device_config(d), d.revision)
                for d in Device.select().where(Device.revision != Device.published_revision)]

    def mark_published(self, device_id: str, revision: int) -> None:
        """Remember that a config revision reached the broker."""
        with store.write_transaction():
            Device.update(published_revision=revision).where(
                (Device.id == device_id) & (Device.published_revision < revision)).execute()

    def allowlist_version(self, today: date | None = None) -> int:
        """Changes with every card/member change and every day (memberships expire)."""
        today = today or self.today()
        return store.counter("allowlist") * 100000 + today.toordinal() % 100000

    def allowlist(self) -> Allowlist:
        """Valid card UIDs for offline decisions, versioned."""
        today = self.today()
        uids = (Card.select(Card.uid).join(Member)
                .where((Card.status == "active") & (Member.status == "active")
                       & (Member.valid_until.is_null() | (Member.valid_until >= today))))
        return Allowlist(version=self.allowlist_version(today), uids=frozenset(c.uid for c in uids), generated_at=self.clock())

    # ------------------------------------------------------------------ points operations

    def award(self, ref, activity: str, *, item: str | None = None, at=None, actor: str = "system",
              source: str = "admin", ref_key: str | None = None) -> tuple[str, LedgerEntry | None]:
        """Credit a counter/event activity to a member under the same limits; (outcome, entry)."""
        act = self.prog.activity(activity) if activity in self.prog.activities else None
        if act is None:
            raise ServiceError("unknown activity %(activity)r; known: %(known)s", activity=activity,
                               known=", ".join(sorted(self.prog.activities)))
        if activity == "signup":
            raise ServiceError("sign-up points are credited by member add")
        when = self._time(at)
        if when > self.clock() + timedelta(seconds=self.prog.future_tolerance_s):
            raise ServiceError("cannot award points in the future")
        if activity == "partner_purchase" and item and self.prog.partners and item not in self.prog.partners:
            raise ServiceError("unknown partner shop %(shop)r; known: %(known)s", shop=item,
                               known=", ".join(self.prog.partners))
        day = rules.business_day(when, self.prog)
        try:
            key = rules.accrual_key(act, day, item or "")
        except rules.RuleError as exc:
            raise ServiceError.of(foreign_message(exc)) from None
        with store.write_transaction():
            m = self.find_member(ref)
            self._check_active(m, day)
            entry = self._credit(m.id, act.code, act.points, day, when, source=source, item=item or "",
                                 actor=actor, ref=ref_key, key=key)
            if entry is not None:
                self._audit(actor, "points.award", m.id, activity=activity, item=item, points=act.points, entry=entry.id)
        return ("credited" if entry else "limit_reached"), entry

    def _check_active(self, m: Member, day: date) -> None:
        if m.status != "active":
            raise ServiceError("member %(id)s is blocked", id=m.id)
        if m.valid_until and day > m.valid_until:
            raise ServiceError("member %(id)s's membership expired on %(day)s", id=m.id, day=m.valid_until)

    def _time(self, at) -> datetime:
        if at is None:
            return self.clock()
        if isinstance(at, datetime):
            return at if at.tzinfo else at.replace(tzinfo=self.prog.tz)
        text = str(at).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = datetime.combine(date.fromisoformat(text), datetime.min.time()).replace(hour=12)
            except ValueError:
                raise ServiceError("not a time (ISO-8601, e.g. 2026-11-22T10:00+07:00): %(text)r", text=text) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.prog.tz)

    def void(self, entry_id: int, reason: str, *, actor: str = "system", allow_negative: bool = False) -> list[LedgerEntry]:
        """Reverse an entry (both legs of a transfer) with a reason; the original stays."""
        if not reason or not reason.strip():
            raise ServiceError("a reason is required to void an entry")
        with store.write_transaction():
            orig = LedgerEntry.get_or_none(LedgerEntry.id == entry_id)
            if orig is None:
                raise NotFound("no ledger entry %(id)s", id=entry_id)
            if orig.source == "void":
                raise ServiceError("entry %(id)s is itself a void", id=entry_id)
            legs = [orig]
            if orig.source == "transfer" and orig.ref:
                legs = list(LedgerEntry.select().where((LedgerEntry.ref == orig.ref) & (LedgerEntry.source == "transfer")))
            out = []
            for leg in legs:
                if LedgerEntry.get_or_none(LedgerEntry.void_of == leg.id):
                    raise ServiceError("entry %(id)s is already voided", id=leg.id)
                if leg.points > 0 and not allow_negative:
                    self._debit(leg.member_id, leg.points)
                elif leg.points > 0:
                    Member.update(balance=Member.balance - leg.points).where(Member.id == leg.member_id).execute()
                else:
                    Member.update(balance=Member.balance - leg.points).where(Member.id == leg.member_id).execute()
                rev = LedgerEntry.create(member=leg.member_id, activity=leg.activity, points=-leg.points, day=leg.day,
                                         item=leg.item, at=self.clock(), source="void", void_of=leg.id,
                                         note=reason.strip()[:300], actor=actor, ref=leg.ref, created_at=self.clock())
                # the day's credit is gone, so the member may earn it again
                Accrual.delete().where(Accrual.entry == leg.id).execute()
                out.append(rev)
            self._audit(actor, "points.void", entry_id, reason=reason, reversals=[r.id for r in out])
        return out

    def transfer(self, source_ref, target_ref, points: int, *, actor: str = "system", note: str | None = None):
        """Move points between members; never below zero."""
        if type(points) is not int or points <= 0:
            raise ServiceError("points to transfer must be a positive whole number")
        now = self.clock()
        day = rules.business_day(now, self.prog)
        ref = f"transfer:{uuid.uuid4().hex}"
        with store.write_transaction():
            src, dst = self.find_member(source_ref), self.find_member(target_ref)
            if src.id == dst.id:
                raise ServiceError("cannot transfer points to the same member")
            self._check_active(dst, day)
            self._debit(src.id, points)
            out_e = LedgerEntry.create(member=src.id, activity="transfer_out", points=-points, day=day, item=str(dst.id),
                                       at=now, source="transfer", ref=ref, actor=actor, note=note, created_at=now)
            Member.update(balance=Member.balance + points).where(Member.id == dst.id).execute()
            in_e = LedgerEntry.create(member=dst.id, activity="transfer_in", points=points, day=day, item=str(src.id),
                                      at=now, source="transfer", ref=ref, actor=actor, note=note, created_at=now)
            self._audit(actor, "points.transfer", src.id, to=dst.id, points=points)
        return out_e, in_e

    def redeem(self, ref, reward: str, *, points: int | None = None, units: int | None = None,
               actor: str = "system") -> dict:
        """Spend points on a reward; returns what was given. Balance never goes below zero."""
        r = self.prog.rewards.get(reward)
        if r is None:
            raise ServiceError("unknown reward %(reward)r; known: %(known)s", reward=reward,
                               known=", ".join(sorted(self.prog.rewards)))
        if r.step_points:  # fine discount: points in steps, value in baht
            if points is None:
                raise ServiceError("%(reward)s needs --points (a multiple of %(step)s)", reward=reward,
                                   step=r.step_points)
            try:
                baht = rules.fine_discount_baht(points, self.prog)
            except rules.RuleError as exc:
                raise ServiceError.of(foreign_message(exc)) from None
            cost, value = points, {"baht": baht}
        else:
            units = units or 1
            if type(units) is not int or not 1 <= units <= 1000:
                raise ServiceError("units must be 1-1000")
            cost, value = r.points * units, {"units": units}
            if points is not None and points != cost:
                raise ServiceError("%(reward)s costs %(cost)s points for %(units)s unit(s), not %(points)s",
                                   reward=reward, cost=cost, units=units, points=points)
        now = self.clock()
        with store.write_transaction():
            m = self.find_member(ref)
            if m.status != "active":
                raise ServiceError("member %(id)s is blocked", id=m.id)
            self._debit(m.id, cost)
            e = LedgerEntry.create(member=m.id, activity="redeem", points=-cost, day=rules.business_day(now, self.prog),
                                   item=reward, at=now, source="redeem", actor=actor, created_at=now,
                                   note=", ".join(f"{k}={v}" for k, v in value.items()))
            self._audit(actor, "points.redeem", m.id, reward=reward, points=cost, **value)
        return {"entry": e.id, "member": m.id, "reward": reward, "points": cost, **value,
                "balance": self.balance(m.id), "label": {"th": r.th, "en": r.en}}

    # ------------------------------------------------------------------ attendance import

    def import_attendance(self, text: str, activity: str, event: str, *, day=None, actor: str = "system",
                          dry_run: bool = False) -> ImportReport:
        """Credit an event's registration list (CSV of card UIDs or member ids).

        Idempotent: the accrual key is (member, activity, event day, event), so the
        same list imported again credits nothing new. Bad rows are reported by line;
        good rows are kept.
        """
        act = self.prog.activities.get(activity)
        if act is None:
            raise ServiceError("unknown activity %(activity)r", activity=activity)
        if activity in ("signup", "entry", "late_stay"):
            raise ServiceError("%(activity)s is not credited from attendance lists", activity=activity)
        event = (event or "").strip()
        if not event or len(event) > 120:
            raise ServiceError("an event name of 1-120 characters is required")
        when = self._time(day) if day else self.clock()
        event_day = rules.business_day(when, self.prog)
        key = rules.accrual_key(act, event_day, event)
        report = ImportReport()
        rows = self._attendance_rows(text, report)
        seen = set()
        with store.write_transaction():
            for line, value in rows:
                try:
                    with db.atomic():
                        m = self.find_member(value)
                        if m.id in seen:
                            raise ServiceError("member %(id)s is listed twice", id=m.id)
                        seen.add(m.id)
                        self._check_active(m, event_day)
                        if Card.select().where((Card.member == m.id) & (Card.status == "active")).count() == 0 \
                                and not re.fullmatch(r"\d{1,7}", value):
                            raise ServiceError("card %(card)s is blocked", card=value)
                        if dry_run:
                            exists = Accrual.get_or_none((Accrual.member == m.id) & (Accrual.activity == activity)
                                                         & (Accrual.day == key[0]) & (Accrual.item == key[1]))
                            (report.already.append((line, m.id)) if exists else report.credited.append((line, m.id, None)))
                            continue
                        entry = self._credit(m.id, activity, act.points, event_day, when, source="import",
                                             item=event, actor=actor, ref=f"import:{event}"[:160], key=key)
                        if entry is None:
                            report.already.append((line, m.id))
                        else:
                            report.credited.append((line, m.id, entry.id))
                except ServiceError as exc:
                    report.errors.append((line, exc.message))
            if not dry_run:
                self._audit(actor, "points.import", event, activity=activity, credited=len(report.credited),
                            already=len(report.already), errors=len(report.errors))
        return report

    @staticmethod
    def _attendance_rows(text: str, report: ImportReport) -> list[tuple[int, str]]:
        """(line, member id or UID) pairs from CSV with an optional header; bad lines go to the report."""
        if len(text) > 5_000_000:
            raise ServiceError("attendance file is larger than 5 MB")
        # newline=None: universal newlines, so files saved with bare \r line ends read too
        reader = csv.reader(io.StringIO(text, newline=None))
        rows, column = [], 0
        try:
            numbered = list(enumerate(reader, start=1))
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(), or a NUL byte
            raise ServiceError("attendance file is not valid CSV (line %(line)s): %(error)s", line=reader.line_num,
                               error=str(exc)) from None
        for n, row in numbered:
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if n == 1 and not any(re.fullmatch(r"[0-9A-Fa-f:\s-]{1,40}", c) for c in cells if c):
                header = [c.lower() for c in cells]
                for i, h in enumerate(header):
                    if h in ("uid", "card", "card_uid", "member", "member_id", "id"):
                        column = i
                        break
                else:
                    report.errors.append((n, Message("header has no uid/card/member_id column: %(header)s",
                                                      header=",".join(cells)[:80])))
                    return []
                continue
            if column >= len(cells) or not cells[column]:
                report.errors.append((n, Message("empty card/member cell")))
                continue
            value = cells[column]
            if not re.fullmatch(r"\d{1,7}", value):
                try:
                    value = contract.normalise_uid(value)
                except ContractError as exc:
                    report.errors.append((n, foreign_message(exc)))
                    continue
            rows.append((n, value))
        return rows

    # ------------------------------------------------------------------ reads for CLI and console

    def entries(self, member_ref=None, limit: int = 100) -> list[dict]:
        """Latest ledger entries (of one member or everyone)."""
        q = LedgerEntry.select().order_by(LedgerEntry.id.desc()).limit(limit)
        if member_ref is not None:
            q = q.where(LedgerEntry.member == self.find_member(member_ref).id)
        return [self.entry_dict(e) for e in q]


def _ts(when: datetime) -> str:
    """A timestamp as the store keeps it: naive UTC text of fixed width (see store.UTCDateTimeField)."""
    return when.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


#: the tap hot path, written once instead of built by the ORM per tap (peewee spent
#: ~0.5 ms generating each statement; this path runs 6-7 statements per tap)
HOT_SQL = {
    "claim": "INSERT INTO tap_inbox (device, tap_id, uid, at, received_at, outcome, points, result) "
             "VALUES (?, ?, ?, ?, ?, 'pending', 0, '{}') ON CONFLICT DO NOTHING",
    "stored": "SELECT result FROM tap_inbox WHERE device = ? AND tap_id = ?",
    "card": "SELECT c.status, c.member_id, m.name, m.tier, m.status, m.valid_until, m.balance "
            "FROM card c JOIN member m ON m.id = c.member_id WHERE c.uid = ?",
    "accrue": "INSERT INTO accrual (member_id, activity, day, item) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    "entry": "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, device, ref, created_at) "
             "VALUES (?, ?, ?, ?, ?, ?, 'tap', ?, ?, ?) RETURNING id",
    "accrued": "UPDATE accrual SET entry_id = ? WHERE member_id = ? AND activity = ? AND day = ? AND item = ?",
    "credit": "UPDATE member SET balance = balance + ?, updated_at = ? WHERE id = ? RETURNING balance",
    "decided": "UPDATE tap_inbox SET outcome = ?, points = ?, member = ?, result = ? WHERE device = ? AND tap_id = ?",
}

#: labels of the entries that are not Table 1 activities
LABELS = {
    "redeem": {"th": "แลกคะแนน", "en": "Redeemed"},
    "transfer_in": {"th": "รับโอนคะแนน", "en": "Transfer in"},
    "transfer_out": {"th": "โอนคะแนน", "en": "Transfer out"},
    "adjust": {"th": "ปรับปรุงคะแนน", "en": "Adjustment"},
}
