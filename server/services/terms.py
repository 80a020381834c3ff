"""Membership terms: renewal with its fee, the term close that lapses members, tier commands.

A member's rights end on ``valid_until``, set from their group's term rule when they join
or renew (:func:`server.domain.rules.term_end`); a gate or kiosk then answers ``expired``
(the rule in :func:`server.domain.rules.decide_tap`, the allow-list drops them the same
day). :meth:`Terms.close` — run daily by the server off the tap path, and by
``privcard admin term close --date D`` — handles members whose term ended before ``D``:
their points are kept (``terms.on_expiry = "keep"``) or forfeited (``"forfeit"``: one
ledger entry taking the balance to 0, shown in the history and voidable), and each lapse
is marked (``member.lapsed_on``) so a second run changes nothing. The same close puts back
a tier won by points in an earlier term once the term a member renewed into early has
begun (:meth:`Terms._new_term_tiers`). It works in chunks of
:data:`CHUNK` members, each a short unit of work, so taps keep being answered.
"""

from __future__ import annotations

from datetime import date

import peewee as pw

from server import store
from server.domain import rules
from server.services import members, tiers
from server.services.errors import ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope
from server.store import Fee, LedgerEntry, Member

#: members handled per unit of work by a term close
CHUNK = 100


class Terms:
    """Renew, close terms, set tiers."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, messages=None):
        self.ledger = ledger
        self.clock = ledger.clock
        #: the outbox: "points forfeited" is queued with the forfeit
        self.messages = messages

    def renew(self, ref, *, until=None, actor: str = "system", scope: Scope = EVERYTHING) -> dict:
        """Renew a membership for the next term (the group's rule), recording the renewal fee.

        ``until`` is the new end typed by staff: required for a ``date`` group (staff: the
        end of employment), refused for ``none`` (that membership does not end). A tier a
        member reached by points goes back to the group's tier (or silver) in the new term.
        Only within ``scope``: a member whose home site is outside it is NotFound (``docs/sites.md``).
        """
        typed = members.parse_date(until) if until not in (None, "") else None
        today = self.ledger.today()
        now = self.clock()
        with unit_of_work():
            m = members.for_change(ref, scope, self.prog)
            if m.status != "active":
                raise ServiceError("member %(id)s is blocked", id=m.id)
            rule = self.prog.terms.rule(m.group)
            start, end = rules.renewed_until(m.group, m.valid_until, today, self.prog)
            if rule == "date":
                if typed is None:
                    raise ServiceError(
                        "group %(group)s's membership ends on a date staff type: give --until", group=m.group
                    )
                end = typed
            elif rule == "none" and typed is None:
                raise ServiceError("membership of group %(group)s does not end; nothing to renew", group=m.group or "-")
            elif typed is not None:
                end = typed
            if end is not None and end < today:
                raise ServiceError("a renewal must end today or later, not %(day)s", day=end)
            fee = self.prog.terms.renewal_fee_baht
            Fee.create(member=m, kind="renewal", baht=fee, actor=actor, at=now, note=f"until {end or '-'}")
            if m.tier_basis == "points" and start <= today:  # a new term: the tier won by points is earned again
                self._tier_back(m, actor)
            # renewed early (the new term starts after today): the tier lasts the term it was won
            # in, and goes back when the next one starts (the daily close, :meth:`_new_term_tiers`)
            Member.update(valid_until=end, term_start=start, lapsed_on=None, updated_at=now).where(
                Member.id == m.id
            ).execute()
            store.bump("allowlist")
            self.ledger.audit(actor, "member.renew", m.id, until=str(end), fee=fee, term_start=str(start))
        return {
            "member": m.id,
            "valid_until": end.isoformat() if end else None,
            "term_start": start.isoformat(),
            "fee_baht": fee,
        }

    def close(self, day=None, *, dry_run: bool = False, actor: str = "system") -> dict:
        """Lapse every member whose term ended before ``day`` (default today) and report who lapsed.

        With ``dry_run`` the same report, and nothing changes; only a preview may be dated
        after today (who will lapse then): a close would end terms that have not ended.
        """
        today = self.ledger.today()
        day = members.parse_date(day) if day is not None else today
        if day > today and not dry_run:  # members valid until the day before it are still members today
            raise ServiceError(
                "a term close cannot be dated after today (%(today)s): preview %(day)s instead", today=today, day=day
            )
        forfeit = self.prog.terms.on_expiry == "forfeit"
        lapsed: list[dict] = []
        last_id = 0
        while True:
            with unit_of_work() if not dry_run else read_unit():
                batch = list(
                    Member.select()
                    .where(
                        (Member.id > last_id)
                        & Member.valid_until.is_null(False)
                        & (Member.valid_until < day)
                        & Member.lapsed_on.is_null()
                    )
                    .order_by(Member.id)
                    .limit(CHUNK)
                )
                for m in batch:
                    lapsed.append(self._lapse(m, day, forfeit, dry_run, actor))
            if len(batch) < CHUNK:
                break
            last_id = batch[-1].id
        tiers_back = self._new_term_tiers(day, dry_run, actor)
        if not dry_run and lapsed:
            with unit_of_work():
                self.ledger.audit(
                    actor, "term.close", day.isoformat(), lapsed=len(lapsed), on_expiry=self.prog.terms.on_expiry
                )
        return {
            "date": day.isoformat(),
            "dry_run": dry_run,
            "on_expiry": self.prog.terms.on_expiry,
            "lapsed": lapsed,
            "forfeited_points": sum(r["forfeited"] for r in lapsed),
            "tiers": tiers_back,
        }

    def _tier_back(self, m: Member, actor: str, day: date | None = None) -> str:
        """A tier won by points goes back to the group's tier (or silver): a new term (inside the caller's unit)."""
        back = rules.tier_for_group(m.group, self.prog) or "silver"
        tiers.change_tier(self.ledger, m, back, "new term", "group" if back != "silver" else "default", actor, day)
        return back

    def _new_term_tiers(self, day: date, dry_run: bool, actor: str) -> list[dict]:
        """Members who renewed early and whose new term has begun by ``day``: a tier they won by points
        in an earlier term goes back (``{"member", "from", "to"}`` each; with ``dry_run`` nothing changes).

        The tier was won in an earlier term when its change is dated before the member's
        ``term_start``; a tier won since the term started is kept.
        """
        won = LedgerEntry.select(pw.fn.MAX(LedgerEntry.day)).where(
            (LedgerEntry.member == Member.id) & (LedgerEntry.source == "tier")
        )
        out: list[dict] = []
        last_id = 0
        while True:
            with unit_of_work() if not dry_run else read_unit():
                batch = list(
                    Member.select()
                    .where(
                        (Member.id > last_id)
                        & (Member.tier_basis == "points")
                        & Member.term_start.is_null(False)
                        & (Member.term_start <= day)
                        & (won < Member.term_start)
                    )
                    .order_by(Member.id)
                    .limit(CHUNK)
                )
                for m in batch:
                    row = {"member": m.id, "name": m.name, "from": m.tier, "to": None}
                    if dry_run:
                        row["to"] = rules.tier_for_group(m.group, self.prog) or "silver"
                    # claimed by one conditional UPDATE: of two replicas closing together, one changes it
                    elif (
                        Member.update(tier_basis="default")
                        .where((Member.id == m.id) & (Member.tier_basis == "points"))
                        .execute()
                        == 1
                    ):
                        row["to"] = self._tier_back(m, actor, day)
                    else:
                        continue
                    out.append(row)
            if len(batch) < CHUNK:
                break
            last_id = batch[-1].id
        return out

    def _lapse(self, m: Member, day: date, forfeit: bool, dry_run: bool, actor: str) -> dict:
        """One member's lapse (inside the caller's unit): the forfeit entry and the mark."""
        points = max(m.balance, 0) if forfeit else 0
        row = {
            "member": m.id,
            "name": m.name,
            "group": m.group,
            "valid_until": m.valid_until.isoformat(),
            "balance": m.balance,
            "forfeited": points,
            "entry": None,
        }
        if dry_run:
            return row
        # claimed first, by one conditional UPDATE: of two replicas closing the same day, the
        # second waits on the row lock, then updates nothing and forfeits nothing; a renewal
        # committed since the chunk was read (PostgreSQL lets one in) leaves the term unended
        claim = Member.update(lapsed_on=day).where(
            (Member.id == m.id) & Member.lapsed_on.is_null() & (Member.valid_until < day)
        )
        if claim.execute() != 1:
            row["forfeited"] = 0
            return row
        balance = Member.get_by_id(m.id).balance
        points = max(balance, 0) if forfeit else 0
        row["balance"], row["forfeited"] = balance, points
        now = self.clock()
        if points:
            self.ledger.debit(m.id, points)
            e = LedgerEntry.create(
                member=m.id,
                activity="forfeit",
                points=-points,
                day=day,
                item=m.valid_until.isoformat(),
                at=now,
                source="term",
                note=f"term ended {m.valid_until.isoformat()}",
                actor=actor,
                created_at=now,
            )
            row["entry"] = e.id
            if self.messages is not None:
                self.messages.queue(
                    Member.get_by_id(m.id),
                    "points_forfeited",
                    {"points": points, "valid_until": m.valid_until.isoformat()},
                    actor=actor,
                    dedupe_key=f"forfeit:{e.id}",
                )
        return row

    def set_tier(self, ref, tier: str, *, reason: str, actor: str = "system", scope: Scope = EVERYTHING) -> Member:
        """Give a member a tier by hand, with the reason recorded in their history (home site within ``scope``)."""
        with unit_of_work():
            m = members.for_change(ref, scope, self.prog)
            tiers.change_tier(self.ledger, m, tier, reason, "manual", actor)
        return Member.get_by_id(m.id)

    def overview(self) -> dict:
        """The terms and tiers as configured, with each group's current term, for the console and CLI."""
        today = self.ledger.today()
        groups = []
        for code, g in self.prog.terms.groups.items():
            end = rules.term_end(code, today, self.prog)
            groups.append(
                {
                    "code": code,
                    "label": {"th": g.th, "en": g.en},
                    "term": g.term,
                    "joining_today_until": end.isoformat() if end else None,
                    "tier": rules.tier_for_group(code, self.prog),
                }
            )
        with read_unit():
            counts = {
                "expired": Member.select().where(Member.valid_until < today).count(),
                "to_close": Member.select().where((Member.valid_until < today) & Member.lapsed_on.is_null()).count(),
                "gold": Member.select().where(Member.tier == "gold").count(),
            }
        tier_rows = []
        for code, r in self.prog.tier_rules.items():
            t = rules.tables_for(self.prog, code)
            tier_rows.append(
                {
                    "code": code,
                    "label": self.prog.tiers[code],
                    "multiplier": r.multiplier,
                    "points": {a: rules.tier_points(act, code, self.prog) for a, act in self.prog.activities.items()},
                    "groups": list(r.groups),
                    "earned_at": r.earned_at,
                    "borrow_normal": t.borrow_normal,
                    "locker_normal_days": t.locker_normal_days,
                    "room_normal_hours": t.room_normal_hours,
                    "own_tables": bool(r.tables),
                }
            )
        return {
            "today": today.isoformat(),
            "semester": rules.semester_of(today, self.prog)[0],
            "academic_year": rules.academic_year_of(today, self.prog)[0],
            "default": self.prog.terms.default,
            "renewal_fee_baht": self.prog.terms.renewal_fee_baht,
            "on_expiry": self.prog.terms.on_expiry,
            "basis": self.prog.privilege_basis,
            "groups": groups,
            "tiers": tier_rows,
            "counts": counts,
        }
