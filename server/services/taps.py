"""The tap hot path: decide a batch of taps in one unit of work (group commit).

Each tap is claimed in the tap inbox (idempotent on ``(device, tap_id)``: a redelivery
gets the stored result and changes nothing), decided by :func:`server.domain.rules.decide_tap`,
and credited with the daily key claimed in the accrual table in the same transaction.
The statements are hand-written (:data:`HOT_SQL`): peewee spent ~0.5 ms building each
of the 6-7 statements per tap. The ledger rows they write are the ones
:class:`server.services.ledger.Ledger` writes for every other part.

Genuine cards: a card marked as requiring Secure Unique NFC (``card.sun``) must carry a
valid SUN URL in ``tap.ndef`` (:func:`server.sun.verify`: UID, MAC) whose read counter
is strictly greater than the last one accepted. The counter is raised by a conditional
``UPDATE card SET sun_counter = n WHERE uid = ? AND (sun_counter IS NULL OR sun_counter < n)``
in the same transaction as the credit: of two replicas handed the same URL, the second
waits on the first's row lock and then updates nothing, so the URL earns once. An
unsecured card costs nothing more than three extra columns in the card lookup.

Failures: an infrastructure error (database locked, down) leaves the whole batch
uncommitted and propagates, for the caller to retry (:mod:`server.services.retry`).
Any other exception is a bug a tap triggers: the batch is rolled back and the other
taps are decided again, one unit of work each, while the tap that raised is given up
on at once (``None`` instead of a result) — it costs that message only.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime

from broker import contract
from broker.contract import Checkout, Tap, TapResult
from server import store, sun
from server.domain import rules
from server.services import sites, tiers
from server.services.devices import Devices, Refused
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import is_infrastructure, unit_of_work
from server.store import Audit, Member

log = logging.getLogger(__name__)


class _TapFailed(Exception):
    """A tap of a batch raised something other than an infrastructure error."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


