"""The tap hot path: decide a batch of taps in one unit of work, in a constant number of statements.

A batch (everything the worker read from the bus, up to ``batch_max``) is decided in
one transaction whose database work is set-based: however many taps it holds, it costs
the same statements (:data:`HOT_SQL`, each written once for SQLite and PostgreSQL):

1. ``claim``: every tap claimed in the tap inbox by one ``INSERT … ON CONFLICT DO
   NOTHING RETURNING`` (idempotent on ``(device, tap_id)``: a redelivery, or a tap another
   replica holds, is not returned, and gets the stored result — ``stored``, only then);
2. ``cards``: every card (and member) the batch names, read at once (``patron`` first
   for a self-check proxy's checkouts);
3. each tap decided in Python, in the batch's order (:meth:`Taps._decide`: the rules,
   the programme's tiers and campaigns, the Secure Unique NFC check) — two taps of one
   member in a batch see each other: the second finds the daily key taken, the balance
   raised;
4. ``accrue``: every daily key claimed by one ``INSERT … ON CONFLICT DO NOTHING
   RETURNING`` (the UNIQUE accrual key decides between replicas: a key another replica
   committed, or holds uncommitted — this insert waits for it —, is not returned, and
   that tap is ``limit_reached``); ``entries`` appends the ledger rows, ``accrued`` links
   each key to its row, ``credit`` raises every balance (``UPDATE … FROM (VALUES …)
   RETURNING``, the balances as they are after the batch, whatever another replica did);
5. ``decided``: every tap's result stored in the inbox, in the same commit. The worker
   publishes the results only after the commit.

On PostgreSQL a batch of taps takes two round trips instead (:meth:`Taps._decide_read_ahead`):
``BEGIN`` with one read of everything the batch needs (the programme counter, cards and
members, the stored results of taps already decided, which daily keys the taps would claim
are taken), the same decisions in Python, then one statement sent with its ``COMMIT`` that
writes each inbox row once, with its result, and every credit — and fails whole unless every
row goes in as decided (another replica got to a tap, a key, a counter or a balance first).
Such a batch is rolled back and decided by the statements above, which claim first; so is one
with a checkout, or under a programme whose tiers have points rules.

A batch whose cards the server has read before takes one round trip (:class:`_Memory`): it is
decided from what the earlier reads and writes left (cards, members, balances, read counters,
keys taken) and its one write is guarded besides — every card and member as remembered, each
key it took as taken still there, the programme's counter unmoved —, so a change made anywhere else fails it whole, and it is read
again. ``--shared`` replicas do not remember.

Rare cases cost more, never a common one: a secured card's read counters are raised
per batch by one ``sun_batch`` statement (per tap only when another replica raced for
the same card); a member whose tier a points rule could promote is promoted after its
credit (the rest of the batch for that member is decided after the promotion).

Genuine cards: a card marked as requiring Secure Unique NFC (``card.sun``) must carry a
valid SUN URL in ``tap.ndef`` (:func:`server.sun.verify`: UID, MAC) whose read counter
is strictly greater than the last one accepted (in this batch, or stored). The counter
is raised by a conditional ``UPDATE card SET sun_counter = … WHERE … sun_counter < n``
in the same transaction as the credit: of two replicas handed the same URL, the second
waits on the first's row lock and then updates nothing, so the URL earns once.

Failures: an infrastructure error (database locked, down) leaves the whole batch
uncommitted and propagates, for the caller to retry (:mod:`server.services.retry`).
Any other exception is a bug a tap triggers: the batch is rolled back and the other
taps are decided again, one unit of work each, while the tap that raised is given up
on at once (``None`` instead of a result) — it costs that message only. (A statement
that fails names no tap: then every tap is decided alone, and the one that fails again
is given up on.)
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import peewee as pw

from broker import contract
from broker.contract import Checkout, Tap, TapResult
from server import store, sun
from server.domain import rules
from server.services import sites, tiers
from server.services.devices import Devices, Refused
from server.services.ledger import Ledger, LiveProgramme
from server.services.live import COUNTER
from server.services.retry import is_infrastructure, unit_of_work
from server.store import Audit, Device, Member

log = logging.getLogger(__name__)

#: statuses a result shows nothing of the member for (a clone learns nothing about the
#: member it copied, nor does a blocked card's holder)
_HIDDEN = ("card_blocked", "card_not_genuine", "invalid")


class _Fallback(Exception):
    """The PostgreSQL two-round-trip batch cannot be sure of its results: decided the usual way instead."""


class _TapFailed(Exception):
    """A tap of a batch raised something other than an infrastructure error."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


@dataclass(eq=False, slots=True)
class _Pending:
    """One tap (or checkout) of a batch, from its claim to its result."""

    index: int
    device_id: str
    tap: Tap | Checkout
    received: datetime
    device: Device
    checkout: bool
    member_id: int | None = None
    name: str | None = None
    group: str | None = None
    decision: rules.Decision | None = None
    outcome: str = ""
    reason: str | None = None
    key: tuple | None = None  # (member, activity, day, item): the daily key this credit claims
    earned: int = 0
    tag: str | None = None
    item: str = ""  # the ledger entry's item (a checkout's entry names the book)
    counter: int | None = None  # a secured card's read counter, accepted in this batch
    probe: rules.Decision | None = None  # the device's decision for an active card (read-ahead path)
    promotable: bool = False
    balance: int | None = None
    tier: str | None = None
    result: TapResult | None = None


@dataclass(slots=True)
class _Batch:
    """What the taps of one batch know of each other (members' balances and tiers, keys, counters)."""

    members: dict = field(default_factory=dict)  # member id -> [balance, tier]
    keys: set = field(default_factory=set)  # daily keys claimed by earlier taps of the batch
    counters: dict = field(default_factory=dict)  # secured card uid -> last read counter accepted


