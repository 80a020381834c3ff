"""Sites: library buildings or consortium members sharing one programme (issue 16, ``docs/sites.md``).

A site is a section of the programme (``[sites.CODE]``, validated by
:mod:`server.domain.config`, edited live like every other section); a programme without
one has a single ``MAIN`` site made of ``[library]`` and ``[hours]``. What a site changes
is read through :meth:`server.domain.config.Programme.for_site` (one cached view per
programme version): its names, time zone, hours and closures, its own activities and shops.

The database says who belongs where (migration namespace ``sites``): ``device.site``,
``member.home_site``, ``ledger_entry.site`` (entries staff made at a site; a tap's entry is
its device's site) and ``web_staff.sites`` (a staff account's scope). NULL everywhere
means the default site, so a single-library database migrates by adding four nullable
columns: no row is rewritten.

:class:`Scope` is what a staff account may see and change: every site (``sites is None``:
a programme administrator, or any account of a single-site programme) or some of them.
The service methods that take a ``scope`` refuse anything outside it with
:class:`~server.services.errors.NotFound` — the same answer as for an id that does not
exist, so changing an id in a URL tells nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import peewee as pw

from server.domain import rules
from server.domain.config import Programme, Site
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit
from server.store import Device

#: the console's staff accounts (``server.web.accounts.Staff``), read without importing the console
_STAFF = pw.Table("web_staff", ("id", "username", "role", "active", "sites"))


@dataclass(frozen=True)
class Scope:
    """The sites a staff account works for; ``sites=None``: all of them (a programme administrator)."""

    sites: frozenset | None = None

    @property
    def everything(self) -> bool:
        """True for a programme administrator."""
        return self.sites is None

    def covers(self, code: str | None, prog: Programme) -> bool:
        """Whether a site (None = the default site) is within this scope."""
        return self.sites is None or (code or prog.default_site) in self.sites

    def codes(self, prog: Programme) -> list[str]:
        """The site codes within this scope, in the programme's order."""
        return [c for c in prog.sites if self.sites is None or c in self.sites]

    @staticmethod
    def parse(text: str | None) -> Scope:
        """A stored scope (``"A,B"``; empty or NULL = all sites)."""
        codes = frozenset(c for c in (text or "").replace(" ", "").split(",") if c)
        return Scope(codes or None)

    def text(self) -> str | None:
        """As stored (``web_staff.sites``)."""
        return None if self.sites is None else ",".join(sorted(self.sites))


#: the scope of the CLI, the MQTT worker and programme administrators
EVERYTHING = Scope()


#: the site's view of the programme, and its day at an instant (domain rules: the ledger uses them too)
view = rules.site_view
day_at = rules.day_at


