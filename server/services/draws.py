"""Prize draws and rankings (issue 13, item 6).

A draw is created with its filters and prize; its seed (32 bytes from ``secrets``) is
generated and recorded then, before anything is drawn, and only its SHA-256 is shown
until the draw is run. Running it freezes the eligible list (canonical: by member id,
with each member's tickets) and computes the winners with
:func:`server.domain.draws.draw`; ``show`` publishes seed, list and winners, and
``verify`` recomputes them. A ranking (most active users, top borrowers, per term)
records its top N the same way, without a seed. Winners of either can be awarded bonus
points or a reward: one ``prize`` ledger entry each, keyed so it is never given twice.

"Points earned" (filters, tickets, the most-active ranking) = credits (taps, staff,
events, sign-up, prizes) net of voids, not reduced by redemptions or transfers, in the
term when one is given (else since joining). Top borrowers count *days with a borrow
credit* (``borrow`` is one credit per day): the ILS link does not give items borrowed yet.
"""

from __future__ import annotations

import secrets
from datetime import date

from server.domain import draws as dr
from server.domain import rules
from server.services import members as members_mod
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.live import PrizeDraw
from server.services.retry import read_unit, unit_of_work
from server.store import LedgerEntry, Member

RANKINGS = ("active", "borrowers")
#: entries that are not points earned
NOT_EARNED = ("redeem", "transfer_in", "transfer_out", "void", "adjust")