class _Memory:
    """What the PostgreSQL tap path remembers between batches, so a batch of known cards costs one round trip.

    The read of :meth:`Taps._decide_read_ahead` returns each card with its member (and a
    fingerprint of the columns a decision depends on: the card's status, owner and Secure
    Unique NFC settings, the member's name, tier, status, term and group); the daily keys it
    found taken; and after each write this process knows the balances and read counters it
    left and the keys it claimed. A later batch whose cards are all known is decided from
    that alone, and its one write (with its ``COMMIT``) is guarded: it fails whole unless
    every card and member still has the remembered fingerprint, balance and counter and the
    programme's counter has not moved — whoever changed them (the console, another process,
    a void that gave a key back, a failover to a standby that lacked the last commit) — and
    a key it expected free is free, a key it took as taken is still taken (a void gives
    its key back, and an award of the same points brings the balance back to what was
    remembered), a tap it expected new is new. Such a batch is decided
    the usual way and its cards are forgotten. Only one server may remember (``--shared``
    replicas change each other's members: they read every batch).
    """

    #: cards remembered at most (about 300 bytes each); more, and everything is forgotten
    MAX_CARDS = 200_000
    #: recent (device, tap_id) pairs decided here: a redelivery is read, not guessed
    MAX_TAPS = 50_000

    def __init__(self):
        self.cards: dict[str, list] = {}  # uid -> [the read's 11 columns, fingerprint]
        self.uids_of: dict[int, set[str]] = {}  # member -> its remembered cards
        self.taken: dict[int, set[tuple]] = {}  # member -> daily keys known taken (never given back unseen)
        self.taps: dict[tuple[str, str], None] = {}  # insertion-ordered: the oldest go first
        self.day = ""  # the newest key day seen: keys two days older are dropped

    def known(self, pending: list[_Pending]) -> dict[str, tuple] | None:
        """Every card of the batch as remembered, or None when one is not (or a tap may be a redelivery)."""
        rows = {}
        for p in pending:
            if (p.device_id, p.tap.tap_id) in self.taps:
                return None
            got = self.cards.get(p.tap.uid)
            if got is None:
                return None
            rows[p.tap.uid] = got
        return {uid: tuple(got[0]) for uid, got in rows.items()}

    def guard(self, uids) -> tuple[list, list, list, list]:
        """The write's guard: each card's fingerprint, its member's balance and its read counter as remembered."""
        rows = [self.cards[u] for u in uids]
        return list(uids), [r[1] for r in rows], [r[0][6] for r in rows], [r[0][8] for r in rows]

    def keys_of(self, members) -> set[tuple]:
        out: set[tuple] = set()
        for m in members:
            out |= self.taken.get(m, set())
        return out

    def learn(self, cards: dict[str, tuple], fingerprints: dict[str, str], taken) -> None:
        """What a read found: cards with their members, and the keys taken."""
        if len(self.cards) + len(cards) > self.MAX_CARDS:
            self.cards.clear(), self.uids_of.clear(), self.taken.clear()
        for uid, row in cards.items():
            old = self.cards.get(uid)
            if old is not None and old[0][1] != row[1]:
                self.uids_of.get(old[0][1], set()).discard(uid)
            self.cards[uid] = [list(row), fingerprints[uid]]
            self.uids_of.setdefault(row[1], set()).add(uid)
        for key in taken:
            self._take(key)

    def wrote(self, fresh: list[_Pending], after: dict[int, int], span: dict[str, list[int]]) -> None:
        """A write committed: the balances and read counters it left, the keys it claimed, the taps it decided."""
        for member, balance in after.items():
            for uid in self.uids_of.get(member, ()):
                self.cards[uid][0][6] = balance
        for uid, (_, hi) in span.items():
            if uid in self.cards:
                self.cards[uid][0][8] = hi
        for p in fresh:
            if p.outcome == "credited" and p.key is not None:
                self._take(p.key)
            self.taps[(p.device_id, p.tap.tap_id)] = None
        while len(self.taps) > self.MAX_TAPS:
            del self.taps[next(iter(self.taps))]

    def forget(self, batch) -> None:
        """Forget the batch's cards, their members' other cards and keys (a write failed, or another path decided)."""
        if not self.cards:  # nothing remembered (SQLite, replicas): nothing to look up
            return
        for _, tap, _ in batch:
            got = self.cards.pop(getattr(tap, "uid", None), None)
            if got is None:
                continue
            member = got[0][1]
            for uid in self.uids_of.pop(member, ()):
                self.cards.pop(uid, None)
            self.taken.pop(member, None)

    def clear(self) -> None:
        self.cards.clear(), self.uids_of.clear(), self.taken.clear(), self.taps.clear()

    def _take(self, key: tuple) -> None:
        member, _, day, _ = key
        if day[:1].isdigit() and day > self.day:  # a day ("once" keys are kept for ever)
            self.day = day
            cutoff = (date.fromisoformat(day) - timedelta(days=2)).isoformat()
            for keys in self.taken.values():
                keys.difference_update([k for k in keys if k[2][:1].isdigit() and k[2] < cutoff])
        self.taken.setdefault(member, set()).add(key)


