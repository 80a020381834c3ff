"""The ledger every part shares: credit, debit, balances, entries as shown, the audit trail.

The ledger is append-only (a void is a reversal entry pointing at the original) and
``member.balance`` is a cache of the sum of a member's entries, moved in the same
transaction as each entry. Members, points, attendance and reads all write and read
the ledger through this one module; the tap hot path writes the same rows with its
own hand-written SQL (:mod:`server.services.taps`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import peewee as pw

from broker import contract
from server import catalogue
from server.domain import rules
from server.domain.config import Programme
from server.services.errors import ServiceError
from server.services.live import Live
from server.store import Accrual, Audit, Device, LedgerEntry, Member, db

#: how far back staff may date a credit (by hand or an event's list): one academic year and a day
STAFF_BACKDATE_DAYS = 366
#: the most points one entry can move (``ledger_entry.points`` is a 32-bit integer on PostgreSQL)
MAX_ENTRY_POINTS = 2**31 - 1


def append_void(orig_id: int, **fields) -> LedgerEntry:
    """Append the void of entry ``orig_id`` (inside the caller's transaction).

    An entry is voided once (``ledger_entry.void_of`` is UNIQUE). Callers look for a void
    first; two transactions may both find none on PostgreSQL (READ COMMITTED) — two staff
    voiding the same entry at once — and the second one's INSERT then breaks the UNIQUE key:
    that is the refusal "entry N is already voided", not a database error (the caller's
    transaction rolls back whatever it changed).
    """
    try:
        with db.atomic():  # a savepoint: the transaction stays usable on PostgreSQL
            return LedgerEntry.create(void_of=orig_id, **fields)
    except pw.IntegrityError:
        if LedgerEntry.get_or_none(LedgerEntry.void_of == orig_id) is None:
            raise  # not the UNIQUE void_of (a member that does not exist): a bug, not a refusal
        raise ServiceError("entry %(id)s is already voided", id=orig_id) from None


class LiveProgramme:
    """``self.prog`` of a service: the ledger's programme in force, read each time (never a stale copy)."""

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.ledger.prog


class Ledger:
    """Points in and out of members' accounts, under one programme and one clock."""

    def __init__(self, prog: Programme, clock):
        self.live = Live(prog)
        self.clock = clock

    @property
    def prog(self) -> Programme:
        """The programme in force (follows changes made in the console, in any process)."""
        return self.live.current()

    def today(self) -> date:
        """The current business day."""
        return rules.business_day(self.clock(), self.prog)

    def audit(self, actor: str, action: str, target=None, **detail) -> None:
        """Record who did what (inside the caller's transaction)."""
        Audit.create(
            actor=actor or "system",
            action=action,
            target=None if target is None else str(target)[:120],
            detail=detail or None,
            at=self.clock(),
        )

    def one_off_tag(self, activity_code: str, points: int) -> str | None:
        """A staff credit's ``campaign`` tag: a campaign's one-off activity gives all it earns
        (``book_fair:+15``, as on a tap's entry), so the campaign's "points given" counts it;
        None for any other activity (staff credits get no multiplier or bonus)."""
        return f"{activity_code}:+{points}" if activity_code in self.live.campaigns.one_off else None

    def credit(
        self,
        member_id: int,
        activity_code: str,
        points: int,
        day: date,
        at: datetime,
        *,
        source: str,
        item: str = "",
        device: str | None = None,
        ref: str | None = None,
        note: str | None = None,
        actor: str | None = None,
        key: tuple | None = None,
        site: str | None = None,
        campaign: str | None = None,
    ) -> LedgerEntry | None:
        """Append an entry (and its accrual key) and move the cached balance; None if the key exists.

        ``site``: where staff made it (``ledger_entry.site``; None: the device's or the default site).
        ``campaign``: what each campaign gave (``code:+N``, :meth:`one_off_tag`), as a tap's entry records it.
        """
        try:
            with db.atomic():
                entry = LedgerEntry.create(
                    member=member_id,
                    activity=activity_code,
                    points=points,
                    day=day,
                    item=item or "",
                    at=at,
                    source=source,
                    device=device,
                    ref=ref,
                    note=note,
                    actor=actor,
                    site=site,
                    campaign=campaign,
                    created_at=self.clock(),
                )
                if key is not None:
                    Accrual.create(member=member_id, activity=activity_code, day=key[0], item=key[1], entry=entry)
        except pw.IntegrityError:
            return None
        Member.update(balance=Member.balance + points, updated_at=self.clock()).where(Member.id == member_id).execute()
        return entry

    def debit(self, member_id: int, points: int) -> None:
        """Take points off the cached balance, atomically refusing to go below zero."""
        if points > MAX_ENTRY_POINTS:  # no balance has them (and SQLite cannot even compare them)
            raise ServiceError(
                "balance %(balance)s is less than %(points)s points", balance=self.balance(member_id), points=points
            )
        n = (
            Member.update(balance=Member.balance - points, updated_at=self.clock())
            .where((Member.id == member_id) & (Member.balance >= points))
            .execute()
        )
        if n != 1:
            bal = Member.get_by_id(member_id).balance
            raise ServiceError("balance %(balance)s is less than %(points)s points", balance=bal, points=points)

    @staticmethod
    def site_of(entry: LedgerEntry) -> str | None:
        """Where an entry was made: its own ``site``, else its device's (a tap records only its
        device); None: the default site (:meth:`server.services.sites.Sites.entry_condition`'s rule)."""
        if entry.site or not entry.device:
            return entry.site
        row = Device.select(Device.site).where(Device.id == entry.device).first()
        return row.site if row is not None else None

    def give_back(self, orig: LedgerEntry, note: str, actor: str) -> LedgerEntry:
        """Return the points a debit took (a refused ILS payment, a declined book request):
        a ``void`` entry of the debit, today, and the balance raised by as much (inside the
        caller's transaction; in a savepoint of its own, so an entry voided already — by staff,
        or by another transaction committed meanwhile — is refused as such and changes nothing)."""
        now = self.clock()
        site = self.site_of(orig)
        with db.atomic():
            Member.update(balance=Member.balance - orig.points, updated_at=now).where(
                Member.id == orig.member_id
            ).execute()
            return append_void(
                orig.id,
                member=orig.member_id,
                activity=orig.activity,
                points=-orig.points,
                day=rules.day_at(self.prog, site, now),  # given back where it was taken: that site's today
                item=orig.item,
                at=now,
                source="void",
                note=note[:300],
                actor=actor,
                ref=orig.ref,
                site=site,
                created_at=now,
            )

    @staticmethod
    def balance(member_id: int) -> int:
        """The member's cached balance."""
        return Member.select(Member.balance).where(Member.id == member_id).scalar() or 0

    @staticmethod
    def ledger_sum(member_id: int) -> int:
        """The member's balance recomputed from the ledger (audits the cache)."""
        return (
            LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0))
            .where(LedgerEntry.member == member_id)
            .scalar()
        )

    def time_of(self, at, tz=None) -> datetime:
        """A time staff typed (ISO-8601; a date alone is its midnight), in ``tz`` (default: the library's) when naive."""
        tz = tz or self.prog.tz
        if at is None:
            return self.clock()
        if isinstance(at, datetime):
            return at if at.tzinfo else at.replace(tzinfo=tz)
        text = str(at).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = datetime.combine(date.fromisoformat(text), datetime.min.time()).replace(hour=12)
            except ValueError:
                raise ServiceError("not a time (ISO-8601, e.g. 2026-11-22T10:00+07:00): %(text)r", text=text) from None
        when = parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
        self.check_staff_day(when)
        return when

    def check_staff_day(self, when) -> None:
        """Refuse a staff-typed time more than :data:`STAFF_BACKDATE_DAYS` days ago (callers refuse the future).

        Credits by hand and from attendance lists are for what happened recently; a year
        typed wrong (0001, or 2025 for 2026) must not credit anything.
        """
        if when < self.clock() - timedelta(days=STAFF_BACKDATE_DAYS):
            raise ServiceError(
                "a date more than %(days)s days ago cannot be credited (%(day)s)",
                days=STAFF_BACKDATE_DAYS,
                day=when.date(),
            )

    def renamed_at_sites(self) -> dict[str, dict[str, dict]]:
        """The activities a site names otherwise than the programme: ``{code: {site: label}}``.

        A site with its own late-stay window names ``late_stay`` with it ("…the last 45 minutes
        before closing", ``server.domain.config``); an entry made there is shown with that name.
        Built once per programme version.
        """
        prog = self.prog
        cached = getattr(self, "_renamed", None)
        if cached is not None and cached[0] is prog:
            return cached[1]
        out: dict[str, dict[str, dict]] = {}
        for code, site in prog.sites.items():
            view = prog.for_site(code)
            for act in site.activities:
                here, whole = view.activities.get(act), prog.activities.get(act)
                if here is not None and (whole is None or here.label != whole.label):
                    out.setdefault(act, {})[code] = here.label
        self._renamed = (prog, out)
        return out

    def entry_dicts(self, rows: list[LedgerEntry], voided: set | frozenset = frozenset()) -> list[dict]:
        """Entries as shown (:meth:`entry_dict`), ``voided`` their ids reversed since; the sites an
        activity named otherwise was made at read at once (one query of the devices, when any)."""
        renamed = self.renamed_at_sites()
        named = [r for r in rows if r.activity in renamed]
        devices = {r.device for r in named if not r.site and r.device}
        device_site = (
            {d.id: d.site for d in Device.select(Device.id, Device.site).where(Device.id.in_(sorted(devices)))}
            if devices
            else {}
        )
        sites = {r.id: r.site or device_site.get(r.device) for r in named}
        return [self.entry_dict(r, voided=r.id in voided, site=sites.get(r.id)) for r in rows]

    def entry_dict(self, e: LedgerEntry, voided: bool = False, site: object = ...) -> dict:
        """An entry as shown on screens and in JSON. Its activity is named as the site it was made at
        names it (``site``; not given: read from the entry and its device, :meth:`site_of`)."""
        act = self.prog.activities.get(e.activity)
        label = act.label if act else catalogue.entry_label(e.activity)
        named = self.renamed_at_sites().get(e.activity)
        if named:
            where = self.site_of(e) if site is ... else site
            label = named.get(where or self.prog.default_site, label)
        if e.source == "void":
            label = catalogue.void_label(label)
        return {
            "id": e.id,
            "member": e.member_id,
            "at": contract.format_time(e.at),
            "day": e.day.isoformat(),
            "activity": e.activity,
            "label": label,
            "item": e.item or None,
            "points": e.points,
            "voided": voided,
            "void_of": e.void_of_id,
            "source": e.source,
            "device": e.device,
            "note": e.note,
            "actor": e.actor,
            # what each campaign gave this credit (``code:+N;code:+M``), for history and reports
            "campaign": getattr(e, "campaign", None),
        }

    def history(self, member_id: int, limit: int = 20) -> list[dict]:
        """The member's latest entries, newest first, with voided ones marked."""
        rows = list(
            LedgerEntry.select().where(LedgerEntry.member == member_id).order_by(LedgerEntry.id.desc()).limit(limit)
        )
        voided = (
            {
                e.void_of_id
                for e in LedgerEntry.select(LedgerEntry.void_of).where(LedgerEntry.void_of.in_([r.id for r in rows]))
            }
            if rows
            else set()
        )
        return self.entry_dicts(rows, voided)