class Draws:
    """Draws and rankings: create, run, show, verify, award."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, messages=None):
        self.ledger = ledger
        self.clock = ledger.clock
        #: the outbox: winners are told when a prize is awarded
        self.messages = messages

    # ------------------------------------------------------------------ terms and points

    def current_term(self) -> str:
        """Today's term label (``2/2569``)."""
        return rules.semester_of(self.ledger.today(), self.prog)[0]

    def term_bounds(self, label: str) -> tuple[date, date]:
        """First and last day of a term label such as ``2/2569`` (semester name / academic year BE)."""
        prog = self.prog
        name, _, year = str(label).partition("/")
        if not year.isdigit() or not prog.semesters:
            raise ServiceError("term must be SEMESTER/YEAR (Buddhist era), e.g. %(example)s", example="1/2569")
        first = prog.semesters[0].start
        for sem in prog.semesters:
            if sem.name != name:
                continue
            start = date(int(year) - 543 + (0 if sem.start >= first else 1), *sem.start)
            found, lo, hi = rules.semester_of(start, prog)
            if found == label:
                return lo, hi
        raise ServiceError(
            "no term %(term)r; semesters are %(names)s", term=label, names=", ".join(s.name for s in prog.semesters)
        )

    def scores(self, term: str | None, what: str = "earned") -> dict[int, int]:
        """Per member: points earned (``earned``) or days with a borrow credit (``borrowers``)."""
        q = LedgerEntry.select(LedgerEntry.id, LedgerEntry.member, LedgerEntry.points, LedgerEntry.day).where(
            LedgerEntry.void_of.is_null(), LedgerEntry.points > 0, LedgerEntry.activity.not_in(NOT_EARNED)
        )
        if what == "borrowers":
            q = q.where(LedgerEntry.activity == "borrow")
        if term:
            lo, hi = self.term_bounds(term)
            q = q.where(LedgerEntry.day >= lo, LedgerEntry.day <= hi)
        voided = {
            e.void_of_id for e in LedgerEntry.select(LedgerEntry.void_of).where(LedgerEntry.void_of.is_null(False))
        }
        out: dict[int, int] = {}
        days: dict[int, set] = {}
        for e in q:
            if e.id in voided:
                continue
            if what == "borrowers":
                days.setdefault(e.member_id, set()).add(e.day)
            else:
                out[e.member_id] = out.get(e.member_id, 0) + e.points
        return {m: len(d) for m, d in days.items()} if what == "borrowers" else out

    def eligible(self, filters: dict) -> list[tuple[int, int]]:
        """The canonical eligible list ``[(member_id, tickets)]`` for a draw's filters."""
        today = self.ledger.today()
        q = Member.select().where(Member.status == "active")
        if filters.get("group"):
            q = q.where(Member.group == filters["group"])
        if filters.get("tier"):
            q = q.where(Member.tier == filters["tier"])
        earned = self.scores(filters.get("term"))
        out = []
        for m in q:
            if m.valid_until is not None and m.valid_until < today:
                continue
            points = earned.get(m.id, 0)
            if points < filters.get("min_points", 0):
                continue
            out.append((m.id, dr.tickets_for(points, filters.get("tickets", "one"))))
        return dr.canonical(out)

    # ------------------------------------------------------------------ draws

    def create(
        self,
        name: str,
        *,
        winners: int,
        group: str | None = None,
        tier: str | None = None,
        term: str | None = None,
        min_points: int = 0,
        tickets: str = "one",
        prize_points: int | None = None,
        prize_reward: str | None = None,
        actor: str,
    ) -> dict:
        """Record a draw and its seed (the seed is generated and stored now, before the draw runs)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ServiceError("a draw needs a name (up to 200 characters)")
        if type(winners) is not int or not 1 <= winners <= 1000:
            raise ServiceError("winners must be 1-1000")
        if group:
            members_mod.check_group(group, self.prog)  # the programme's groups, a library's own included
        if tier and tier not in self.prog.tiers:
            raise ServiceError(
                "tier must be one of %(tiers)s, got %(tier)r", tiers=", ".join(self.prog.tiers), tier=tier
            )
        if term:
            self.term_bounds(term)
        if type(min_points) is not int or min_points < 0:
            raise ServiceError("min_points must be a whole number >= 0")
        try:
            dr.tickets_for(0, tickets)
        except dr.DrawError as exc:
            raise ServiceError.of(exc) from None
        prize = self._prize(prize_points, prize_reward)
        filters = {
            "group": group,
            "tier": tier,
            "term": term,
            "min_points": min_points,
            "tickets": tickets,
            "winners": winners,
        }
        seed = secrets.token_hex(32)
        with unit_of_work():
            row = PrizeDraw.create(
                name=name.strip(),
                kind="draw",
                filters=filters,
                prize=prize,
                seed=seed,
                commitment=dr.seed_commitment(seed),
                actor=actor,
                created_at=self.clock(),
            )
            self.ledger.audit(actor, "draw.create", row.id, name=row.name, filters=filters, commitment=row.commitment)
        return self.show(row.id)

    def _prize(self, points: int | None, reward: str | None) -> dict | None:
        if points is not None and reward:
            raise ServiceError("a prize is bonus points or a reward, not both")
        if points is not None:
            if type(points) is not int or not 1 <= points <= 100000:
                raise ServiceError("prize points must be 1-100000")
            return {"points": points}
        if reward:
            if reward not in self.prog.rewards:
                raise ServiceError(
                    "unknown reward %(reward)r; known: %(known)s",
                    reward=reward,
                    known=", ".join(sorted(self.prog.rewards)),
                )
            return {"reward": reward}
        return None

    def run(self, draw_id: int, *, actor: str) -> dict:
        """Freeze the eligible list and draw the winners with the recorded seed (once)."""
        with unit_of_work():
            row = self._get(draw_id)
            if row.kind != "draw":
                raise ServiceError("%(id)s is a ranking, not a draw", id=draw_id)
            if row.state != "created":
                raise ServiceError("draw %(id)s has been run already", id=draw_id)
            eligible = self.eligible(row.filters)
            winners = dr.draw(row.seed, eligible, row.filters["winners"])
            # frozen once, by one conditional UPDATE: of two runs at once (PostgreSQL lets both
            # past the check above) the second waits on the row, then finds it run and changes nothing
            frozen = PrizeDraw.update(
                eligible=[list(e) for e in eligible], winners=winners, state="run", run_at=self.clock()
            ).where((PrizeDraw.id == row.id) & (PrizeDraw.state == "created"))
            if frozen.execute() != 1:
                raise ServiceError("draw %(id)s has been run already", id=draw_id)
            self.ledger.audit(actor, "draw.run", row.id, seed=row.seed, eligible=len(eligible), winners=winners)
        return self.show(draw_id)

    def ranking(
        self,
        name: str,
        *,
        kind: str,
        term: str,
        top: int,
        prize_points: int | None = None,
        prize_reward: str | None = None,
        actor: str,
        record: bool = True,
    ) -> dict:
        """Rank members for a term (``active``: points earned; ``borrowers``: days with a borrow credit)."""
        if kind not in RANKINGS:
            raise ServiceError("ranking must be one of %(kinds)s", kinds=", ".join(RANKINGS))
        if type(top) is not int or not 1 <= top <= 1000:
            raise ServiceError("top must be 1-1000")
        self.term_bounds(term)
        prize = self._prize(prize_points, prize_reward)
        with unit_of_work():
            scores = self.scores(term, "borrowers" if kind == "borrowers" else "earned")
            # only members who agreed to appear in rankings (issue 14, consent_ranking)
            active = {
                m.id for m in Member.select(Member.id).where((Member.status == "active") & Member.consent_ranking)
            }
            ordered = sorted(((m, s) for m, s in scores.items() if m in active and s > 0), key=lambda p: (-p[1], p[0]))
            board = ordered[:top]
            if not record:
                return {
                    "kind": kind,
                    "term": term,
                    "top": [{"member": m, "score": s} for m, s in board],
                    "counts": _counts(kind),
                }
            row = PrizeDraw.create(
                name=(name or f"{kind} {term}").strip()[:200],
                kind="ranking",
                filters={"ranking": kind, "term": term, "top": top},
                prize=prize,
                eligible=[list(p) for p in ordered],
                winners=[m for m, _ in board],
                state="run",
                actor=actor,
                created_at=self.clock(),
                run_at=self.clock(),
            )
            self.ledger.audit(actor, "ranking.record", row.id, ranking=kind, term=term, winners=row.winners)
        return self.show(row.id)

    def award(self, draw_id: int, *, actor: str) -> dict:
        """Give each winner the prize: one ``prize`` ledger entry each (never twice)."""
        now = self.clock()
        day = self.ledger.today()
        with unit_of_work():
            row = self._get(draw_id)
            if row.state == "created":
                raise ServiceError("draw %(id)s has not been run", id=draw_id)
            if row.state == "awarded":
                raise ServiceError("draw %(id)s has been awarded already", id=draw_id)
            if not row.prize:
                raise ServiceError("draw %(id)s has no prize", id=draw_id)
            points = row.prize.get("points", 0)
            for member_id in row.winners:
                self.ledger.credit(
                    member_id,
                    "prize",
                    points,
                    day,
                    now,
                    source="prize",
                    item=f"draw:{row.id}",
                    note=row.prize.get("reward") or row.name[:300],
                    actor=actor,
                    key=(f"draw:{row.id}", ""),
                )
                if self.messages is not None:
                    winner = Member.get_by_id(member_id)
                    self.messages.queue(
                        winner,
                        "prize_won",
                        {"draw": row.name, "prize": self._prize_text(row.prize, winner.language)},
                        actor=actor,
                        dedupe_key=f"prize:{row.id}:{member_id}",
                    )
            row.state, row.awarded_at = "awarded", now
            row.save()
            self.ledger.audit(actor, "draw.award", row.id, prize=row.prize, winners=row.winners)
        return self.show(draw_id)

    def _prize_text(self, prize: dict, language: str | None) -> str:
        """The prize as the winner reads it: "50 แต้ม" / "50 points", or the reward's Thai / English name."""
        code = prize.get("reward")
        reward = self.prog.rewards.get(code) if code else None
        if language == "en":
            return reward.en if reward else code or f"{prize.get('points', 0)} points"
        return reward.th if reward else code or f"{prize.get('points', 0)} แต้ม"

    # ------------------------------------------------------------------ reading

    def _get(self, draw_id) -> PrizeDraw:
        row = PrizeDraw.get_or_none(PrizeDraw.id == int(draw_id)) if str(draw_id).isdigit() else None
        if row is None:
            raise NotFound("no draw %(id)r", id=draw_id)
        return row

    def show(self, draw_id) -> dict:
        """A draw as published: filters, seed (once run; its SHA-256 before), eligible list, winners."""
        with read_unit():
            row = self._get(draw_id)
            names = {
                m.id: m.name for m in Member.select(Member.id, Member.name).where(Member.id.in_(row.winners or []))
            }
        published = row.state != "created"
        return {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "state": row.state,
            "filters": row.filters,
            "prize": row.prize,
            "algorithm": dr.ALGORITHM if row.kind == "draw" else None,
            "seed": row.seed if published else None,
            "commitment": row.commitment,
            "eligible": row.eligible,
            "winners": row.winners,
            "winner_names": [names.get(m, "") for m in row.winners or []],
            "counts": _counts(row.filters.get("ranking")) if row.kind == "ranking" else None,
            "created_at": row.created_at.isoformat(),
            "run_at": row.run_at.isoformat() if row.run_at else None,
            "awarded_at": row.awarded_at.isoformat() if row.awarded_at else None,
            "actor": row.actor,
        }

    def list(self) -> list[dict]:
        """Every draw and recorded ranking, newest first."""
        with read_unit():
            ids = [r.id for r in PrizeDraw.select(PrizeDraw.id).order_by(PrizeDraw.id.desc())]
        return [self.show(i) for i in ids]

    def verify(self, draw_id) -> dict:
        """Recompute a run draw from its published seed and eligible list."""
        d = self.show(draw_id)
        if d["kind"] != "draw" or d["state"] == "created":
            raise ServiceError("only a draw that has been run can be verified")
        again = dr.draw(d["seed"], [tuple(e) for e in d["eligible"]], d["filters"]["winners"])
        return {
            "id": d["id"],
            "ok": again == d["winners"] and dr.seed_commitment(d["seed"]) == d["commitment"],
            "winners": d["winners"],
            "recomputed": again,
            "commitment_ok": dr.seed_commitment(d["seed"]) == d["commitment"],
        }


def _counts(kind: str | None) -> dict | None:
    """What a ranking counts, in Thai and English (shown on its page)."""
    if kind == "borrowers":
        return {
            "th": "นับจำนวนวันที่ได้คะแนนการยืม (ระบบห้องสมุดยังไม่ส่งจำนวนเล่มที่ยืม)",
            "en": "counts days with a borrow credit (the ILS link does not give items borrowed yet)",
        }
    if kind == "active":
        return {"th": "นับคะแนนที่ได้รับในภาคการศึกษา", "en": "counts points earned in the term"}
    return None
