"""Points moved by staff: award (counter and event activities), void, transfer, redeem.

Each operation is one unit of work that appends ledger entries through
:class:`server.services.ledger.Ledger`, moves the cached balances and writes an audit
row; balances never go below zero (unless a void is told ``allow_negative``).

Who may credit what is decided here, for every entry point alike (console, JSON API,
CLI): activities in :data:`NOT_BY_HAND` are earned only by a gate tap or by enrolment,
so an award made by staff (``source="admin"``) refuses them.

Sites (``docs/sites.md``): every operation takes the staff account's ``scope``; a member
whose home site is outside it is :class:`NotFound` (as an id that does not exist), and so
is a void of such a member's entry. An award is made *at a site* (:meth:`Points.site_of`):
it is recorded in ``ledger_entry.site`` and its "which day" is that site's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from server.domain import rules
from server.services import members, sites, tiers
from server.services.errors import NotFound, ServiceError, Words
from server.services.ledger import Ledger, LiveProgramme, append_void
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope, day_at
from server.store import Accrual, IlsPayment, LedgerEntry, Member, is_sqlite

#: activities staff never credit by hand: gates credit entry and late stay, enrolment sign-up
NOT_BY_HAND = ("signup", "entry", "late_stay")


def refuse_retired(act) -> None:
    """Refuse to credit an activity retired from the console (``retired = true``), naming it.

    A tap earns nothing for it (``rules._decide_member``); a staff award, an event and an
    attendance list are refused the same way, for every entry point (console, API, CLI).
    The name is given in both languages (:class:`~server.services.errors.Words`).
    """
    if act is not None and act.retired:
        raise ServiceError(
            "%(activity)s (%(name)s) is retired: it earns no points any more",
            activity=act.code,
            name=Words(act.en, act.th),
        )


class Points:
    """Operations that move points."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, ils=None):
        self.ledger = ledger
        self.clock = ledger.clock
        self.ils = ils  # server.services.ils.Ils: fine discounts paid in the library system

    def member(self, ref, scope: Scope = EVERYTHING):
        """A member staff of ``scope`` may move points for: home site within it (else NotFound)."""
        m = members.find(ref)
        if not scope.covers(m.home_site, self.prog):
            raise NotFound("no member %(ref)s", ref=ref)
        return m

    def site_of(self, m, scope: Scope = EVERYTHING) -> str:
        """Where staff of ``scope`` credit member ``m``: the account's site when it has exactly
        one, else the member's home site, else the default site (a code of the programme)."""
        prog = self.prog
        if scope.sites is not None and len(scope.sites) == 1:
            code = next(iter(scope.sites))
        else:
            code = m.home_site
        return code if code in prog.sites else prog.default_site

    def _covers_entry(self, entry: LedgerEntry, scope: Scope) -> bool:
        """Whether staff of ``scope`` may void ``entry``: a branch voids only its own awards (made at its sites).

        An entry that records no site (none does after the ``sites`` migration) belongs to its member's home site.
        """
        if scope.sites is None:
            return True
        if entry.site is not None:
            return entry.site in scope.sites
        return scope.covers(entry.member.home_site, self.prog)

    def entry_for_void(self, entry_id: int, scope: Scope = EVERYTHING) -> LedgerEntry:
        """An entry staff of ``scope`` may void (the rule of :meth:`void`), else NotFound as a missing id.

        The console's confirmation page asks this first, so it shows exactly what the void allows.
        """
        with read_unit():
            e = LedgerEntry.get_or_none(LedgerEntry.id == entry_id)
            if e is None or not self._covers_entry(e, scope):
                raise NotFound("no ledger entry %(id)s", id=entry_id)
        return e

    def counter_activities(self) -> list:
        """The activities staff may credit by hand (the console's credit form): none retired."""
        return [a for code, a in self.prog.activities.items() if code not in NOT_BY_HAND and not a.retired]

    def award(
        self,
        ref,
        activity: str,
        *,
        item: str | None = None,
        at=None,
        actor: str = "system",
        source: str = "admin",
        ref_key: str | None = None,
        scope: Scope = EVERYTHING,
    ) -> tuple[str, LedgerEntry | None]:
        """Credit a counter/event activity to a member under the same limits; (outcome, entry).

        ``source="admin"`` is staff crediting by hand (console, API, CLI): it refuses the
        activities only gates and enrolment credit. Other sources (e.g. ``"tap"`` for a
        test standing in for a gate) are recorded as given.

        Any member of the programme may be credited, whatever their home site: a visiting
        patron borrows or attends at a branch (the shared card). The award is made at
        :meth:`site_of`: recorded there, decided by that site's view of the programme (its
        time zone's day, its activities and shops). Redeeming, transferring and voiding stay
        within ``scope``.
        """
        site = self.site_of(members.find(ref), scope)
        prog = sites.view(self.prog, site)
        act = prog.activity(activity) if activity in prog.activities else None
        if act is None:
            raise ServiceError(
                "unknown activity %(activity)r; known: %(known)s",
                activity=activity,
                known=", ".join(sorted(prog.activities)),
            )
        if activity == "signup":
            raise ServiceError("sign-up points are credited by member add")
        if source == "admin" and activity in NOT_BY_HAND:
            raise ServiceError("%(activity)s is not credited at the counter", activity=activity)
        refuse_retired(act)  # as the site sees it: a tap there earns nothing for it either
        when = self.ledger.time_of(at, prog.tz)
        if when > self.clock() + timedelta(seconds=prog.future_tolerance_s):
            raise ServiceError("cannot award points in the future")
        if not self.ledger.live.campaigns.available(activity, when):  # as a counter's tap (taps._decide)
            raise ServiceError("%(activity)s is earned only while its campaign runs", activity=activity)
        today = rules.business_day(self.clock(), prog)
        if activity == "partner_purchase" and item and prog.partners:
            shop = rules.partner_shop(item, prog)  # the programme's name; old names are aliases
            if shop is None:
                raise ServiceError(
                    "unknown partner shop %(shop)r; known: %(known)s", shop=item, known=", ".join(prog.partners)
                )
            item = shop
            if rules.business_day(when, prog) < today - timedelta(days=prog.max_tap_age_days):
                raise ServiceError(
                    "a stamp older than %(days)s days cannot be credited (%(day)s)",
                    days=prog.max_tap_age_days,
                    day=when.date(),
                )
        day = rules.business_day(when, prog)
        try:
            key = rules.accrual_key(act, day, item or "", site=site)
        except rules.RuleError as exc:
            raise ServiceError.of(exc) from None
        with unit_of_work():
            m = members.find(ref)
            members.check_active(m, day)
            points = rules.tier_points(act, m.tier, prog)  # the member's tier's table
            entry = self.ledger.credit(
                m.id,
                act.code,
                points,
                day,
                when,
                source=source,
                item=item or "",
                actor=actor,
                ref=ref_key,
                key=key,
                site=site,
                campaign=self.ledger.one_off_tag(act.code, points),  # counted in its campaign's report
            )
            if entry is not None:
                self.ledger.audit(
                    actor, "points.award", m.id, activity=activity, item=item, points=points, entry=entry.id
                )
                tiers.maybe_promote(self.ledger, m, day, actor)
        return ("credited" if entry else "limit_reached"), entry

    def void(
        self,
        entry_id: int,
        reason: str,
        *,
        actor: str = "system",
        allow_negative: bool = False,
        scope: Scope = EVERYTHING,
    ) -> list[LedgerEntry]:
        """Reverse an entry (both legs of a transfer) with a reason; the original stays.

        Within ``scope``: an entry is the scope's when it was made at one of its sites or its
        member's home site is one of them (a branch voids its own mistaken award to a visitor);
        any other is NotFound, like a missing id, and so is a transfer with such a leg (both
        legs are voided).
        """
        if not reason or not reason.strip():
            raise ServiceError("a reason is required to void an entry")
        with unit_of_work():
            q = LedgerEntry.select().where(LedgerEntry.id == entry_id)
            # PostgreSQL: a second void of the same entry waits here for the first to commit, then
            # finds its void below (SQLite's BEGIN IMMEDIATE serialises them already). NO KEY UPDATE:
            # a void of another entry referring to this one (the other leg of a transfer, a declined
            # request's refund of its pledge) is not held up by it, so neither waits for the other
            # (a deadlock); such a void meeting this one is refused by append_void
            orig = (q if is_sqlite() else q.for_update("FOR NO KEY UPDATE")).first()
            if orig is None or not self._covers_entry(orig, scope):
                raise NotFound("no ledger entry %(id)s", id=entry_id)
            if orig.source == "void":
                raise ServiceError("entry %(id)s is itself a void", id=entry_id)
            if orig.source == "tier":
                raise ServiceError("entry %(id)s is a tier change: set the tier again instead", id=entry_id)
            legs = [orig]
            if orig.source == "transfer" and orig.ref:
                legs = list(  # in id order: two voids of a transfer's two legs at once move its members in one order
                    LedgerEntry.select()
                    .where((LedgerEntry.ref == orig.ref) & (LedgerEntry.source == "transfer"))
                    .order_by(LedgerEntry.id)
                )
            if not all(self._covers_entry(leg, scope) for leg in legs):
                raise NotFound("no ledger entry %(id)s", id=entry_id)
            out = []
            for leg in legs:
                if LedgerEntry.get_or_none(LedgerEntry.void_of == leg.id):
                    raise ServiceError("entry %(id)s is already voided", id=leg.id)
                self._check_not_paid_in_ils(leg)
                if leg.points > 0 and not allow_negative:
                    self.ledger.debit(leg.member_id, leg.points)
                else:
                    Member.update(balance=Member.balance - leg.points).where(Member.id == leg.member_id).execute()
                rev = append_void(  # voided meanwhile (the other leg of a transfer, at once): refused as such
                    leg.id,
                    member=leg.member_id,
                    activity=leg.activity,
                    points=-leg.points,
                    day=leg.day,
                    item=leg.item,
                    at=self.clock(),
                    source="void",
                    note=reason.strip()[:300],
                    actor=actor,
                    ref=leg.ref,
                    site=self.ledger.site_of(leg),  # a tap's entry names only its device: its site, not the default
                    created_at=self.clock(),
                )
                # the day's credit is gone, so the member may earn it again
                Accrual.delete().where(Accrual.entry == leg.id).execute()
                out.append(rev)
            self.ledger.audit(actor, "points.void", entry_id, reason=reason, reversals=[r.id for r in out])
        return out

    @staticmethod
    def _check_not_paid_in_ils(entry: LedgerEntry) -> None:
        """Refuse to void a fine discount paid (or being paid) in the library system.

        Its points pay a fine in the ILS, which privcard cannot take back (SIP2 has no
        refund): a void would give the points back as well. A *refused* payment's points
        came back already (its refund is the entry's void); a *pending* one's come back
        only by the ILS's answer or ``ils resolve BK --not-paid``; a *confirmed* one's when staff
        reverse the payment in the ILS by hand and say so (``ils reversed BK``: docs/ils.md).
        """
        p = IlsPayment.get_or_none(IlsPayment.entry == entry.id)
        if p is None or p.status in ("refused", "reversed"):  # its points came back already (its refund)
            return
        if p.status == "pending":
            raise ServiceError(
                "entry %(id)s is a fine discount the library system has not answered yet (%(transaction)s): "
                "it is settled by its answer, or by ils resolve",
                id=entry.id,
                transaction=p.transaction,
            )
        raise ServiceError(
            "entry %(id)s is a fine discount paid in the library system (%(transaction)s): its points come back only "
            "when staff reverse the payment there (ils reversed)",
            id=entry.id,
            transaction=p.transaction,
        )

    def transfer(
        self,
        source_ref,
        target_ref,
        points: int,
        *,
        actor: str = "system",
        note: str | None = None,
        scope: Scope = EVERYTHING,
    ):
        """Move points between members; never below zero, never out of a blocked or expired member's
        account, never to an expired one. Both within ``scope`` (else NotFound)."""
        if type(points) is not int or points <= 0:
            raise ServiceError("points to transfer must be a positive whole number")
        now = self.clock()
        day = rules.business_day(now, self.prog)
        ref = f"transfer:{uuid.uuid4().hex}"
        with unit_of_work():
            src, dst = self.member(source_ref, scope), self.member(target_ref, scope)
            if src.id == dst.id:
                raise ServiceError("cannot transfer points to the same member")
            # a blocked member's points are held, an expired one's wait for the renewal (as for a redemption)
            members.check_may_spend(src, day)
            members.check_active(dst, day)  # a member's validity is the programme's: its day
            site = self.site_of(src, scope)
            day = day_at(self.prog, site, now)  # the entries are made at the site: its day
            self.ledger.debit(src.id, points)
            out_e = LedgerEntry.create(
                member=src.id,
                activity="transfer_out",
                points=-points,
                day=day,
                item=str(dst.id),
                at=now,
                source="transfer",
                ref=ref,
                actor=actor,
                note=note,
                site=site,
                created_at=now,
            )
            Member.update(balance=Member.balance + points).where(Member.id == dst.id).execute()
            in_e = LedgerEntry.create(
                member=dst.id,
                activity="transfer_in",
                points=points,
                day=day,
                item=str(src.id),
                at=now,
                source="transfer",
                ref=ref,
                actor=actor,
                note=note,
                site=site,
                created_at=now,
            )
            self.ledger.audit(actor, "points.transfer", src.id, to=dst.id, points=points)
        return out_e, in_e

    def redeem(
        self,
        ref,
        reward: str,
        *,
        points: int | None = None,
        units: int | None = None,
        actor: str = "system",
        scope: Scope = EVERYTHING,
    ) -> dict:
        """Spend points on a reward; returns what was given. Balance never goes below zero.

        Within ``scope``: a member of another site is NotFound. A blocked member's points are
        held, an expired member's wait for the renewal (:func:`members.check_may_spend`).

        A fine discount for a member with a ``patron_id``, when a library system is linked,
        is paid there (:mod:`server.services.ils`): refused if it exceeds the fines the ILS
        reports (nothing taken); else the points are held by this redemption's debit and a
        pending payment recorded in the same transaction, then 37 Fee Paid is sent; the
        result has ``"ils": {"status", "transaction", "message"}`` (refused: the points are
        back, ``balance`` says so).
        """
        self.member(ref, scope)  # refused before anything else, as a missing id would be
        r = self.prog.rewards.get(reward)
        if r is None:
            raise ServiceError(
                "unknown reward %(reward)r; known: %(known)s", reward=reward, known=", ".join(sorted(self.prog.rewards))
            )
        if points is not None and type(points) is not int:  # 2.5 or True is a typo, not points
            raise ServiceError("points must be a whole number, got %(points)r", points=points)
        if r.step_points:  # fine discount: points in steps, value in baht
            if points is None:
                raise ServiceError(
                    "%(reward)s needs --points (a multiple of %(step)s)", reward=reward, step=r.step_points
                )
            try:
                baht = rules.fine_discount_baht(points, self.prog)
            except rules.RuleError as exc:
                raise ServiceError.of(exc) from None
            cost, value = points, {"baht": baht}
        else:
            if units is None:  # not given: one unit; 0 is a mistake, not "one"
                units = 1
            if type(units) is not int or not 1 <= units <= 1000:
                raise ServiceError("units must be 1-1000")
            cost, value = r.points * units, {"units": units}
            if points is not None and points != cost:
                raise ServiceError(
                    "%(reward)s costs %(cost)s points for %(units)s unit(s), not %(points)s",
                    reward=reward,
                    cost=cost,
                    units=units,
                    points=points,
                )
        via_ils, fines = None, None
        if r.step_points and self.ils is not None and self.ils.configured:
            m = self.member(ref, scope)
            if self.ils.applies(m):
                members.check_may_spend(m, self.ledger.today())  # before the ILS is asked
                if m.balance < cost:  # refused before asking the ILS (the debit checks again)
                    raise ServiceError(
                        "balance %(balance)s is less than %(points)s points", balance=m.balance, points=cost
                    )
                asked = self.clock()
                fines = (self.ils.check_fines(m, value["baht"], actor).fines_baht, asked)
                via_ils = m.patron_id
        now = self.clock()
        payment = None
        with unit_of_work():
            m = self.member(ref, scope)
            # blocked: held; expired: the balance waits for the renewal (a validity is the programme's day)
            members.check_may_spend(m, rules.business_day(now, self.prog))
            if via_ils is not None and m.patron_id != via_ils:
                raise ServiceError("member %(id)s's patron_id changed meanwhile; try again", id=m.id)
            self.ledger.debit(m.id, cost)
            site = self.site_of(m, scope)
            e = LedgerEntry.create(
                member=m.id,
                activity="redeem",
                points=-cost,
                day=day_at(self.prog, site, now),  # made at the site: its day
                item=reward,
                at=now,
                source="redeem",
                actor=actor,
                site=site,
                created_at=now,
                note=", ".join(f"{k}={v}" for k, v in value.items()),
            )
            if via_ils is not None:
                payment = self.ils.hold(m, e, value["baht"], cost, fines)
            self.ledger.audit(
                actor,
                "points.redeem",
                m.id,
                reward=reward,
                points=cost,
                **value,
                **({"ils_transaction": payment.transaction} if payment else {}),
            )
            balance = self.ledger.balance(m.id)
        out = {
            "entry": e.id,
            "member": m.id,
            "reward": reward,
            "points": cost,
            **value,
            "balance": balance,
            "label": {"th": r.th, "en": r.en},
        }
        if payment is not None:
            out["ils"] = self.ils.pay(payment.id, actor)
            if out["ils"]["status"] == "refused":
                out["balance"] = self.ledger.balance(m.id)
        return out
