"""Events and their registration lists: create an event, preview a list, credit it.

An attendance list is CSV of card UIDs or member ids (optional header). Crediting is
idempotent: the accrual key is (member, activity, event day, event), so the same list
imported again credits nothing new. Bad rows are reported by line; good rows are kept.
The console keeps an uploaded list (``store.Upload``) between its preview and its
credit; both are made here, with the preview's rows shaped once for every viewer.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from broker import contract
from broker.contract import ContractError
from server.domain import rules
from server.services import members
from server.services.errors import Message, ServiceError
from server.services.ledger import Ledger
from server.services.points import NOT_BY_HAND
from server.services.retry import unit_of_work
from server.store import Accrual, Card, Event, Member, Upload, db

#: the activities an event's registration list can credit
EVENT_ACTIVITIES = ("pulinet_event", "db_training", "learning_activity", "volunteer")
MAX_TEXT = 5_000_000


@dataclass
class ImportReport:
    """What an attendance import did, row by row."""

    credited: list = field(default_factory=list)  # (line, member_id, entry_id)
    already: list = field(default_factory=list)  # (line, member_id)
    errors: list = field(default_factory=list)  # (line, message)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "credited": [{"line": ln, "member": m, "entry": e} for ln, m, e in self.credited],
            "already_credited": [{"line": ln, "member": m} for ln, m in self.already],
            "errors": [{"line": ln, "error": msg} for ln, msg in self.errors],
        }

    def rows(self) -> list[dict]:
        """One row per line, in file order, as an upload keeps them (reasons as template and values)."""
        with_member = [r[1] for r in self.credited] + [r[1] for r in self.already]
        names = {m.id: m.name for m in Member.select(Member.id, Member.name).where(Member.id.in_(with_member))}
        rows = [
            {"line": ln, "member": m, "name": names.get(m), "result": "credited", "entry": e}
            for ln, m, e in self.credited
        ]
        rows += [{"line": ln, "member": m, "name": names.get(m), "result": "already"} for ln, m in self.already]
        rows += [{"line": ln, "result": "error", "error": msg, **_why(msg)} for ln, msg in self.errors]
        return sorted(rows, key=lambda r: r["line"])


def _why(msg) -> dict:
    """A row's reason as its template and values (stored with the upload, shown in each viewer's language)."""
    if getattr(msg, "template", None) is None:
        return {}
    plain = (str, int, float, bool, type(None))
    return {
        "why": {
            "template": msg.template,
            "values": {k: v if isinstance(v, plain) else str(v) for k, v in msg.values.items()},
        }
    }


def event_time(ev: Event) -> str:
    """Noon local time on the event's day, so the business day is the event's day."""
    return f"{ev.day.isoformat()}T12:00:00"


class Attendance:
    """Events, registration lists and their credits."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.prog = ledger.prog
        self.clock = ledger.clock

    # ------------------------------------------------------------------ events and uploads

    def event_activities(self) -> list:
        """The activities an event can credit, as the programme defines them."""
        return [self.prog.activities[a] for a in EVENT_ACTIVITIES if a in self.prog.activities]

    def add_event(self, name: str, activity: str, day: str, *, created_by: str, actor: str = "system") -> Event:
        """Create an event whose registration list will be credited (not in the future)."""
        name = (name or "").strip()
        if activity not in EVENT_ACTIVITIES or activity not in self.prog.activities:
            raise ServiceError("activity must be one of %(activities)s", activities=", ".join(EVENT_ACTIVITIES))
        if not name or len(name) > 120:
            raise ServiceError("an event name of 1-120 characters is required")
        try:
            when = date.fromisoformat(day or "")
        except (TypeError, ValueError):
            raise ServiceError("date must be YYYY-MM-DD") from None
        if when > self.ledger.today():
            raise ServiceError("an event in the future cannot be credited yet")
        with unit_of_work():
            ev = Event.create(name=name, activity=activity, day=when, created_by=created_by)
            self.ledger.audit(actor, "event.add", ev.id, name=name, activity=activity, day=when.isoformat())
        return ev

    def preview_upload(self, ev: Event, filename: str, text: str, *, created_by: str, actor: str = "system") -> Upload:
        """Check a registration list without crediting it, and keep it for :meth:`credit_upload`."""
        report = self.import_csv(text, ev.activity, ev.name, day=event_time(ev), actor=actor, dry_run=True)
        with unit_of_work():
            return Upload.create(
                event=ev, filename=filename[:200], text=text, preview=report.rows(), created_by=created_by
            )

    def credit_upload(self, ev: Event, up: Upload, *, actor: str = "system") -> ImportReport:
        """Credit a previewed list once; the accrual key makes a second credit a no-op anyway."""
        with unit_of_work():
            if Upload.get_by_id(up.id).credited_at is not None:
                raise ServiceError("This list was already credited.")
            report = self.import_csv(up.text, ev.activity, ev.name, day=event_time(ev), actor=actor)
            Upload.update(result=report.rows(), credited_at=self.clock()).where(Upload.id == up.id).execute()
        return report

    # ------------------------------------------------------------------ the import itself

    def import_csv(
        self, text: str, activity: str, event: str, *, day=None, actor: str = "system", dry_run: bool = False
    ) -> ImportReport:
        """Credit an event's registration list (CSV of card UIDs or member ids); see the module docstring."""
        act = self.prog.activities.get(activity)
        if act is None:
            raise ServiceError("unknown activity %(activity)r", activity=activity)
        if activity in NOT_BY_HAND:
            raise ServiceError("%(activity)s is not credited from attendance lists", activity=activity)
        event = (event or "").strip()
        if not event or len(event) > 120:
            raise ServiceError("an event name of 1-120 characters is required")
        when = self.ledger.time_of(day) if day else self.clock()
        event_day = rules.business_day(when, self.prog)
        key = rules.accrual_key(act, event_day, event)
        report = ImportReport()
        rows = _rows(text, report)
        seen = set()
        with unit_of_work():
            for line, value in rows:
                try:
                    with db.atomic():  # a savepoint per row: a refused row leaves nothing behind
                        m = members.find(value)
                        if m.id in seen:
                            raise ServiceError("member %(id)s is listed twice", id=m.id)
                        seen.add(m.id)
                        members.check_active(m, event_day)
                        if Card.select().where(
                            (Card.member == m.id) & (Card.status == "active")
                        ).count() == 0 and not re.fullmatch(r"\d{1,7}", value):
                            raise ServiceError("card %(card)s is blocked", card=value)
                        if dry_run:
                            exists = Accrual.get_or_none(
                                (Accrual.member == m.id)
                                & (Accrual.activity == activity)
                                & (Accrual.day == key[0])
                                & (Accrual.item == key[1])
                            )
                            (
                                report.already.append((line, m.id))
                                if exists
                                else report.credited.append((line, m.id, None))
                            )
                            continue
                        entry = self.ledger.credit(
                            m.id,
                            activity,
                            act.points,
                            event_day,
                            when,
                            source="import",
                            item=event,
                            actor=actor,
                            ref=f"import:{event}"[:160],
                            key=key,
                        )
                        if entry is None:
                            report.already.append((line, m.id))
                        else:
                            report.credited.append((line, m.id, entry.id))
                except ServiceError as exc:
                    report.errors.append((line, exc.message))
            if not dry_run:
                self.ledger.audit(
                    actor,
                    "points.import",
                    event,
                    activity=activity,
                    credited=len(report.credited),
                    already=len(report.already),
                    errors=len(report.errors),
                )
        return report


def _rows(text: str, report: ImportReport) -> list[tuple[int, str]]:
    """(line, member id or UID) pairs from CSV with an optional header; bad lines go to the report."""
    if len(text) > MAX_TEXT:
        raise ServiceError("attendance file is larger than 5 MB")
    # newline=None: universal newlines, so files saved with bare \r line ends read too
    reader = csv.reader(io.StringIO(text, newline=None))
    rows, column = [], 0
    try:
        numbered = list(enumerate(reader, start=1))
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit(), or a NUL byte
        raise ServiceError(
            "attendance file is not valid CSV (line %(line)s): %(error)s", line=reader.line_num, error=str(exc)
        ) from None
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
                report.errors.append(
                    (n, Message("header has no uid/card/member_id column: %(header)s", header=",".join(cells)[:80]))
                )
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
                report.errors.append((n, Message.of(exc)))
                continue
        rows.append((n, value))
    return rows
