"""The service layer, split by what each part owns, wired once by :func:`bootstrap`.

Entry points (the MQTT worker in ``server.app``, the admin CLI, the web console and its
JSON API) only parse input, call one operation here and render what it returns; every
business rule and every transaction lives in this package. Each public operation is
one unit of work (:mod:`server.services.retry`, which also holds the one retry policy).

=====================  ==================================================================
module                 owns
=====================  ==================================================================
``errors``             ``ServiceError``, ``NotFound``, ``Message`` (templates kept apart)
``retry``              units of work; which errors are retried and the back-off
``ledger``             the ledger every part shares: credit, debit, balance, ledger_sum,
                       entries as shown, history, the audit trail, times staff type
``taps``               the tap hot path (hand-written SQL, group commit, tap inbox)
``cards``              genuine cards (NTAG 424 DNA SUN): secure a card, suspected clones
``members``            members and cards (enrol, change, find, list, replace, block),
                       staff PIN hashing
``devices``            devices and their settings, the retained config, the allow-list,
                       device status and kiosk feedback
``points``             award (who may credit what by hand), void, transfer, redeem
``attendance``         events, registration lists (preview, credit), the CSV import
``reads``              the kiosk's answer, statistics, entries, member/device JSON
``staff``              staff PINs typed at kiosks: checked here, lock-out, audit
``ils``                the library system link: patrons, fine discounts paid in the ILS
                       (pending / confirmed / refused), settle, export of privileges
``live``               the programme in force, followed from the database by every process
``programme``          the programme edited live (versions, export/import), campaigns
``draws``              prize draws (seeded, verifiable) and rankings
``feedback``           the feedback desk: written feedback from every channel, the queue
                       (assign, status, answer), book-purchase pledges, its reports
``patrons``            the patron's own page: sign-in (ILS PIN, e-mailed link, counter
                       PIN), lock-out, sessions, what the page shows (docs/patrons.md)
``messages``           messages to patrons: the durable outbox, consent, triggers, segments,
                       unsubscribe (templates and channels: ``server.messages``)
``sites``              sites (library buildings, consortium members): list, get, which
                       site a device belongs to, staff scopes (``docs/sites.md``)
=====================  ==================================================================

Usage::

    svc = bootstrap(load())                 # one programme, one clock, for the process
    m = svc.members.add("Somchai", "04A1B2C3D4")
    svc.points.award(m.id, "borrow")
    svc.ledger.balance(m.id)

See ``docs/architecture.md`` for where this sits in the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server import sun
from server.domain.config import Programme
from server.services.attendance import Attendance, ImportReport
from server.services.cards import Cards
from server.services.devices import Devices
from server.services.draws import Draws
from server.services.errors import Message, NotFound, ServiceError
from server.services.feedback import FeedbackDesk
from server.services.ils import Ils
from server.services.ledger import Ledger
from server.services.members import GROUPS, Members, known_groups
from server.services.messages import Messages
from server.services.patrons import Patrons
from server.services.points import Points
from server.services.programme import Campaigns, Programmes
from server.services.reads import Reads
from server.services.sites import Sites
from server.services.staff import StaffPins
from server.services.taps import Taps
from server.services.terms import Terms
from server.store import utcnow

__all__ = ["GROUPS", "ImportReport", "Message", "NotFound", "ServiceError", "Services", "bootstrap", "known_groups"]


@dataclass
class Services:
    """Every part of the service layer, sharing one programme, one clock and one ledger."""

    clock: object
    ledger: Ledger
    members: Members
    devices: Devices
    taps: Taps
    points: Points
    attendance: Attendance
    reads: Reads
    staff: StaffPins
    cards: Cards
    terms: Terms
    ils: Ils
    programme: Programmes
    campaigns: Campaigns
    draws: Draws
    feedback: FeedbackDesk
    messages: Messages
    sites: Sites
    patrons: Patrons

    @property
    def prog(self) -> Programme:
        """The programme in force (it follows changes made from the console, in every process)."""
        return self.ledger.prog

    def today(self) -> date:
        """The current business day."""
        return self.ledger.today()


def bootstrap(prog: Programme, clock=utcnow, keyring: sun.Keyring | None = None, ils=None, mail=None) -> Services:
    """Wire the service layer for one process (tests pass a fake ``clock``; ``keyring``: the card keys;
    ``ils``: the library system's :class:`server.ils.IlsConfig`, or None when there is none;
    ``mail``: the :class:`server.messages.config.MailConfig` (None: queue only, send nothing))."""
    ledger = Ledger(prog, clock)
    link = Ils(ledger, ils)
    messages = Messages(ledger, mail)
    desk = FeedbackDesk(ledger, messages)
    devices = Devices(ledger, desk)
    members = Members(ledger, messages)
    campaigns = Campaigns(ledger)
    draws = Draws(ledger, messages)
    return Services(
        clock=clock,
        ledger=ledger,
        members=members,
        devices=devices,
        taps=Taps(ledger, devices, keyring),
        points=Points(ledger, link),
        attendance=Attendance(ledger),
        reads=Reads(ledger, devices, keyring, link),
        staff=StaffPins(ledger, devices),
        cards=Cards(ledger, keyring),
        terms=Terms(ledger, messages),
        ils=link,
        programme=Programmes(ledger),
        campaigns=campaigns,
        draws=draws,
        messages=messages,
        sites=Sites(ledger),
        feedback=desk,
        patrons=Patrons(ledger, members, link, messages, campaigns, draws),
    )