class Taps:
    """Decide taps and commit them."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, devices: Devices, keyring: sun.Keyring | None = None):
        self.ledger = ledger
        self.clock = ledger.clock
        self.devices = devices
        self.keyring = keyring
        self._sql_cache: dict = {}
        self._sql_param: str | None = None
        self._patron_column: bool | None = None
        #: the PostgreSQL connections :data:`PREPARED_SQL` is prepared on (a connection's session keeps them)
        self._prepared_on: weakref.WeakSet = weakref.WeakSet()
        #: PostgreSQL batches the two-round-trip path handed to the usual one, by reason (bench, timings)
        self.fallbacks: Counter[str] = Counter()
        #: PostgreSQL: cards, balances and keys known from earlier batches (:class:`_Memory`); the
        #: server turns it off for ``--shared`` replicas, which change each other's members
        self.remember = True
        self.memory = _Memory()
        #: PostgreSQL batches decided from memory in one round trip (bench, timings, tests)
        self.one_trip = 0

    # ------------------------------------------------------------------ batches

    def decide_batch(self, batch: list[tuple[str, Tap | Checkout, datetime]]) -> list[TapResult | None]:
        """Decide several taps in one transaction; results in order, None for a tap that raised a bug."""
        try:
            if self._read_ahead_fits(batch):
                try:
                    with unit_of_work():
                        return self._decide_read_ahead(batch)
                except _Fallback as why:  # rolled back: nothing of it was written
                    self.fallbacks[str(why)] += 1
                    log.debug("a batch of %d taps decided the usual way: %s", len(batch), why)
                    self.memory.forget(batch)
                except BaseException:  # committed or not, what is remembered of these cards may be wrong
                    self.memory.forget(batch)
                    raise
            # the usual way changes balances and keys without telling the memory
            self.memory.forget(batch)
            with unit_of_work():
                self._follow_programme()
                return self._decide_set(batch)
        except _TapFailed as failed:
            bad = failed.index
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            if len(batch) == 1:
                _log_bug(batch[0][1], batch[0][0], exc)
                return [None]
            log.warning(
                "a statement of a batch of %d taps failed (%s: %s); deciding each tap alone",
                len(batch),
                type(exc).__name__,
                str(exc)[:200],
            )
            bad = -1
        out: list[TapResult | None] = []
        for i, item in enumerate(batch):
            if i == bad:
                out.append(None)
                continue
            try:
                with unit_of_work():
                    self._follow_programme()
                    out.append(self._decide_set([item])[0])
            except _TapFailed:
                out.append(None)
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                _log_bug(item[1], item[0], exc)
                out.append(None)
        return out

    def decide(self, device_id: str, tap: Tap | Checkout, received: datetime | None = None) -> TapResult | None:
        """Decide one tap and commit it (None if it raised a bug)."""
        return self.decide_batch([(device_id, tap, received or self.clock())])[0]

    def _follow_programme(self) -> None:
        """Once per batch, in its transaction: the programme version in force (one counter read)."""
        live = self.ledger.live
        live.sync()
        self._prog, self._campaigns = live.prog, live.campaigns

    @contextmanager
    def _blame(self, index: int, device_id: str, tap: Tap | Checkout):
        """Turn a bug the Python part of one tap raises into :class:`_TapFailed` (one log line)."""
        try:
            yield
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            _log_bug(tap, device_id, exc)
            raise _TapFailed(index) from exc

    def _decide_set(self, batch: list[tuple[str, Tap | Checkout, datetime]]) -> list[TapResult | None]:
        """The batch's work inside its transaction (see the module's docstring for the statements)."""
        out, pending, repeats = self._gather(batch)
        if pending:
            claimed, cards = self._claim(pending)
            fresh = [p for p in pending if (p.device_id, p.tap.tap_id) in claimed]
            if len(fresh) < len(pending):
                self._stored([p for p in pending if (p.device_id, p.tap.tap_id) not in claimed])
            if fresh:
                self._decide_claimed(fresh, cards)
                self._record(fresh)
        return _answers(out, pending, repeats)

    def _gather(self, batch: list[tuple[str, Tap | Checkout, datetime]]) -> tuple[list, list[_Pending], list]:
        """Each tap's device authorised (a refused one answered ``invalid``), the same tap twice noted once."""
        out: list[TapResult | None] = [None] * len(batch)
        pending: list[_Pending] = []
        first: dict[tuple[str, str], _Pending] = {}
        repeats: list[tuple[int, _Pending]] = []  # the same tap twice in one batch: the first's result
        for i, (device_id, tap, received) in enumerate(batch):
            with self._blame(i, device_id, tap):
                checkout = isinstance(tap, Checkout)
                try:
                    device = self.devices.authorise(device_id, "checkout" if checkout else "tap")
                except Refused as refused:
                    out[i] = contract.invalid_result(tap.tap_id, refused.reason)
                    continue
                seen = first.get((device_id, tap.tap_id))
                if seen is not None:
                    repeats.append((i, seen))
                    continue
                p = _Pending(i, device_id, tap, received, device, checkout)
                first[(device_id, tap.tap_id)] = p
                pending.append(p)
        return out, pending, repeats

    def _claim(self, pending: list[_Pending]) -> tuple[set[tuple[str, str]], dict | None]:
        """Claim every tap in the inbox (one statement); the (device, tap_id) pairs this batch now owns.

        On PostgreSQL the same statement reads the claimed taps' cards (a data-modifying
        ``WITH``): the card rows by UID come back too (None on SQLite: :meth:`_lookup` reads them).
        """
        rows = []
        for p in pending:
            who = p.tap.patron[:20] if p.checkout else p.tap.uid  # the inbox's uid column: what identified the member
            rows.append((p.device_id, p.tap.tap_id, who, _ts(p.tap.at), _ts(p.received)))
        if not self._postgres:
            return {(d, t) for d, t in self._run("claim", rows).fetchall()}, None
        claimed, cards = set(), {}
        for r in self._run("pg_claim_cards", rows).fetchall():
            claimed.add((r[0], r[1]))
            if r[2] is not None:
                cards[r[2]] = r[3:]
        return claimed, cards

    def _stored(self, pending: list[_Pending]) -> None:
        """Answer taps already decided (a redelivery, or another replica's) with their stored result."""
        stored = {(d, t): r for d, t, r in self._run("stored", [(p.device_id, p.tap.tap_id) for p in pending])}
        for p in pending:
            p.result = TapResult(**json.loads(stored[(p.device_id, p.tap.tap_id)]))

    def _record(self, fresh: list[_Pending]) -> None:
        """Store every result in the inbox (one statement), in the batch's transaction."""
        rows = [
            (
                p.device_id,
                p.tap.tap_id,
                p.result.outcome,
                p.result.points,
                p.member_id,
                p.result.encode().decode("utf-8"),  # the bytes the device gets
                p.decision.timing if p.decision else "",
            )
            for p in fresh
        ]
        # the batch's last statement: on PostgreSQL it carries the COMMIT (one round trip)
        self._run("decided", rows, last=True)

    # ------------------------------------------------------------------ PostgreSQL: two round trips

    def _read_ahead_fits(self, batch: list[tuple[str, Tap | Checkout, datetime]]) -> bool:
        """Whether a batch may be decided in two round trips: PostgreSQL, taps only, no tier's points rule."""
        if not self._postgres or any(isinstance(tap, Checkout) for _, tap, _ in batch):
            return False
        return not any(r.earned_at for r in self.ledger.live.prog.tier_rules.values())

    def _decide_read_ahead(self, batch: list[tuple[str, Tap | Checkout, datetime]]) -> list[TapResult | None]:
        """A batch in two round trips to PostgreSQL: everything it needs read at once, everything it does written at once.

        1. ``BEGIN`` and one read (``privcard_tap_read`` of :data:`PREPARED_SQL`): the programme counter, the batch's
           cards and members, the stored result of each tap already decided (a redelivery,
           another replica's), and which of the daily keys the taps would claim are taken —
           a key depends on the device, the tap's time and the programme, not on the card,
           so each tap is judged for an active card before the read (and that judgement is
           its decision when its card and member turn out active and valid);
        2. the taps decided in Python, in order, as :meth:`_decide_claimed` decides them (the
           taken keys make a credit ``limit_reached``, taps of one member see each other);
        3. one statement with the ``COMMIT`` (:meth:`_write_read_ahead`): each inbox row
           written once with its result, the keys claimed, the entries appended, the
           balances and secured cards' counters raised — failing whole unless every row
           goes in as decided.

        Nothing here is claimed before the write, so another replica may decide the same tap
        meanwhile: the inbox's and the accrual key's unique indexes make the second write
        wait for the first and then find the row taken, and its guard fails it, as it does
        when a key, a counter or a balance moved since the read. Such a batch, and one the
        read ahead cannot be sure of (the programme changed, a promotion), raises
        :class:`_Fallback`: it is rolled back and decided the usual way (:meth:`_decide_set`,
        which claims each tap first and answers a taken one from the inbox).
        """
        live = self.ledger.live
        seen = live.counter  # before the programme: never newer than it (Live.sync)
        self._prog, self._campaigns = live.prog, live.campaigns
        out, pending, repeats = self._gather(batch)
        if not pending:
            return out
        memory = self.memory if self.remember else None
        known = memory.known(pending) if memory is not None and seen is not None else None
        if known is not None:
            # every card known from earlier batches: decided from memory, one round trip (the guarded write)
            state = _Batch()
            taken = memory.keys_of({row[1] for row in known.values()})
            state.keys.update(taken)
            for p in pending:
                with self._blame(p.index, p.device_id, p.tap):
                    self._decide(p, known[p.tap.uid], state)
                if p.outcome == "credited" and p.promotable:
                    raise _Fallback("a credit the read ahead did not foresee")
            self._settle(pending, state, {})
            self._write_read_ahead(pending, guard=(sorted(known), seen, sorted(taken)))
            self.one_trip += 1
            return _answers(out, pending, repeats)
        probes = []  # (uid, activity, day, item): a daily key a credit of this tap would claim
        for p in pending:
            with self._blame(p.index, p.device_id, p.tap):
                prog = sites.view(self._prog, p.device.site)
                p.probe = probe = self._judge(p, prog, "active", "active", None)
                if probe.outcome == "credited":
                    key = rules.accrual_key(probe.activity, probe.day, probe.item, site=prog.site)
                    if key is not None:
                        probes.append((p.tap.uid, probe.activity.code, key[0], key[1]))
        uids = sorted({p.tap.uid for p in pending})
        params = (
            uids,
            [p.device_id for p in pending],
            [p.tap.tap_id for p in pending],
            *([k[i] for k in probes] for i in range(4)),
            COUNTER,
        )
        cursor = self._execute_prepared("privcard_tap_read", params)
        cards, stored, taken, counter, fingerprints = {}, {}, set(), 0, {}
        for r in cursor:
            kind = r[0]
            if kind == 0:
                cards[r[1]] = r[2:13]
                fingerprints[r[1]] = r[13]
            elif kind == 1:
                stored[(r[1], r[2])] = r[4]
            elif kind == 2:
                taken.add((r[3], r[2], r[4], r[5]))
            else:
                counter = r[8]
        live.sync(value=counter)
        if live.prog is not self._prog:
            raise _Fallback("the programme changed")
        if memory is not None:
            memory.learn(cards, fingerprints, taken)
        fresh = []
        for p in pending:
            result = stored.get((p.device_id, p.tap.tap_id))
            if result is None:
                fresh.append(p)
            else:
                p.result = TapResult(**json.loads(result))
        if fresh:
            probed = {(cards[u][1] if u in cards else None, a, d, i) for u, a, d, i in probes}
            state = _Batch()
            state.keys.update(taken)
            for p in fresh:
                with self._blame(p.index, p.device_id, p.tap):
                    self._decide(p, cards.get(p.tap.uid), state)
                if p.outcome == "credited" and (p.promotable or (p.key is not None and p.key not in probed)):
                    raise _Fallback("a credit the read ahead did not foresee")
            self._settle(fresh, state, {})
            self._write_read_ahead(fresh)
        return _answers(out, pending, repeats)

    def _write_read_ahead(self, fresh: list[_Pending], guard: tuple[list[str], int, list[tuple]] | None = None) -> None:
        """The read-ahead batch's one write, with its COMMIT; :class:`_Fallback` if another writer got in the way.

        ``guard``: the batch's cards, decided from memory (:class:`_Memory`), the programme counter
        they were decided under, and the daily keys the memory took as taken for their members: the
        write also fails unless each card is as remembered, the counter has not moved and each of
        those keys is still taken (a void gives its key back; the balance alone can come back to
        what was remembered, by an award of the same points).
        """
        now = _ts(self.clock())
        inbox: list[list] = [[] for _ in range(10)]
        for p in fresh:
            result = p.result
            row = (
                p.device_id,
                p.tap.tap_id,
                p.tap.uid,
                _ts(p.tap.at),
                _ts(p.received),
                result.outcome,
                result.points,
                p.member_id,
                result.encode().decode("utf-8"),
                p.decision.timing if p.decision else "",
            )
            for column, value in zip(inbox, row, strict=True):
                column.append(value)
        credits = [p for p in fresh if p.outcome == "credited"]
        entries: list[list] = [[] for _ in range(13)]
        after: dict[int, int] = {}  # member -> the balance the batch expects after its credits
        for n, p in enumerate(credits):
            key = p.key or (p.member_id, p.decision.activity.code, None, None)
            row = (
                n,
                *key,
                p.earned,
                p.decision.day.isoformat(),
                p.item,
                _ts(p.tap.at),
                "tap",
                p.device_id,
                p.tap.tap_id,
                p.tag,
            )
            for column, value in zip(entries, row, strict=True):
                column.append(value)
            after[p.member_id] = p.balance
        _, span = self._counter_spans(fresh)
        memory = self.memory
        if guard is not None:
            uids, fingerprints, balances, counters = memory.guard(guard[0])
            programme, taken = guard[1], guard[2]
        else:
            uids, fingerprints, balances, counters, programme, taken = [], [], [], [], None, []
        params = (
            *inbox,
            *entries,
            now,
            list(after),
            list(after.values()),
            list(span),
            [lo for lo, _ in span.values()],
            [hi for _, hi in span.values()],
            len(fresh),
            len(credits),
            len(after),
            len(span),
            uids,
            fingerprints,
            balances,
            counters,
            programme,
            len(uids),
            *([k[i] for k in taken] for i in range(4)),
        )
        try:
            # the generic plan is made (again, after a table's statistics change) at an EXECUTE:
            # with this transaction's setting, the updates find their rows by index however
            # small the planner thinks a table is (a fresh one: a scan of every member)
            self._execute_prepared("privcard_tap_write", params, last=True, setting="SET LOCAL enable_seqscan = off; ")
        except pw.DataError as exc:
            if CONFLICT in str(exc):
                if guard is not None:
                    raise _Fallback("a card, member, key or the programme changed since it was remembered") from exc
                raise _Fallback("another writer got in the way of its write") from exc
            raise
        if self.remember:
            memory.wrote(fresh, after, span)

    def _execute_prepared(self, name: str, params: tuple, *, last: bool = False, setting: str = ""):
        """Run one of :data:`PREPARED_SQL` (``EXECUTE name(…)``), preparing them first on a new connection.

        Their text is the same for every batch size (the batch travels as arrays), so
        PostgreSQL parses and plans each once per connection, not once per batch
        (``plan_cache_mode = force_generic_plan`` for the session: a plan for the
        parameters' values would be made again each time). A prepared statement belongs
        to its session: a connection opened again (after an outage, a failover) is a new
        object and prepares them again. ``PREPARE`` is not undone by a rollback; it is sent
        before the batch's ``BEGIN`` when that has not gone out yet.
        """
        database = store.db.obj
        conn = database.connection()
        if conn not in self._prepared_on:
            outside = getattr(database._state, "begin_pending", False) or database.transaction_depth() == 0
            with conn.cursor() as cursor:
                cursor.execute("SELECT quote_literal(pg_get_serial_sequence('ledger_entry', 'id')) || '::regclass'")
                entry_seq = cursor.fetchone()[0]
            setup = "SET plan_cache_mode = force_generic_plan; " + "; ".join(
                f"PREPARE {n} ({', '.join(types)}) AS {text.replace('__ENTRY_SEQ__', entry_seq)}"
                for n, (types, text) in PREPARED_SQL.items()
            )
            if outside:
                with conn.cursor() as cursor:  # outside the transaction (autocommit): the setting stays
                    cursor.execute(setup)
            else:  # inside a begun transaction: the SET ends with it (plans are then chosen as usual)
                database.execute_sql(setup)
            self._prepared_on.add(conn)
        sql = f"{setting}EXECUTE {name}({', '.join(['%s'] * len(params))})"
        if last:
            return store.execute_and_commit(sql, params)
        return database.execute_sql(sql, params)

    # ------------------------------------------------------------------ deciding

    def _decide_claimed(self, fresh: list[_Pending], cards: dict | None) -> None:
        """Look up the batch's cards, decide each tap in order, and write the credits set-based."""
        rows = self._lookup(fresh, cards)
        batch = _Batch()
        segment: list[_Pending] = []
        promoting: set[int] = set()
        for p in fresh:
            row = rows.get(id(p))
            if row is not None and row[1] in promoting:
                # this member's tier may change with its credit: the rest is decided after it
                self._write(segment, batch)
                segment, promoting = [], set()
            with self._blame(p.index, p.device_id, p.tap):
                self._decide(p, row, batch)
            segment.append(p)
            if p.promotable:
                promoting.add(p.member_id)
        self._write(segment, batch)

    def _decide(self, p: _Pending, row: tuple | None, batch: _Batch) -> None:
        """Decide one tap (or checkout) of the batch in Python: its outcome, and the credit it asks for.

        A :class:`~broker.contract.Checkout` from a self-check proxy is decided by the same
        rules as a counter tap (the device's activity, ``borrow`` by default), its member
        found by :meth:`_lookup` (its patron) instead of a card.
        """
        tap, device = p.tap, p.device
        card_status, member_id, name, tier, member_status, valid_until, balance, secured, last, sealed, group = (
            row if row else (None,) * 11
        )
        if member_id is not None:
            # what earlier taps of this batch did to the member
            balance, tier = batch.members.setdefault(member_id, [balance, tier])
        if isinstance(valid_until, str):
            valid_until = date.fromisoformat(valid_until)
        # the device's site's view of the programme: its time zone, hours, closures, activities
        # (issue 16; cached per programme version, so this is a dict lookup)
        prog, campaigns = sites.view(self._prog, device.site), self._campaigns
        probe = p.probe
        if (
            probe is not None
            and card_status == "active"
            and member_status == "active"
            and (valid_until is None or probe.day is None or probe.day <= valid_until)
        ):
            decision = probe  # judged for an active, valid card before the read: this card's decision too
        else:
            decision = self._judge(p, prog, card_status, member_status, valid_until)
        outcome, reason = decision.outcome, decision.reason
        if outcome == "credited" and not campaigns.available(decision.activity.code, decision.when):
            outcome = "no_activity"  # a campaign's one-off activity, outside its minutes
        if secured and outcome in rules.OPEN_OUTCOMES:
            last = batch.counters.get(tap.uid, last)
            if self._genuine(p, last, sealed) is not None:
                outcome, reason = "card_not_genuine", None
            else:
                batch.counters[tap.uid] = p.counter
        if outcome == "credited":
            act = decision.activity
            key = rules.accrual_key(act, decision.day, decision.item, site=prog.site)
            key = None if key is None else (member_id, act.code, key[0], key[1])
            if key is not None and key in batch.keys:
                outcome = "limit_reached"  # an earlier tap of this batch took the day's key
            else:
                if key is not None:
                    batch.keys.add(key)
                # the member's tier's table, then the campaigns running at that minute
                base = rules.tier_points(act, tier, prog)
                p.earned, p.tag = campaigns.apply(act.code, decision.when, group, tier, base)
                p.key = key
                p.item = tap.item if p.checkout else decision.item  # a checkout's entry names the book
                p.promotable = rules.points_rule_threshold(tier, prog) is not None
        p.member_id, p.name, p.group, p.tier, p.balance = member_id, name, group, tier, balance
        p.decision, p.outcome, p.reason = decision, outcome, reason

    def _judge(
        self, p: _Pending, prog, card_status: str | None, member_status: str | None, valid_until: date | None
    ) -> rules.Decision:
        """The rules' decision on one tap at its device, for a card and member in these states."""
        tap, device = p.tap, p.device
        act_code = device.activity
        per_item = act_code in prog.activities and prog.activities[act_code].limit == "per_item_per_day"
        item = device.id if per_item else ""
        if per_item and act_code == "partner_purchase" and (device.settings or {}).get("shop"):
            item = device.settings["shop"]  # a reader at a partner shop credits that shop
        return rules.decide_tap(
            prog=prog,
            device_kind=device.kind,
            device_direction=device.direction,
            device_activity_code=act_code,
            card_status=card_status,
            member_status=member_status,
            valid_until=valid_until,
            at=tap.at,
            clock_ok=tap.clock_ok,
            received=p.received,
            item=item,
            offline_since=device.offline_since,
            online_since=device.online_since,
        )

    def _write(self, segment: list[_Pending], batch: _Batch) -> None:
        """Write a segment's credits (a constant number of statements) and build its results."""
        if not segment:
            return
        self._raise_counters(segment)
        credits = [p for p in segment if p.outcome == "credited"]
        if credits:
            now = _ts(self.clock())
            balances = (self._append_pg if self._postgres else self._append)(credits, now)
            credits = [p for p in credits if p.outcome == "credited"]
            delta: dict[int, int] = {}
            for p in credits:
                delta[p.member_id] = delta.get(p.member_id, 0) + p.earned
            for member_id, total in delta.items():
                # the balance before this segment's credits, as committed by whoever came first
                batch.members[member_id][0] = balances[member_id] - total
        self._settle(segment, batch, self._promote([p for p in credits if p.promotable]))

    def _settle(self, segment: list[_Pending], batch: _Batch, promoted: dict[int, str]) -> None:
        """Each tap's balance and tier after the credits before it (and its own), and its result."""
        for p in segment:
            state = batch.members.get(p.member_id)
            if state is not None:
                if p.outcome == "credited":
                    state[0] += p.earned
                    state[1] = promoted.get(p.member_id, state[1])
                p.balance, p.tier = state
            p.result = self._result(p)

    def _append(self, credits: list[_Pending], now: str) -> dict[int, int]:
        """Claim the credits' daily keys, append their entries, raise the balances (four statements).

        A credit whose key was taken (committed before, or by another replica meanwhile) is
        turned into ``limit_reached``. Returns the balances after the credits, by member.
        """
        keyed = [p for p in credits if p.key is not None]
        if keyed:
            won = {tuple(r) for r in self._run("accrue", [p.key for p in keyed]).fetchall()}
            for p in keyed:
                if p.key not in won:
                    p.outcome = "limit_reached"
            credits = [p for p in credits if p.outcome == "credited"]
        if not credits:
            return {}
        ids = {(d, r): i for i, d, r in self._run("entries", [_entry(p, now) for p in credits]).fetchall()}
        links = [(ids[(p.device_id, p.tap.tap_id)], *p.key) for p in credits if p.key is not None]
        if links:
            self._run("accrued", links)
        delta: dict[int, int] = {}
        for p in credits:
            delta[p.member_id] = delta.get(p.member_id, 0) + p.earned
        return dict(self._run("credit", sorted(delta.items()), now).fetchall())

    def _append_pg(self, credits: list[_Pending], now: str) -> dict[int, int]:
        """:meth:`_append` in one PostgreSQL statement (``pg_credits``: data-modifying ``WITH``)."""
        rows = [
            (n, *(p.key or (p.member_id, p.decision.activity.code, None, None)), *_entry(p, now))
            for n, p in enumerate(credits)
        ]
        entered, balances = set(), {}
        for kind, device, ref, member_id, balance in self._run("pg_credits", rows, now).fetchall():
            if kind == 0:
                entered.add((device, ref))
            else:
                balances[member_id] = balance
        for p in credits:
            if (p.device_id, p.tap.tap_id) not in entered:
                p.outcome = "limit_reached"  # its key was taken (committed before, or by another replica)
        return balances

    @property
    def _postgres(self) -> bool:
        return store.db.obj.param != "?"

    def _result(self, p: _Pending) -> TapResult:
        outcome = p.outcome
        points = p.earned if outcome == "credited" else 0
        activity = p.decision.activity
        show = p.member_id is not None and outcome not in _HIDDEN
        return TapResult(
            tap_id=p.tap.tap_id,
            outcome=outcome,
            open=outcome in rules.OPEN_OUTCOMES,
            points=points,
            balance=p.balance if show else None,
            activity=activity.code if activity else None,
            name=p.name if show else None,
            tier=p.tier if show else None,
            message=rules.message(outcome, points=points, balance=p.balance, activity=activity, reason=p.reason),
        )

    def _promote(self, credited: list[_Pending]) -> dict[int, str]:
        """Promote members whose points earned in the term reach a tier's ``earned_at``; member id -> new tier.

        Costs a query per term period only when a points rule could promote a member credited
        in the batch (none by default).
        """
        if not credited:
            return {}
        prog = self._prog
        codes = list(prog.activities)
        periods: dict[tuple, list[_Pending]] = {}
        for p in credited:
            periods.setdefault(rules.term_period(p.group, p.decision.day, prog), []).append(p)
        promoted: dict[int, str] = {}
        for (label, start, end), members in periods.items():
            ids = [p.member_id for p in members]
            sql = self._statement("earned", len(ids)).replace("__CODES__", ", ".join([store.db.obj.param] * len(codes)))
            earned = dict(store.db.execute_sql(sql, (*ids, start.isoformat(), end.isoformat(), *codes)).fetchall())
            for p in members:
                total = int(earned.get(p.member_id) or 0)
                new = rules.promotion(p.tier, total, prog)
                if new is None:
                    continue
                m = Member.get_by_id(p.member_id)
                reason = f"{total} points earned in {label} (promotion at {prog.tier_rules[new].earned_at})"
                tiers.change_tier(self.ledger, m, new, reason, "points", f"device:{p.device_id}", p.decision.day)
                promoted[p.member_id] = new
        return promoted

    # ------------------------------------------------------------------ cards and patrons

    def _lookup(self, fresh: list[_Pending], known: dict | None) -> dict[int, tuple]:
        """Each tap's card-and-member row (one statement; a second for checkouts' patrons), by ``id(pending)``.

        ``known``: the card rows the claim already read (PostgreSQL), by UID; only the cards
        it could not know (a checkout's patron read as a card number) are read here.
        """
        found: dict[int, tuple] = {}
        checkouts = [p for p in fresh if p.checkout]
        checkout_ids = {id(p) for p in checkouts}
        by_patron: dict[str, tuple] = {}
        if checkouts and self._has_patron_id():
            patrons = sorted({p.tap.patron for p in checkouts})
            by_patron = {r[0]: r[1:] for r in self._run("patrons", [(x,) for x in patrons])}
        uids: dict[int, str] = {}
        for p in fresh:
            if not p.checkout:
                uids[id(p)] = p.tap.uid
            elif p.tap.patron not in by_patron:
                try:  # libraries whose patron barcode is the card number
                    uids[id(p)] = contract.normalise_uid(p.tap.patron)
                except contract.ContractError:
                    pass
        cards = dict(known or {})
        wanted = sorted({u for i, u in uids.items() if known is None or i in checkout_ids})
        if wanted:
            cards.update({r[0]: r[1:] for r in self._run("cards", [(u,) for u in wanted])})
        for p in fresh:
            row = cards.get(uids.get(id(p)))
            if p.checkout:
                row = by_patron.get(p.tap.patron) or (
                    ("active", *row[1:7], False, None, None, row[10]) if row is not None else None
                )
                if row is None:
                    self._unknown_patron(p)
            if row is not None:
                found[id(p)] = row
        return found

    def _unknown_patron(self, p: _Pending) -> None:
        """A checkout whose patron is no member: logged and audited, credits nothing (``unknown_card``).

        The ILS identified the patron, so the card's status and Secure Unique NFC do not
        apply to a checkout: only the member's status and validity do.
        """
        checkout = p.tap
        log.info(
            "checkout %s from %s: patron %s is not a member; nothing credited",
            checkout.tap_id,
            p.device_id,
            checkout.patron,
        )
        Audit.create(
            actor=f"device:{p.device_id}",
            action="checkout.unknown_patron",
            target=checkout.patron[:64],
            detail={"tap_id": checkout.tap_id, "item": checkout.item},
            at=self.clock(),
        )

    def _has_patron_id(self) -> bool:
        """Whether members have a ``patron_id`` column (the ILS link's migration adds it); asked once."""
        if self._patron_column is None:
            self._patron_column = "patron_id" in {c.name for c in store.db.get_columns("member")}
        return self._patron_column

    # ------------------------------------------------------------------ genuine cards

    def _genuine(self, p: _Pending, last: int | None, sealed: str | None) -> str | None:
        """Check a secured card's SUN URL against the last counter accepted; None if genuine, else the failed check.

        The counter is kept in ``p.counter`` and written for the whole batch by
        :meth:`_raise_counters`. A refusal is logged and audited (:meth:`_not_genuine`).
        """
        tap = p.tap
        counter = None
        try:
            if self.keyring is None:
                raise sun.NotGenuine("keys", "this server has no card keys (--card-keys)")
            counter = sun.verify(tap.ndef, tap.uid, self.keyring.keys(tap.uid, sealed))
            check = rules.sun_counter_refusal(last, counter)
            if check is None:
                p.counter = counter
                return None
            detail = f"read counter {counter}, last accepted {last}"
        except sun.NotGenuine as exc:
            check, detail = exc.check, exc.detail
        self._not_genuine(p, check, detail, counter)
        return check

    def _raise_counters(self, segment: list[_Pending]) -> None:
        """Raise the read counter of every secured card read in the segment (one statement).

        Each card's counter goes to the highest read accepted, only if it is still below the
        lowest (no other replica accepted one of these reads meanwhile). A card another
        replica got to first has its reads checked again one by one, as they came.
        """
        reads, span = self._counter_spans(segment)
        if not reads:
            return
        raised = {r[0] for r in self._run("sun_batch", [(u, lo, hi) for u, (lo, hi) in span.items()])}
        db = store.db
        for p in reads:
            if p.tap.uid in raised:
                continue
            sql = self._sql
            if db.execute_sql(sql["sun_counter"], (p.counter, p.tap.uid, p.counter)).rowcount == 1:
                continue
            # another replica accepted a read since our card lookup: read what it stored
            last = db.execute_sql(sql["sun_last"], (p.tap.uid,)).fetchone()[0]
            check = rules.sun_counter_refusal(last, p.counter) or "replay"
            self._not_genuine(p, check, f"read counter {p.counter}, last accepted {last}", p.counter)
            p.outcome, p.reason, p.counter = "card_not_genuine", None, None

    @staticmethod
    def _counter_spans(segment: list[_Pending]) -> tuple[list[_Pending], dict[str, list[int]]]:
        """The taps whose secured card's read is accepted, and each card's lowest and highest read among them."""
        reads = [p for p in segment if p.counter is not None and p.outcome in rules.OPEN_OUTCOMES]
        span: dict[str, list[int]] = {}
        for p in reads:
            lo_hi = span.setdefault(p.tap.uid, [p.counter, p.counter])
            lo_hi[0], lo_hi[1] = min(lo_hi[0], p.counter), max(lo_hi[1], p.counter)
        return reads, span

    def _not_genuine(self, p: _Pending, check: str, detail: str, counter: int | None) -> None:
        """One log line and an audit line (``card.not_genuine``); a counter gone back marks a suspected clone."""
        tap, device_id = p.tap, p.device_id
        now = self.clock()
        if check == "counter_back":
            store.db.execute_sql(self._sql["sun_suspect"], (_ts(now), tap.uid))
        log.warning("tap %s from %s: card %s not genuine (%s: %s)", tap.tap_id, device_id, tap.uid, check, detail)
        Audit.create(
            actor=f"device:{device_id}",
            action="card.not_genuine",
            target=tap.uid,
            detail={"check": check, "detail": detail[:200], "tap_id": tap.tap_id, "counter": counter},
            at=now,
        )

    # ------------------------------------------------------------------ statements

    @property
    def _sql(self) -> dict:
        """The single-row statements in the bound database's parameter style."""
        return self._statement(None, 0)

    def _statement(self, name: str | None, rows: int) -> str | dict:
        """A statement of :data:`HOT_SQL` for ``rows`` rows, in the bound database's dialect (cached)."""
        param = store.db.obj.param
        if param != self._sql_param:
            self._sql_param, self._sql_cache = param, {}
        key = (name, rows)
        text = self._sql_cache.get(key)
        if text is None:
            if name is None:
                text = {k: v.replace("?", param) for k, v in ONE_ROW_SQL.items()}
            else:
                text = _expand(HOT_SQL[name], rows).replace("?", param)
            self._sql_cache[key] = text
        return text

    def _run(self, name: str, rows: list[tuple], *extra, last: bool = False):
        """Run a set-based statement of :data:`HOT_SQL` over ``rows`` (and the scalar ``extra`` after them).

        ``last``: the transaction's last statement (sent with its COMMIT on PostgreSQL).
        """
        params = [v for r in rows for v in r]
        params.extend(extra)
        if last:
            return store.execute_and_commit(self._statement(name, len(rows)), params)
        return store.db.execute_sql(self._statement(name, len(rows)), params)