class Taps:
    """Decide taps and commit them."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, devices: Devices, keyring: sun.Keyring | None = None):
        self.ledger = ledger
        self.clock = ledger.clock
        self.ledger = ledger
        self.devices = devices
        self.keyring = keyring
        self._sql_cache: tuple[str, dict] | None = None
        self._patron_column: bool | None = None

    def decide_batch(self, batch: list[tuple[str, Tap | Checkout, datetime]]) -> list[TapResult | None]:
        """Decide several taps in one transaction; results in order, None for a tap that raised a bug."""
        try:
            with unit_of_work():
                self._follow_programme()
                return [self._decide_or_mark(i, *item) for i, item in enumerate(batch)]
        except _TapFailed as failed:
            bad = failed.index
        out: list[TapResult | None] = []
        for i, item in enumerate(batch):
            if i == bad:
                out.append(None)
                continue
            try:
                with unit_of_work():
                    self._follow_programme()
                    out.append(self._decide_or_mark(i, *item))
            except _TapFailed:
                out.append(None)
        return out

    def _follow_programme(self) -> None:
        """Once per batch, in its transaction: the programme version in force (one counter read)."""
        live = self.ledger.live
        live.sync()
        self._prog, self._campaigns = live.prog, live.campaigns

    def decide(self, device_id: str, tap: Tap | Checkout, received: datetime | None = None) -> TapResult | None:
        """Decide one tap and commit it (None if it raised a bug)."""
        return self.decide_batch([(device_id, tap, received or self.clock())])[0]

    def _decide_or_mark(self, index: int, device_id: str, tap: Tap | Checkout, received: datetime) -> TapResult:
        try:
            return self._decide(device_id, tap, received)
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            # one line per failure, the traceback only at debug level (a tap a gate resends
            # must not fill the log with a traceback each time)
            log.error(
                "tap %s from %s raised a bug, given up on (no result: the gate resends it): %s: %s",
                tap.tap_id,
                device_id,
                type(exc).__name__,
                str(exc)[:200],
            )
            log.debug("the bug tap %s from %s raised", tap.tap_id, device_id, exc_info=True)
            raise _TapFailed(index) from exc

    def _decide(self, device_id: str, tap: Tap | Checkout, received: datetime) -> TapResult:
        """Decide one tap (or checkout) inside the batch transaction (hand-written SQL: the hot path).

        No savepoints are needed: the tap is claimed in the inbox and the daily key in
        the accrual table with ``INSERT ... ON CONFLICT DO NOTHING``, so a concurrent
        replica's claim makes this one a no-op instead of an aborted transaction.

        A :class:`~broker.contract.Checkout` from a self-check proxy is decided by the same
        rules as a counter tap (the device's activity, ``borrow`` by default): claimed in
        the same inbox on its own id, its member found by :meth:`_patron` instead of a card.
        """
        checkout = isinstance(tap, Checkout)
        try:
            device = self.devices.authorise(device_id, "checkout" if checkout else "tap")
        except Refused as refused:
            return contract.invalid_result(tap.tap_id, refused.reason)
        sql = self._sql
        db = store.db
        who = tap.patron[:20] if checkout else tap.uid  # the inbox's uid column: what identified the member
        claimed = db.execute_sql(sql["claim"], (device_id, tap.tap_id, who, _ts(tap.at), _ts(received)))
        if claimed.rowcount != 1:
            row = db.execute_sql(sql["stored"], (device_id, tap.tap_id)).fetchone()
            return TapResult(**json.loads(row[0]))
        row = self._patron(device_id, tap) if checkout else db.execute_sql(sql["card"], (tap.uid,)).fetchone()
        card_status, member_id, name, tier, member_status, valid_until, balance, secured, last, sealed, group = (
            row if row else (None,) * 11
        )
        if isinstance(valid_until, str):
            valid_until = date.fromisoformat(valid_until)
        act_code = device.activity
        # the device's site's view of the programme: its time zone, hours, closures, activities
        # (issue 16; cached per programme version, so this is a dict lookup)
        prog, campaigns = sites.view(self._prog, device.site), self._campaigns
        per_item = act_code in prog.activities and prog.activities[act_code].limit == "per_item_per_day"
        item = device.id if per_item else ""
        if per_item and act_code == "partner_purchase" and (device.settings or {}).get("shop"):
            item = device.settings["shop"]  # a reader at a partner shop credits that shop
        decision = rules.decide_tap(
            prog=prog,
            device_kind=device.kind,
            device_direction=device.direction,
            device_activity_code=act_code,
            card_status=card_status,
            member_status=member_status,
            valid_until=valid_until,
            at=tap.at,
            clock_ok=tap.clock_ok,
            received=received,
            item=item,
            offline_since=device.offline_since,
            online_since=device.online_since,
        )
        outcome, points, reason = decision.outcome, 0, decision.reason
        if outcome == "credited" and not campaigns.available(decision.activity.code, decision.when):
            outcome = "no_activity"  # a campaign's one-off activity, outside its minutes
        if secured and outcome in rules.OPEN_OUTCOMES and self._genuine(device_id, tap, last, sealed) is not None:
            outcome, reason = "card_not_genuine", None
        if outcome == "credited":
            act = decision.activity
            key = rules.accrual_key(act, decision.day, decision.item, site=prog.site)
            if key is not None and db.execute_sql(sql["accrue"], (member_id, act.code, key[0], key[1])).rowcount != 1:
                outcome = "limit_reached"
            else:
                # the member's tier's table, then the campaigns running at that minute
                base = rules.tier_points(act, tier, prog)
                earned, tag = campaigns.apply(act.code, decision.when, group, tier, base)
                now = _ts(self.clock())
                entry_id = db.execute_sql(
                    sql["entry"],
                    (
                        member_id,
                        act.code,
                        earned,
                        decision.day.isoformat(),
                        tap.item if checkout else decision.item,  # a checkout's entry names the book
                        _ts(tap.at),
                        "checkout" if checkout else "tap",
                        device_id,
                        tap.tap_id,
                        now,
                        tag,
                    ),
                ).fetchone()[0]
                if key is not None:
                    db.execute_sql(sql["accrued"], (entry_id, member_id, act.code, key[0], key[1]))
                balance = db.execute_sql(sql["credit"], (earned, now, member_id)).fetchone()[0]
                points = earned
                tier = self._promote(member_id, tier, group, decision.day, device_id) or tier
        # a clone learns nothing about the member it copied (nor does a blocked card's holder)
        show = member_id is not None and outcome not in ("card_blocked", "card_not_genuine", "invalid")
        result = TapResult(
            tap_id=tap.tap_id,
            outcome=outcome,
            open=outcome in rules.OPEN_OUTCOMES,
            points=points,
            balance=balance if show else None,
            activity=decision.activity.code if decision.activity else None,
            name=name if show else None,
            tier=tier if show else None,
            message=rules.message(outcome, points=points, balance=balance, activity=decision.activity, reason=reason),
        )
        db.execute_sql(
            sql["decided"],
            (
                outcome,
                points,
                member_id,
                json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True),
                decision.timing,
                device_id,
                tap.tap_id,
            ),
        )
        return result

    def _promote(self, member_id: int, tier: str | None, group: str | None, day: date, device_id: str) -> str | None:
        """Promote a member whose points earned in the term reach a tier's ``earned_at``; the new tier or None.

        Costs a query only when a points rule could promote this member (none by default).
        """
        threshold = rules.points_rule_threshold(tier, self.prog)
        if threshold is None:
            return None
        _label, start, end = rules.term_period(group, day, self.prog)
        codes = list(self.prog.activities)
        earned = store.db.execute_sql(
            self._sql["earned"].replace("__CODES__", ", ".join([store.db.obj.param] * len(codes))),
            (member_id, start.isoformat(), end.isoformat(), *codes),
        ).fetchone()[0]
        new = rules.promotion(tier, int(earned or 0), self.prog)
        if new is None:
            return None
        m = Member.get_by_id(member_id)
        reason = f"{int(earned)} points earned in {_label} (promotion at {self.prog.tier_rules[new].earned_at})"
        tiers.change_tier(self.ledger, m, new, reason, "points", f"device:{device_id}", day)
        return new

    def _patron(self, device_id: str, checkout: Checkout) -> tuple | None:
        """The member a checkout's patron (the ILS's ``AA``) is, as the card lookup's row; None if none.

        Looked up, in this order: the member whose ``patron_id`` is the patron (the library
        barcode or student number the ILS knows; a database without that column skips
        it), then the card whose UID the patron is (libraries whose patron barcode is the
        card number). The ILS identified the patron, so the card's status and Secure
        Unique NFC do not apply: only the member's status and validity do. An unknown
        patron is answered ``unknown_card``, logged and audited, and credits nothing.
        """
        db, sql = store.db, self._sql
        row = None
        if self._has_patron_id():
            row = db.execute_sql(sql["patron"], (checkout.patron,)).fetchone()
        if row is None:
            try:
                uid = contract.normalise_uid(checkout.patron)
            except contract.ContractError:
                uid = None
            if uid is not None:
                found = db.execute_sql(sql["card"], (uid,)).fetchone()
                if found is not None:
                    row = ("active", *found[1:7], False, None, None, found[10])
        if row is None:
            log.info(
                "checkout %s from %s: patron %s is not a member; nothing credited",
                checkout.tap_id,
                device_id,
                checkout.patron,
            )
            Audit.create(
                actor=f"device:{device_id}",
                action="checkout.unknown_patron",
                target=checkout.patron[:64],
                detail={"tap_id": checkout.tap_id, "item": checkout.item},
                at=self.clock(),
            )
        return row

    def _has_patron_id(self) -> bool:
        """Whether members have a ``patron_id`` column (the ILS link's migration adds it); asked once."""
        if self._patron_column is None:
            self._patron_column = "patron_id" in {c.name for c in store.db.get_columns("member")}
        return self._patron_column

    def _genuine(self, device_id: str, tap: Tap, last: int | None, sealed: str | None) -> str | None:
        """Check a secured card's SUN URL and raise its counter; None if genuine, else the failed check.

        A refusal is logged in one line and audited (``card.not_genuine``, with the check);
        a counter that went backwards also marks the card as a suspected clone.
        """
        db, sql = store.db, self._sql
        counter = None
        try:
            if self.keyring is None:
                raise sun.NotGenuine("keys", "this server has no card keys (--card-keys)")
            counter = sun.verify(tap.ndef, tap.uid, self.keyring.keys(tap.uid, sealed))
            check = rules.sun_counter_refusal(last, counter)
            if check is None:
                if db.execute_sql(sql["sun_counter"], (counter, tap.uid, counter)).rowcount == 1:
                    return None
                # another replica accepted a read since our card lookup: read what it stored
                last = db.execute_sql(sql["sun_last"], (tap.uid,)).fetchone()[0]
                check = rules.sun_counter_refusal(last, counter) or "replay"
            detail = f"read counter {counter}, last accepted {last}"
        except sun.NotGenuine as exc:
            check, detail = exc.check, exc.detail
        now = self.clock()
        if check == "counter_back":
            db.execute_sql(sql["sun_suspect"], (_ts(now), tap.uid))
        log.warning("tap %s from %s: card %s not genuine (%s: %s)", tap.tap_id, device_id, tap.uid, check, detail)
        Audit.create(
            actor=f"device:{device_id}",
            action="card.not_genuine",
            target=tap.uid,
            detail={"check": check, "detail": detail[:200], "tap_id": tap.tap_id, "counter": counter},
            at=now,
        )
        return check

    @property
    def _sql(self) -> dict:
        """The hot path's statements in the bound database's parameter style."""
        param = store.db.obj.param
        cached = self._sql_cache
        if cached is None or cached[0] != param:
            cached = (param, {k: v.replace("?", param) for k, v in HOT_SQL.items()})
            self._sql_cache = cached
        return cached[1]


def _ts(when: datetime) -> str:
    """A timestamp as the store keeps it: naive UTC text of fixed width (see store.UTCDateTimeField)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


#: the tap hot path, written once instead of built by the ORM per tap (peewee spent
#: ~0.5 ms generating each statement; this path runs 6-7 statements per tap)
HOT_SQL = {
    "claim": "INSERT INTO tap_inbox (device, tap_id, uid, at, received_at, outcome, points, result, timing) "
    "VALUES (?, ?, ?, ?, ?, 'pending', 0, '{}', '') ON CONFLICT DO NOTHING",
    "stored": "SELECT result FROM tap_inbox WHERE device = ? AND tap_id = ?",
    "card": "SELECT c.status, c.member_id, m.name, m.tier, m.status, m.valid_until, m.balance, "
    'c.sun, c.sun_counter, c.sun_keys, m."group" FROM card c JOIN member m ON m.id = c.member_id WHERE c.uid = ?',
    # a self-check checkout's patron, identified by the ILS: the member's status decides, not a card's
    "patron": "SELECT 'active', m.id, m.name, m.tier, m.status, m.valid_until, m.balance, 0, NULL, NULL, "
    'm."group" FROM member m WHERE m.patron_id = ?',
    "accrue": "INSERT INTO accrual (member_id, activity, day, item) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    "entry": "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, device, ref, created_at, "
    "campaign) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    "accrued": "UPDATE accrual SET entry_id = ? WHERE member_id = ? AND activity = ? AND day = ? AND item = ?",
    "credit": "UPDATE member SET balance = balance + ?, updated_at = ? WHERE id = ? RETURNING balance",
    # a genuine card's read counter only goes up, whichever replica gets there first
    "sun_counter": "UPDATE card SET sun_counter = ? WHERE uid = ? AND (sun_counter IS NULL OR sun_counter < ?)",
    "sun_last": "SELECT sun_counter FROM card WHERE uid = ?",
    "sun_suspect": "UPDATE card SET sun_suspect_at = ? WHERE uid = ?",
    # points earned in a term (only when a tier's points rule could promote the member)
    "earned": "SELECT COALESCE(SUM(points), 0) FROM ledger_entry WHERE member_id = ? AND day BETWEEN ? AND ? "
    "AND activity IN (__CODES__)",
    "decided": "UPDATE tap_inbox SET outcome = ?, points = ?, member = ?, result = ?, timing = ? "
    "WHERE device = ? AND tap_id = ?",
}