class Sites:
    """The programme's sites and who belongs to which."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def today(self, scope: Scope = EVERYTHING) -> date:
        """The latest of the scope's sites' own days now (a consortium's members may sit in different time zones).

        A site ahead of the programme's zone has entries dated its own today (the "which day"
        rule uses the device's site): a report "up to today" must reach that day too.
        """
        now, prog = self.ledger.clock(), self.prog
        return max(day_at(prog, code, now) for code in scope.codes(prog) or [None])

    def day_of(self, code: str | None) -> date:
        """A site's own day now, in its own time zone (None = the default site)."""
        return day_at(self.prog, code, self.ledger.clock())

    def list(self, scope: Scope = EVERYTHING) -> list[Site]:
        """The sites within a scope, in the programme's order."""
        prog = self.prog
        return [prog.sites[c] for c in scope.codes(prog)]

    def get(self, code: str, scope: Scope = EVERYTHING) -> Site:
        """One site (NotFound outside the scope or the programme)."""
        prog = self.prog
        if code not in prog.sites or not scope.covers(code, prog):
            raise NotFound("no site %(code)s", code=code)
        return prog.sites[code]

    def check(self, code: str | None) -> str | None:
        """A site code staff typed, checked (None/"" = the default site, stored as NULL)."""
        if code in (None, "", "none"):
            return None
        code = str(code).strip().upper()
        if code not in self.prog.sites:
            raise ServiceError("unknown site %(site)r; known: %(known)s", site=code, known=", ".join(self.prog.sites))
        return code

    def of_device(self, device: Device) -> str:
        """The site a device belongs to (its own, else the default site)."""
        return device.site if device.site in self.prog.sites else self.prog.default_site

    def view_of(self, device: Device) -> Programme:
        """The programme as the device's site sees it."""
        return view(self.prog, device.site)

    def device_sites(self) -> dict[str, str]:
        """Every device's site: ``{device id: site code}`` (the default site for NULL)."""
        prog = self.prog
        with read_unit():
            return {d.id: (d.site or prog.default_site) for d in Device.select(Device.id, Device.site)}

    def devices(self, code: str) -> list[str]:
        """The ids of a site's devices (retired ones too)."""
        self.get(code)
        return sorted(d for d, s in self.device_sites().items() if s == code)

    def account(self, username: str) -> tuple[str, Scope]:
        """An active console account's role and scope (``privcard admin --as``), else ServiceError."""
        name = str(username or "").strip()
        row = None
        if name:
            try:
                with read_unit():
                    row = (
                        _STAFF.select(_STAFF.role, _STAFF.active, _STAFF.sites)
                        .where(_STAFF.username == name)
                        .bind(Device._meta.database)
                        .dicts()
                        .first()
                    )
            except pw.DatabaseError:  # no console accounts table in this database
                row = None
        if not row or not row["active"]:
            raise ServiceError("no active staff account %(name)r", name=name[:40])
        return row["role"], Scope.parse(row["sites"])

    def scope(self, sites: str | list | None) -> Scope:
        """A staff account's scope from text or a list of codes, each checked (empty = all sites)."""
        codes = sites if isinstance(sites, list | tuple | set | frozenset) else (sites or "").split(",")
        checked = {self.check(c) for c in codes if str(c).strip()}
        return Scope(frozenset(c for c in checked if c) or None)

    # ------------------------------------------------------------------ reports by site

    def report_sites(self, scope: Scope, requested: str | None = None) -> list[str] | None:
        """The sites a report or dashboard covers: the ``requested`` one (within ``scope``, else
        NotFound), or the whole scope; None means every site combined (a programme administrator)."""
        prog = self.prog
        if requested:
            code = str(requested).strip().upper()
            if code not in prog.sites or not scope.covers(code, prog):
                raise NotFound("no site %(code)s", code=code)
            return [code]
        return None if scope.everything else scope.codes(prog)

    def device_ids(self, codes: list[str]) -> list[str]:
        """The ids of the devices of these sites."""
        prog = self.prog
        return [d.id for d in Device.select(Device.id, Device.site) if (d.site or prog.default_site) in codes]

    def entry_condition(self, codes: list[str] | None):
        """A peewee condition on ``ledger_entry`` selecting the entries made at these sites (None: all).

        An entry's site is its own ``site`` (staff made it there), else its device's site (a
        tap), else the default site (entries from before sites; sign-ups of members with no home site).
        """
        from server.store import LedgerEntry

        if codes is None:
            return None
        prog = self.prog
        cond = LedgerEntry.site.in_(codes)
        devices = self.device_ids(codes)
        if devices:
            cond |= LedgerEntry.site.is_null() & LedgerEntry.device.in_(devices)
        if prog.default_site in codes:
            others = [d for d in self.device_ids([c for c in prog.sites if c != prog.default_site])]
            rest = LedgerEntry.device.is_null()
            if others:
                rest |= LedgerEntry.device.not_in(others)
            cond |= LedgerEntry.site.is_null() & rest
        return cond

    def latest_entries(self, scope: Scope, limit: int = 50) -> list:
        """The newest ledger entries staff of ``scope`` see in the feed (``GET /api/entries``):
        those made at its sites, by the rule reports count them with (:meth:`entry_condition`);
        every entry for a programme administrator. A member's own history stays shared
        (``Reads.member_dict``)."""
        from server.store import LedgerEntry

        with read_unit():
            q = LedgerEntry.select().order_by(LedgerEntry.id.desc())
            cond = self.entry_condition(self.report_sites(scope))
            if cond is not None:
                q = q.where(cond)
            return list(q.limit(limit))
