"""The feedback desk (issue 14): patrons' complaints, suggestions, compliments, questions and
book-purchase requests, from the kiosk, their own page, or taken by staff at the counter, by
e-mail or by phone; the queue staff work from; answers; the reports.

Statuses and what may follow what are :mod:`server.domain.feedback`'s; the text rules (a
category of :data:`broker.contract.FEEDBACK_CATEGORIES`, 1-1000 characters, no control
characters) are the bus contract's, so a kiosk's message and a typed one obey the same.
Text is stored as typed and shown escaped everywhere.

An answer goes back to the patron by their channel: queued as the ``feedback_answer``
message (e-mail, through the message outbox) in the same transaction as the answer, when
the member has an address and the outbox is wired (``messages``); otherwise it waits on
their own page; anonymous kiosk feedback has no channel back (``delivery`` says which).

A book-purchase request may pledge points (``[feedback] book_request_points``): the
points are debited as a ``book_request`` ledger entry with the request (refused if the
balance is short), given back by a void entry if the library declines, kept if it buys.

Sites (``docs/sites.md``): an item is given at a site (``feedback.site``): a kiosk's
feedback at the kiosk's site, the patron page's at the member's home site, staff's at the
site they name (within their sites), else their one site, else the member's home site.
Every operation takes the staff account's ``scope``: another site's item is
:class:`NotFound`, the same answer as an id that does not exist.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import peewee as pw

from broker import contract
from server.domain import feedback as rules_fb
from server.domain import rules
from server.services import members as members_mod
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope, day_at
from server.store import Card, Device, Feedback, LedgerEntry, Member

log = logging.getLogger(__name__)

#: the ledger entry of a pledge (its void gives the points back)
PLEDGE_ACTIVITY = "book_request"
#: the most items a list returns
MAX_LIST = 1000
#: the console's staff accounts (``server.web.accounts.Staff``), read without importing the console
_STAFF = pw.Table("web_staff", ("id", "username", "active"))


def _check(check, value):
    """Run a contract check; its refusal becomes a ServiceError with the same template."""
    try:
        return check(value)
    except contract.ContractError as exc:
        raise ServiceError.of(exc) from None


class FeedbackDesk:
    """Submit, list, assign, move, answer and report on feedback."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, messages=None):
        self.ledger = ledger
        self.clock = ledger.clock
        #: the message outbox (``svc.messages``): None until wired, then answers are e-mailed
        self.messages = messages

    # ------------------------------------------------------------------ in

    def submit(
        self,
        *,
        channel: str,
        category: str,
        text: str,
        member=None,
        rating: int | None = None,
        pledge: bool = False,
        actor: str = "system",
        site: str | None = None,
        scope: Scope = EVERYTHING,
    ) -> dict:
        """Record written feedback (status ``new``); ``member``: id or card UID, or None (anonymous).

        ``pledge`` on a book-purchase request debits the programme's ``book_request_points``
        in the same transaction (refused, and nothing stored, when the balance is short).
        Given at ``site`` (a site of the programme within ``scope``); none: the patron page's
        at the member's home site, staff's at their one site, else the member's home site.
        """
        if channel not in rules_fb.CHANNELS:
            raise ServiceError(
                "channel must be one of %(known)s, got %(channel)r",
                known=", ".join(rules_fb.CHANNELS),
                channel=str(channel)[:40],
            )
        category = _check(contract.check_feedback_category, category)
        text = _check(contract.check_feedback_text, text)
        if rating is not None and (type(rating) is not int or not 1 <= rating <= 5):
            raise ServiceError("rating must be 1-5, got %(rating)r", rating=rating)
        price = 0
        if pledge:
            if category != "book_request":
                raise ServiceError("only a book-purchase request can pledge points")
            price = self.prog.book_request_points
            if price <= 0:
                raise ServiceError("book-purchase requests pledge no points in this programme")
            if member is None:
                raise ServiceError("a request that pledges points needs a member")
        site = self._check_site(site, scope)
        now = self.clock()
        with unit_of_work():
            m = members_mod.find(member) if member not in (None, "") else None
            site = site or self._site_for(channel, m, scope)
            row = Feedback.create(
                device="",
                feedback_id=f"{channel[:1]}-{uuid.uuid4().hex[:20]}",
                rating=rating,
                at=now,
                member=m.id if m else None,
                received_at=now,
                channel=channel,
                category=category,
                text=text,
                status="new",
                recorded_by=actor if channel in rules_fb.STAFF_CHANNELS else None,
                updated_at=now,
                site=site,
            )
            if price:
                self._pledge(row, m, price, now, actor)
            self.ledger.audit(
                actor,
                "feedback.submit",
                row.id,
                channel=channel,
                category=category,
                member=row.member,
                site=site or self.prog.default_site,  # NULL in the row: the default site's
            )
        return self.get(row.id)

    def _check_site(self, site, scope: Scope) -> str | None:
        """A site staff named (None/"": none), a site of the programme within ``scope``."""
        if site in (None, ""):
            return None
        code = str(site).strip().upper()
        prog = self.prog
        if code not in prog.sites:
            raise ServiceError("unknown site %(site)r; known: %(known)s", site=code, known=", ".join(prog.sites))
        if not scope.covers(code, prog):
            raise ServiceError("site %(site)s is outside your sites", site=code)
        return code

    def _site_for(self, channel: str, m: Member | None, scope: Scope) -> str | None:
        """Where feedback no one placed is given: staff's one site, else the member's home site."""
        if channel in rules_fb.STAFF_CHANNELS and scope.sites is not None and len(scope.sites) == 1:
            return next(iter(scope.sites))
        home = m.home_site if m is not None else None
        if home in self.prog.sites:
            return home
        if channel in rules_fb.STAFF_CHANNELS and scope.sites is not None:  # several sites, no member
            return next(c for c in self.prog.sites if c in scope.sites)
        return None

    def at_sites(self, scope: Scope, codes: list[str] | None = None):
        """A condition on ``feedback`` selecting the items of these sites (None: the scope's; NULL = default)."""
        prog = self.prog
        if codes is None:
            if scope.everything:
                return None
            codes = scope.codes(prog)
        cond = Feedback.site.in_(list(codes) or [""])
        if prog.default_site in codes:
            cond |= Feedback.site.is_null()
        return cond

    def covers(self, row: Feedback, scope: Scope) -> bool:
        """Whether staff of ``scope`` see an item."""
        return scope.covers(row.site, self.prog)

    def _pledge(self, row: Feedback, m: Member, price: int, now: datetime, actor: str) -> None:
        """Debit the pledge (inside the caller's transaction): spent as a redemption is (not blocked, not expired)."""
        members_mod.check_may_spend(m, rules.business_day(now, self.prog))
        self.ledger.debit(m.id, price)
        entry = LedgerEntry.create(
            member=m.id,
            activity=PLEDGE_ACTIVITY,
            points=-price,
            day=day_at(self.prog, row.site, now),  # pledged where the item was given: that site's today
            item=f"feedback:{row.id}",
            site=row.site,
            at=now,
            source="feedback",
            actor=actor,
            note=row.text[:120],
            created_at=now,
        )
        Feedback.update(pledge_points=price, pledge_entry=entry.id).where(Feedback.id == row.id).execute()

    def record_kiosk(self, device_id: str, fb: contract.Feedback) -> bool:
        """Store a kiosk's rating and/or written message once per feedback_id; True if new.

        The device is already authorised (:meth:`server.services.devices.Devices.record_feedback`).
        A message with a card is the card's member's; without one it is anonymous.
        """
        try:
            with unit_of_work():
                member = None
                if fb.uid:
                    card = Card.get_or_none(Card.uid == fb.uid)
                    member = card.member_id if card else None
                written = fb.text is not None
                device = Device.get_or_none(Device.id == device_id)
                row = Feedback.create(
                    device=device_id,
                    feedback_id=fb.feedback_id,
                    rating=fb.rating,
                    at=fb.at,
                    member=member,
                    received_at=self.clock(),
                    channel="kiosk",
                    category=fb.category,
                    text=fb.text,
                    status="new" if written else None,
                    updated_at=self.clock() if written else None,
                    site=device.site if device is not None else None,
                )
                if written:
                    self.ledger.audit(
                        f"device:{device_id}",
                        "feedback.submit",
                        row.id,
                        channel="kiosk",
                        category=fb.category,
                        member=member,
                        site=row.site or self.prog.default_site,  # the kiosk's site (NULL: the default site)
                    )
            return True
        except pw.IntegrityError:
            return False

    # ------------------------------------------------------------------ the queue

    def _row(self, fid, scope: Scope = EVERYTHING) -> Feedback:
        """An item of written feedback within ``scope`` (another site's: NotFound, as a missing id)."""
        try:
            n = int(str(fid).strip())
        except (TypeError, ValueError):
            raise NotFound("no feedback %(id)r", id=str(fid)[:40]) from None
        row = Feedback.get_or_none((Feedback.id == n) & Feedback.status.is_null(False)) if 0 < n < 2**63 else None
        if row is None or not self.covers(row, scope):
            raise NotFound("no feedback %(id)r", id=str(fid)[:40])
        return row

    def as_dict(self, row: Feedback, member: Member | None = None) -> dict:
        """One item as shown on screens and in JSON."""
        now = self.clock()
        return {
            "id": row.id,
            "at": contract.format_time(row.at),
            "received_at": contract.format_time(row.received_at),
            "age_hours": round((now - row.received_at).total_seconds() / 3600, 1),
            "channel": row.channel,
            "category": row.category,
            "text": row.text,
            "rating": row.rating,
            "member": row.member,
            "member_name": member.name if member else None,
            "member_email": member.email if member else None,
            "device": row.device or None,
            "site": row.site if row.site in self.prog.sites else self.prog.default_site,
            "status": row.status,
            "assignee": row.assignee,
            "answer": row.answer,
            "action_taken": row.action_taken,
            "answered_by": row.answered_by,
            "first_answered_at": contract.format_time(row.first_answered_at) if row.first_answered_at else None,
            "answered_at": contract.format_time(row.answered_at) if row.answered_at else None,
            "delivery": row.delivery,
            "channel_back": self.channel_back(row, member),
            "closed_at": contract.format_time(row.closed_at) if row.closed_at else None,
            "recorded_by": row.recorded_by,
            "pledge_points": row.pledge_points or 0,
            "pledge_entry": row.pledge_entry,
            "refund_entry": row.refund_entry,
            "decision": row.decision,
            "next": list(rules_fb.TRANSITIONS.get(row.status, ())),
        }

    def channel_back(self, row: Feedback, member: Member | None) -> str:
        """How an answer would reach the patron now: ``email``, ``page`` (their own page) or ``none``."""
        if member is None:
            return "none"
        if member.email and self.messages is not None:
            return "email"
        return "page"

    def get(self, fid, scope: Scope = EVERYTHING) -> dict:
        """One item (written feedback only) within ``scope``, NotFound otherwise."""
        with read_unit():
            row = self._row(fid, scope)
            member = Member.get_or_none(Member.id == row.member) if row.member else None
            return self.as_dict(row, member)

    def list(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        assignee: str | None = None,
        member=None,
        open_only: bool = False,
        limit: int = 200,
        site: str | None = None,
        scope: Scope = EVERYTHING,
    ) -> list[dict]:
        """The queue, oldest open first then newest closed, with filters (each checked).

        Within ``scope`` (a site's staff: its sites' items); ``site``: one of them (another
        site's: NotFound).
        """
        q = Feedback.select().where(Feedback.status.is_null(False))
        if site not in (None, ""):
            code = str(site).strip().upper()
            if code not in self.prog.sites or not scope.covers(code, self.prog):
                raise NotFound("no site %(code)s", code=code)
            q = q.where(self.at_sites(scope, [code]))
        elif not scope.everything:
            q = q.where(self.at_sites(scope))
        if status:
            if status not in rules_fb.STATUSES:
                raise ServiceError(
                    "status must be one of %(known)s, got %(status)r",
                    known=", ".join(rules_fb.STATUSES),
                    status=str(status)[:40],
                )
            q = q.where(Feedback.status == status)
        if open_only:
            q = q.where(Feedback.status.in_(("new", "in_progress")))
        if category:
            q = q.where(Feedback.category == _check(contract.check_feedback_category, category))
        if channel:
            if channel not in rules_fb.CHANNELS:
                raise ServiceError(
                    "channel must be one of %(known)s, got %(channel)r",
                    known=", ".join(rules_fb.CHANNELS),
                    channel=str(channel)[:40],
                )
            q = q.where(Feedback.channel == channel)
        if assignee:
            q = q.where(Feedback.assignee == assignee) if assignee != "-" else q.where(Feedback.assignee.is_null())
        if member not in (None, ""):
            q = q.where(Feedback.member == members_mod.find(member).id)
        limit = max(1, min(int(limit), MAX_LIST))
        closed_last = pw.Case(None, [(Feedback.status.in_(("answered", "closed")), 1)], 0)
        with read_unit():
            rows = list(q.order_by(closed_last, Feedback.received_at.asc(), Feedback.id).limit(limit))
            ids = {r.member for r in rows if r.member}
            people = {m.id: m for m in Member.select().where(Member.id.in_(ids))} if ids else {}
            return [self.as_dict(r, people.get(r.member)) for r in rows]

    def of_member(self, member_id: int, limit: int = 50) -> list[dict]:
        """A member's own feedback, newest first, with the answers (their page shows this)."""
        with read_unit():
            m = Member.get_by_id(member_id)
            rows = (
                Feedback.select()
                .where((Feedback.member == member_id) & Feedback.status.is_null(False))
                .order_by(Feedback.received_at.desc(), Feedback.id.desc())
                .limit(limit)
            )
            return [self.as_dict(r, m) for r in rows]

    @staticmethod
    def _staff_exists(username: str) -> bool:
        """Whether ``username`` is an active console account."""
        try:
            return bool(
                _STAFF.select(_STAFF.id)
                .where((_STAFF.username == username) & (_STAFF.active == True))  # noqa: E712 (SQL)
                .bind(Feedback._meta.database)
                .scalar()
            )
        except pw.DatabaseError:  # no console accounts table in this database
            return False

    def assign(self, fid, assignee: str | None, *, actor: str = "system", scope: Scope = EVERYTHING) -> dict:
        """Give an item to a staff account (None or "": nobody); a closed item cannot be reassigned."""
        assignee = (assignee or "").strip() or None
        with unit_of_work():
            row = self._row(fid, scope)
            if row.status == "closed":
                raise ServiceError("feedback %(id)s is closed", id=row.id)
            if assignee is not None and not self._staff_exists(assignee):
                raise ServiceError("no active staff account %(name)r", name=assignee[:40])
            Feedback.update(assignee=assignee, updated_at=self.clock()).where(Feedback.id == row.id).execute()
            self.ledger.audit(actor, "feedback.assign", row.id, assignee=assignee, was=row.assignee)
        return self.get(row.id)

    def set_status(self, fid, status: str, *, actor: str = "system", scope: Scope = EVERYTHING) -> dict:
        """Move an item along (new → in_progress → closed …); refused for a transition the desk forbids."""
        if status not in rules_fb.STATUSES:
            raise ServiceError(
                "status must be one of %(known)s, got %(status)r",
                known=", ".join(rules_fb.STATUSES),
                status=str(status)[:40],
            )
        now = self.clock()
        with unit_of_work():
            row = self._row(fid, scope)
            if status == "answered" and row.status != "answered":
                raise ServiceError("feedback %(id)s is answered by writing the answer", id=row.id)
            if not rules_fb.may_set(row.status, status):
                raise ServiceError(
                    "feedback %(id)s cannot go from %(old)s to %(new)s", id=row.id, old=row.status, new=status
                )
            changes = {"status": status, "updated_at": now}
            if status == "closed":
                changes["closed_at"] = now
            n = Feedback.update(**changes).where((Feedback.id == row.id) & (Feedback.status == row.status)).execute()
            if n != 1:
                raise ServiceError("feedback %(id)s changed meanwhile; try again", id=row.id)
            self.ledger.audit(actor, "feedback.status", row.id, old=row.status, new=status)
        return self.get(row.id)

    def answer(
        self,
        fid,
        text: str,
        action: str | None = None,
        *,
        decision: str | None = None,
        actor: str = "system",
        scope: Scope = EVERYTHING,
    ) -> dict:
        """Write the answer and the action taken; the item becomes ``answered`` and the answer goes
        to the patron by their channel (queued in this transaction); a book-purchase request's
        ``decision`` (bought | declined) may come with it."""
        text = _check(contract.check_feedback_text, text)
        action = _check(contract.check_feedback_text, action) if action not in (None, "") else None
        now = self.clock()
        with unit_of_work():
            row = self._row(fid, scope)
            if row.status not in rules_fb.ANSWERABLE:
                raise ServiceError(
                    "feedback %(id)s cannot go from %(old)s to %(new)s", id=row.id, old=row.status, new="answered"
                )
            member = Member.get_or_none(Member.id == row.member) if row.member else None
            if decision not in (None, ""):
                self._decide(row, decision, now, actor)
                row = Feedback.get_by_id(row.id)
            delivery = self.channel_back(row, member)
            Feedback.update(
                status="answered",
                answer=text,
                action_taken=action,
                answered_by=actor,
                answered_at=now,
                first_answered_at=row.first_answered_at or now,
                delivery=delivery,
                updated_at=now,
            ).where(Feedback.id == row.id).execute()
            if delivery == "email":
                self._queue_answer(member, row, text, action)
            self.ledger.audit(actor, "feedback.answer", row.id, delivery=delivery, action_taken=action)
        return self.get(row.id)

    def _queue_answer(self, member: Member, row: Feedback, text: str, action: str | None) -> None:
        """Queue the ``feedback_answer`` message to the member (in the caller's transaction).

        Its subject is the start of what the patron wrote (their own words, in their
        language); the action taken stays with staff. The outbox renders the e-mail's HTML
        part by escaping the text, so markup in either shows as typed.
        """
        asked = " ".join(row.text.split())
        subject = asked if len(asked) <= 60 else asked[:59] + "…"
        self.messages.queue(member, "feedback_answer", {"subject": subject, "answer": text}, actor="feedback")

    def decide(self, fid, decision: str, *, actor: str = "system", scope: Scope = EVERYTHING) -> dict:
        """The library's decision on a book-purchase request: ``bought`` keeps a pledge, ``declined`` gives it back."""
        now = self.clock()
        with unit_of_work():
            row = self._row(fid, scope)
            self._decide(row, decision, now, actor)
        return self.get(row.id)

    def _decide(self, row: Feedback, decision: str, now: datetime, actor: str) -> None:
        if decision not in rules_fb.DECISIONS:
            raise ServiceError(
                "decision must be one of %(known)s, got %(decision)r",
                known=", ".join(rules_fb.DECISIONS),
                decision=str(decision)[:40],
            )
        if row.category != "book_request":
            raise ServiceError("feedback %(id)s is not a book-purchase request", id=row.id)
        if row.decision is not None:
            raise ServiceError("feedback %(id)s was %(decision)s already", id=row.id, decision=row.decision)
        refund, voided = None, None
        if decision == "declined" and row.pledge_entry:
            voided = LedgerEntry.get_or_none(LedgerEntry.void_of == row.pledge_entry)
            if voided is None:
                orig = LedgerEntry.get_by_id(row.pledge_entry)
                try:
                    refund = self.ledger.give_back(
                        orig, f"book-purchase request {row.id} declined: points given back", actor
                    ).id
                except ServiceError:  # staff voided the pledge meanwhile (PostgreSQL): its void gave them back
                    voided = LedgerEntry.get_or_none(LedgerEntry.void_of == row.pledge_entry)
                    if voided is None:
                        raise
            if voided is not None:
                # the pledge was voided already (the member page's void): its points came back by that
                # void, which is this request's refund — nothing is given back twice
                refund = voided.id
        n = (
            Feedback.update(decision=decision, refund_entry=refund, updated_at=now)
            .where((Feedback.id == row.id) & Feedback.decision.is_null())
            .execute()
        )
        if n != 1:
            raise ServiceError("feedback %(id)s changed meanwhile; try again", id=row.id)
        detail = {"given_back_by_void": voided.id} if voided is not None else {}
        self.ledger.audit(actor, "feedback.decide", row.id, decision=decision, refund=refund, **detail)

    # ------------------------------------------------------------------ reports

    def report(self, start: date, end: date, sites: list[str] | None = None) -> dict:
        """Volumes by category and channel, time to first answer (median, p90, hours), satisfaction per month.

        ``sites``: the items given at these sites (None: every site).
        """
        at = self.at_sites(EVERYTHING, sites) if sites is not None else None
        tz = self.prog.tz
        lo = datetime.combine(start, time.min).replace(tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(end + timedelta(days=1), time.min).replace(tzinfo=tz).astimezone(UTC)
        with read_unit():
            written = list(
                Feedback.select(
                    Feedback.category,
                    Feedback.channel,
                    Feedback.status,
                    Feedback.received_at,
                    Feedback.first_answered_at,
                ).where(
                    Feedback.status.is_null(False) & (Feedback.received_at >= lo) & (Feedback.received_at < hi),
                    *([at] if at is not None else []),
                )
            )
            ratings = list(
                Feedback.select(Feedback.at, Feedback.rating).where(
                    Feedback.rating.is_null(False) & (Feedback.at >= lo) & (Feedback.at < hi),
                    *([at] if at is not None else []),
                )
            )
            pledges = list(
                Feedback.select(Feedback.pledge_points, Feedback.decision).where(
                    (Feedback.pledge_points > 0) & (Feedback.received_at >= lo) & (Feedback.received_at < hi),
                    *([at] if at is not None else []),
                )
            )
        waits = [(r.first_answered_at - r.received_at).total_seconds() / 3600 for r in written if r.first_answered_at]
        months: dict[str, list[int]] = {}
        for r in ratings:
            months.setdefault(r.at.astimezone(tz).strftime("%Y-%m"), []).append(r.rating)
        by_category = Counter(r.category for r in written)
        by_channel = Counter(r.channel for r in written)

        def hours(value):
            return None if value is None else round(value, 1)

        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "total": len(written),
            "by_category": {c: by_category.get(c, 0) for c in contract.FEEDBACK_CATEGORIES},
            "by_channel": {c: by_channel.get(c, 0) for c in rules_fb.CHANNELS},
            "by_status": {s: sum(1 for r in written if r.status == s) for s in rules_fb.STATUSES},
            "first_answer_hours": {
                "answered": len(waits),
                "median": hours(rules_fb.median(waits)),
                "p90": hours(rules_fb.percentile(waits, 90)),
            },
            "satisfaction": [
                {"month": month, "ratings": len(vals), "average": round(sum(vals) / len(vals), 2)}
                for month, vals in sorted(months.items())
            ],
            "book_requests": {
                "pledged": len(pledges),
                "points_pledged": sum(p.pledge_points for p in pledges),
                "bought": sum(1 for p in pledges if p.decision == "bought"),
                "declined": sum(1 for p in pledges if p.decision == "declined"),
                "open": sum(1 for p in pledges if p.decision is None),
            },
        }