def _answers(out: list, pending: list[_Pending], repeats: list[tuple[int, _Pending]]) -> list[TapResult | None]:
    """The batch's results in its order: each pending tap's, a repeat given its first's."""
    for p in pending:
        out[p.index] = p.result
    for i, p in repeats:
        out[i] = p.result
    return out


def _expand(template: str, rows: int) -> str:
    """Repeat a template's ``[[…]]`` part ``rows`` times, comma-separated (a VALUES list or an IN list)."""
    head, rest = template.split("[[", 1)
    shape, tail = rest.split("]]", 1)
    return head + ", ".join([shape] * rows) + tail


def _entry(p: _Pending, now: str) -> tuple:
    """A credit's ledger row, as the ``entries`` statements take it."""
    return (
        p.member_id,
        p.decision.activity.code,
        p.earned,
        p.decision.day.isoformat(),
        p.item,
        _ts(p.tap.at),
        "checkout" if p.checkout else "tap",
        p.device_id,
        p.tap.tap_id,
        now,
        p.tag,
    )


def _log_bug(tap: Tap | Checkout, device_id: str, exc: Exception) -> None:
    # one line per failure, the traceback only at debug level (a tap a gate resends
    # must not fill the log with a traceback each time)
    log.error(
        "tap %s from %s raised a bug, given up on (no result: the gate resends it): %s: %s",
        tap.tap_id,
        device_id,
        type(exc).__name__,
        str(exc)[:200],
    )
    log.debug("the bug tap %s from %s raised", tap.tap_id, device_id, exc_info=exc)


def _ts(when: datetime) -> str:
    """A timestamp as the store keeps it: naive UTC text of fixed width (see store.UTCDateTimeField)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


#: the hot path's set-based statements, written once instead of built by the ORM per tap
#: (peewee spent ~0.5 ms generating each statement); ``[[…]]`` is repeated once per row.
#: Every statement is plain SQL both SQLite (3.35+: RETURNING, UPDATE … FROM) and
#: PostgreSQL run; a column that may be NULL in every row of a VALUES list is CAST, as
#: PostgreSQL would otherwise take it for text.
HOT_SQL = {
    "claim": "INSERT INTO tap_inbox (device, tap_id, uid, at, received_at, outcome, points, result, timing) "
    "VALUES [[(?, ?, ?, ?, ?, 'pending', 0, '{}', '')]] ON CONFLICT DO NOTHING RETURNING device, tap_id",
    "stored": "SELECT device, tap_id, result FROM tap_inbox WHERE (device, tap_id) IN (VALUES [[(?, ?)]])",
    "cards": "SELECT c.uid, c.status, c.member_id, m.name, m.tier, m.status, m.valid_until, m.balance, "
    'c.sun, c.sun_counter, c.sun_keys, m."group" FROM card c JOIN member m ON m.id = c.member_id '
    "WHERE c.uid IN ([[?]])",
    # a self-check checkout's patron, identified by the ILS: the member's status decides, not a card's
    "patrons": "SELECT m.patron_id, 'active', m.id, m.name, m.tier, m.status, m.valid_until, m.balance, 0, NULL, "
    'NULL, m."group" FROM member m WHERE m.patron_id IN ([[?]])',
    "accrue": "INSERT INTO accrual (member_id, activity, day, item) VALUES [[(?, ?, ?, ?)]] "
    "ON CONFLICT DO NOTHING RETURNING member_id, activity, day, item",
    "entries": "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, device, ref, "
    "created_at, campaign) VALUES [[(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)]] RETURNING id, device, ref",
    "accrued": "WITH v(entry_id, member_id, activity, day, item) AS (VALUES [[(?, ?, ?, ?, ?)]]) "
    "UPDATE accrual SET entry_id = v.entry_id FROM v WHERE accrual.member_id = v.member_id "
    "AND accrual.activity = v.activity AND accrual.day = v.day AND accrual.item = v.item",
    "credit": "WITH v(id, delta) AS (VALUES [[(?, ?)]]) UPDATE member SET balance = member.balance + v.delta, "
    "updated_at = ? FROM v WHERE member.id = v.id RETURNING member.id, member.balance",
    # a genuine card's read counter only goes up, whichever replica gets there first
    "sun_batch": "WITH v(uid, lo, hi) AS (VALUES [[(?, ?, ?)]]) UPDATE card SET sun_counter = v.hi FROM v "
    "WHERE card.uid = v.uid AND (card.sun_counter IS NULL OR card.sun_counter < v.lo) RETURNING card.uid",
    # points earned in a term (only when a tier's points rule could promote a member)
    "earned": "SELECT member_id, COALESCE(SUM(points), 0) FROM ledger_entry WHERE member_id IN ([[?]]) "
    "AND day BETWEEN ? AND ? AND activity IN (__CODES__) GROUP BY member_id",
    "decided": "WITH v(device, tap_id, outcome, points, member, result, timing) AS "
    "(VALUES [[(?, ?, ?, ?, ?, ?, ?)]]) UPDATE tap_inbox SET outcome = v.outcome, points = v.points, "
    "member = CAST(v.member AS INTEGER), result = v.result, timing = v.timing FROM v "
    "WHERE tap_inbox.device = v.device AND tap_inbox.tap_id = v.tap_id",
}

# PostgreSQL only (data-modifying WITH): the claim reads the claimed taps' cards, and the
# credits are one statement. A daily key is claimed with its ledger entry's id drawn from
# the entries' sequence, so the entry is appended with that id; the key's foreign key is
# checked at the end of the statement, when the entry exists.
HOT_SQL["pg_claim_cards"] = (
    "WITH claimed AS (INSERT INTO tap_inbox (device, tap_id, uid, at, received_at, outcome, points, result, timing) "
    "VALUES [[(?, ?, ?, ?, ?, 'pending', 0, '{}', '')]] ON CONFLICT DO NOTHING RETURNING device, tap_id, uid) "
    "SELECT claimed.device, claimed.tap_id, c.uid, c.status, c.member_id, m.name, m.tier, m.status, m.valid_until, "
    'm.balance, c.sun, c.sun_counter, c.sun_keys, m."group" FROM claimed LEFT JOIN card c ON c.uid = claimed.uid '
    "LEFT JOIN member m ON m.id = c.member_id"
)
_PG_CREDIT_CTES = (
    "v(n, member_id, activity, day, item, e_member, e_activity, points, eday, eitem, at, source, device, ref, "
    "created_at, campaign) AS (VALUES [[(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)]]), "
    "claimed AS (INSERT INTO accrual (member_id, activity, day, item, entry_id) "
    "SELECT member_id, activity, day, item, nextval(pg_get_serial_sequence('ledger_entry', 'id')) FROM v "
    "WHERE day IS NOT NULL ORDER BY n ON CONFLICT DO NOTHING RETURNING member_id, activity, day, item, entry_id), "
    "won AS (SELECT v.*, claimed.entry_id FROM v LEFT JOIN claimed ON claimed.member_id = v.member_id "
    "AND claimed.activity = v.activity AND claimed.day = v.day AND claimed.item = v.item "
    "WHERE v.day IS NULL OR claimed.entry_id IS NOT NULL), "
    "entries AS (INSERT INTO ledger_entry (id, member_id, activity, points, day, item, at, source, device, ref, "
    "created_at, campaign) SELECT COALESCE(entry_id, nextval(pg_get_serial_sequence('ledger_entry', 'id'))), "
    "e_member, e_activity, points, CAST(eday AS DATE), eitem, CAST(at AS TIMESTAMP), source, device, ref, "
    "CAST(created_at AS TIMESTAMP), campaign FROM won ORDER BY n RETURNING id, member_id, points, device, ref)"
)
HOT_SQL["pg_credits"] = (
    "WITH "
    + _PG_CREDIT_CTES
    + ", raised AS (UPDATE member SET balance = member.balance + d.delta, updated_at = CAST(? AS TIMESTAMP) "
    "FROM (SELECT member_id, SUM(points) AS delta FROM entries GROUP BY member_id) d "
    "WHERE member.id = d.member_id RETURNING member.id, member.balance) "
    "SELECT 0, device, ref, NULL, NULL FROM entries UNION ALL SELECT 1, NULL, NULL, id, balance FROM raised"
)

#: the text the read-ahead write's guard fails with (another writer got in the way of the batch)
CONFLICT = "privcard-read-ahead-conflict"

#: what a decision depends on of a card (``c``) and its member (``m``), but the balance and the read
#: counter (which the write checks as they are): the read returns it, a write from memory compares it
_FINGERPRINT = (
    'md5(row(c.status, c.member_id, m.name, m.tier, m.status, m.valid_until, c.sun, c.sun_keys, m."group")::text)'
)

# PostgreSQL, a batch in two round trips (Taps._decide_read_ahead), each statement prepared once
# per connection (name -> (parameter types, text)): the batch travels as arrays, so the text
# is the same for every batch size. The read: everything the batch needs (kind 0: a card and
# its member; 1: a tap already decided, its result; 2: a daily key the batch would claim that
# is taken; 3: the programme counter), one UNION of rows of the same 13 columns, each row
# looked up by its unique index (``LATERAL … LIMIT 1``: a plain join let the planner match the
# whole batch's keys, which share their activity and day, against the whole accrual table —
# 400 ms for 100 taps on a fresh table) …
_PG_READ = (
    "SELECT 0, c.uid, c.status, c.member_id, m.name, m.tier, m.status, m.valid_until, m.balance, c.sun, "
    'c.sun_counter, c.sun_keys, m."group", __FINGERPRINT__ FROM unnest($1::text[]) AS u(uid) CROSS JOIN LATERAL (SELECT uid, status, '
    "member_id, sun, sun_counter, sun_keys FROM card WHERE uid = u.uid LIMIT 1) c JOIN member m ON m.id = c.member_id "
    "UNION ALL SELECT 1, i.device, i.tap_id, NULL, i.result, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM unnest($2::text[], $3::text[]) AS t(device, tap_id) CROSS JOIN LATERAL (SELECT device, tap_id, result "
    "FROM tap_inbox WHERE device = t.device AND tap_id = t.tap_id LIMIT 1) i "
    "UNION ALL SELECT 2, NULL, a.activity, a.member_id, a.day, a.item, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS k(uid, activity, day, item) CROSS JOIN LATERAL "
    "(SELECT activity, member_id, day, item FROM accrual WHERE member_id = (SELECT member_id FROM card "
    "WHERE uid = k.uid) AND activity = k.activity AND day = k.day AND item = k.item LIMIT 1) a "
    "UNION ALL SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, x.value, NULL, NULL, NULL, NULL, NULL "
    "FROM meta x WHERE x.key = $8"
)
# … and one write of everything, sent with its COMMIT: each inbox row once, with its result
# (``ins``), the credits (as ``pg_credits`` writes them: a key claimed with its entry's id drawn
# from the entries' sequence), the balances (each checked against the balance the batch
# expects), the secured cards' counters; then the guard: unless every row went in as decided
# (the counts $30–$33) the statement fails, so none of it is written. A batch without credits
# or secured cards passes empty arrays: those parts write nothing. ``__ENTRY_SEQ__``: the entries'
# sequence, looked up once when the statement is prepared (``pg_get_serial_sequence`` costs a
# catalogue lookup per row; ``'name'::regclass`` is resolved once). The plan is generic (made
# once, for any batch): ``= ANY(…)`` on the updated tables' keys keeps it an index lookup, where
# a join to an array of unknown length, on a table the planner thinks small, became a scan.
_PG_WRITE = (
    "WITH ins AS (INSERT INTO tap_inbox (device, tap_id, uid, at, received_at, outcome, points, member, result, "
    "timing) SELECT device, tap_id, uid, CAST(at AS TIMESTAMP), CAST(received_at AS TIMESTAMP), outcome, points, "
    "member, result, timing FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::int[], $8::int[], $9::text[], $10::text[]) AS r(device, tap_id, uid, at, received_at, outcome, points, "
    "member, result, timing) ON CONFLICT DO NOTHING RETURNING 1), "
    "v AS (SELECT * FROM unnest($11::int[], $12::int[], $13::text[], $14::text[], $15::text[], $16::int[], "
    "$17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[]) AS v(n, member_id, "
    "activity, day, item, points, eday, eitem, at, source, device, ref, campaign)), "
    "claimed AS (INSERT INTO accrual (member_id, activity, day, item, entry_id) "
    "SELECT member_id, activity, day, item, nextval(__ENTRY_SEQ__) FROM v "
    "WHERE day IS NOT NULL ORDER BY n ON CONFLICT DO NOTHING RETURNING member_id, activity, day, item, entry_id), "
    "won AS (SELECT v.*, claimed.entry_id FROM v LEFT JOIN claimed ON claimed.member_id = v.member_id "
    "AND claimed.activity = v.activity AND claimed.day = v.day AND claimed.item = v.item "
    "WHERE v.day IS NULL OR claimed.entry_id IS NOT NULL), "
    "entries AS (INSERT INTO ledger_entry (id, member_id, activity, points, day, item, at, source, device, ref, "
    "created_at, campaign) SELECT COALESCE(entry_id, nextval(__ENTRY_SEQ__)), "
    "member_id, activity, points, CAST(eday AS DATE), eitem, CAST(at AS TIMESTAMP), source, device, ref, "
    "CAST($24 AS TIMESTAMP), campaign FROM won ORDER BY n RETURNING id, member_id, points), "
    "raised AS (UPDATE member SET balance = member.balance + d.delta, updated_at = CAST($24 AS TIMESTAMP) "
    "FROM (SELECT e.member_id, SUM(e.points) AS delta, b.expect FROM entries e JOIN unnest($25::int[], "
    "$26::bigint[]) AS b(id, expect) ON b.id = e.member_id GROUP BY e.member_id, b.expect) d "
    "WHERE member.id = d.member_id AND member.id = ANY($25) RETURNING member.balance = d.expect AS ok), "
    "sun AS (UPDATE card SET sun_counter = s.hi FROM unnest($27::text[], $28::bigint[], $29::bigint[]) "
    "AS s(uid, lo, hi) WHERE card.uid = s.uid AND card.uid = ANY($27) "
    "AND (card.sun_counter IS NULL OR card.sun_counter < s.lo) RETURNING 1), "
    # a batch decided from memory: its cards and members as remembered (none otherwise: $39 = 0)
    "known AS (SELECT count(*) AS n FROM unnest($34::text[], $35::text[], $36::bigint[], $37::bigint[]) "
    "AS g(uid, fp, balance, counter) CROSS JOIN LATERAL (SELECT uid, status, member_id, sun, sun_counter, sun_keys "
    "FROM card WHERE uid = g.uid LIMIT 1) c JOIN member m ON m.id = c.member_id WHERE __FINGERPRINT__ = g.fp "
    "AND m.balance = g.balance AND c.sun_counter IS NOT DISTINCT FROM g.counter), "
    # … and the daily keys it took as taken for their members, each still there (none otherwise)
    "kept AS (SELECT count(*) AS n FROM unnest($40::int[], $41::text[], $42::text[], $43::text[]) "
    "AS k(member_id, activity, day, item) CROSS JOIN LATERAL (SELECT 1 FROM accrual WHERE "
    "member_id = k.member_id AND activity = k.activity AND day = k.day AND item = k.item LIMIT 1) a) "
    # the ELSE raises (a cast of text that is no number); a subquery, so it is evaluated only if reached
    "SELECT CASE WHEN (SELECT count(*) FROM ins) = $30 AND (SELECT count(*) FROM entries) = $31 "
    "AND (SELECT count(*) FROM raised WHERE ok) = $32 AND (SELECT count(*) FROM sun) = $33 "
    "AND (SELECT n FROM known) = $39 AND (SELECT n FROM kept) = cardinality($40) AND ($38::bigint IS NULL OR "
    f"COALESCE((SELECT CAST(value AS bigint) FROM meta WHERE key = '{COUNTER}'), 0) = $38) THEN 0 "
    f"ELSE CAST((SELECT '{CONFLICT} ' || count(*) FROM ins) AS INTEGER) END"
)
#: the read-ahead batch's statements, prepared once per connection: name -> (parameter types, text)
PREPARED_SQL = {
    "privcard_tap_read": (("text[]",) * 7 + ("text",), _PG_READ.replace("__FINGERPRINT__", _FINGERPRINT)),
    "privcard_tap_write": (
        ("text[]",) * 6
        + ("int[]", "int[]", "text[]", "text[]")
        + ("int[]", "int[]", "text[]", "text[]", "text[]", "int[]")
        + ("text[]",) * 7
        + ("text", "int[]", "bigint[]", "text[]", "bigint[]", "bigint[]")
        + ("int",) * 4
        + ("text[]", "text[]", "bigint[]", "bigint[]", "bigint", "int")
        + ("int[]", "text[]", "text[]", "text[]"),
        _PG_WRITE.replace("__FINGERPRINT__", _FINGERPRINT),
    ),
}

#: one-row statements of the rare paths (a secured card another replica raced for)
ONE_ROW_SQL = {
    "sun_counter": "UPDATE card SET sun_counter = ? WHERE uid = ? AND (sun_counter IS NULL OR sun_counter < ?)",
    "sun_last": "SELECT sun_counter FROM card WHERE uid = ?",
    "sun_suspect": "UPDATE card SET sun_suspect_at = ? WHERE uid = ?",
}
