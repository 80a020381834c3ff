"""Devices: register and change gates, counters, kiosks and self-check proxies; what
they are told (the retained config and the offline allow-list); what they report
(retained status, kiosk feedback).

A device's settings are declared once, in :mod:`broker.settings` (key, type, default per
kind, range): what staff set is checked there (an error names the key's path, e.g.
``pins.relay``), and the retained config carries the full effective settings (the
kind's defaults, the device's own, the programme's library name and hours). Each change
bumps the device's revision, which the server's publisher compares with the last
revision that reached the broker.
"""

from __future__ import annotations

import logging
import time
from datetime import date

from broker import contract
from broker import settings as device_settings
from broker.contract import Allowlist, ContractError, DeviceConfig, Feedback, Status
from broker.mosquitto import bridge
from server import store
from server.domain import rules
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope
from server.store import Card, Device, Member


def refuse_reserved(device_id: str) -> None:
    """Refuse the id of a site bridge's broker account (``bridge-<SITE>``) as a device's: :meth:`Devices.add`."""
    if device_id.lower().startswith(bridge.USER_PREFIX):
        raise ServiceError(
            "device id %(id)s is reserved: ids starting with %(prefix)s are the broker accounts of site bridges "
            "(privcard admin site bridge); choose another id",
            id=device_id,
            prefix=bridge.USER_PREFIX,
        )


log = logging.getLogger(__name__)

#: how long a device row read by the tap hot path stays fresh (a retirement made by the
#: CLI or the console reaches the worker within this)
CACHE_S = 2.0
#: refusals are audited at most once per device per window (the next line counts the
#: refusals in between), and at most REFUSAL_AUDIT_MAX lines per window in all, so a
#: flood from one device or many made-up ids cannot fill the audit table
REFUSAL_AUDIT_WINDOW_S = 60.0
REFUSAL_AUDIT_MAX = 100


class Refused(ServiceError):
    """A device asked for something its kind may not do, or is unknown or retired.

    ``reason`` is the English text the device gets in its ``invalid`` result or answer.
    """

    def __init__(self, template: str, **values):
        super().__init__(template, **values)
        self.reason = template % values if values else template


class Devices:
    """Operations on devices, and what the server publishes to them."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, feedback=None):
        self.ledger = ledger
        #: the feedback desk (``server.services.feedback``): kiosk feedback is stored there
        self.feedback = feedback
        self.clock = ledger.clock
        self._cache: dict[str, tuple[float, Device | None]] = {}
        #: device id -> (window start, refusals since its last audit line)
        self._refusals: dict[str, list] = {}
        self._refusal_window = (0.0, 0)  # (start, audit lines written in it)

    def cached(self, device_id: str) -> Device | None:
        """A device row, cached for 2 s (keeps the tap hot path free of lookups)."""
        now = time.monotonic()
        hit = self._cache.get(device_id)
        if hit and now - hit[0] < CACHE_S:
            return hit[1]
        dev = Device.get_or_none(Device.id == device_id)
        self._cache[device_id] = (now, dev)
        return dev

    # ------------------------------------------------------------------ authority

    def authorise(self, device_id: str, action: str) -> Device:
        """The device, if it is registered, not retired, and its kind may send ``action``.

        ``action`` is the topic kind the message came on (``tap``, ``query``, ``feedback``,
        ``status``); what each kind may send is :data:`broker.contract.CAPABILITIES`.
        Otherwise raises :class:`Refused` after a log line and (rate-limited) an audit line.
        """
        device = self.cached(device_id)
        if device is None:
            raise self._refuse(device_id, action, "unknown device %(id)s", id=device_id)
        if device.retired_at is not None:
            raise self._refuse(device_id, action, "device %(id)s is retired", id=device_id)
        if not contract.may(device.kind, action):
            raise self._refuse(device_id, action, "a %(kind)s may not send %(topic)s", kind=device.kind, topic=action)
        return device

    def _refuse(self, device_id: str, action: str, template: str, /, **values) -> Refused:
        refused = Refused(template, **values)
        log.warning("refused %s from %s: %s", action, device_id, refused.reason)
        now = time.monotonic()
        seen = self._refusals.get(device_id)
        if seen is not None and now - seen[0] < REFUSAL_AUDIT_WINDOW_S:
            seen[1] += 1
            return refused
        start, lines = self._refusal_window
        if now - start >= REFUSAL_AUDIT_WINDOW_S:
            start, lines = now, 0
            # forget devices whose window has passed (keeps the dict small under a flood of ids)
            self._refusals = {k: v for k, v in self._refusals.items() if now - v[0] < REFUSAL_AUDIT_WINDOW_S}
        if lines >= REFUSAL_AUDIT_MAX:
            self._refusal_window = (start, lines)
            return refused
        self._refusal_window = (start, lines + 1)
        earlier = seen[1] if seen else 0
        self._refusals[device_id] = [now, 0]
        detail = {"topic": action, "reason": refused.reason}
        if earlier:
            detail["refused_since_last"] = earlier
        # inside the caller's transaction when there is one (the tap batch), else its own
        if store.db.in_transaction():
            self.ledger.audit("device", "device.refused", device_id, **detail)
        else:
            with unit_of_work():
                self.ledger.audit("device", "device.refused", device_id, **detail)
        return refused

    # ------------------------------------------------------------------ staff operations (within a scope)

    def get(self, device_id: str, scope: Scope = EVERYTHING) -> Device:
        """A device a staff account may see: its site within ``scope`` (else NotFound, like an unknown id)."""
        d = Device.get_or_none(Device.id == device_id)
        if d is None or not scope.covers(d.site, self.prog):
            raise NotFound("no device %(id)s", id=device_id)
        return d

    def visible(self, scope: Scope = EVERYTHING) -> set[str] | None:
        """The ids of the devices within ``scope`` (None: every device)."""
        if scope.everything:
            return None
        prog = self.prog
        return {d.id for d in Device.select(Device.id, Device.site) if scope.covers(d.site, prog)}

    def retire(self, device_id: str, actor: str = "system", scope: Scope = EVERYTHING) -> Device:
        """Retire a device (lost, stolen, replaced): the server refuses everything it sends.

        Its broker account is removed by the caller that owns the password file
        (``privcard admin device retire``); the row and its history stay.
        """
        with unit_of_work():
            d = self.get(device_id, scope)
            if d.retired_at is not None:
                raise ServiceError("device %(id)s is already retired", id=device_id)
            Device.update(retired_at=self.clock(), updated_at=self.clock()).where(Device.id == device_id).execute()
            self.ledger.audit(actor, "device.retire", device_id)
        self._cache.pop(device_id, None)
        return Device.get_by_id(device_id)

    def reactivate(self, device_id: str, actor: str = "system", scope: Scope = EVERYTHING) -> Device:
        """Bring a retired device back (it needs new broker credentials)."""
        with unit_of_work():
            d = self.get(device_id, scope)
            if d.retired_at is None:
                raise ServiceError("device %(id)s is not retired", id=device_id)
            Device.update(retired_at=None, updated_at=self.clock()).where(Device.id == device_id).execute()
            self.ledger.audit(actor, "device.reactivate", device_id)
        self._cache.pop(device_id, None)
        return Device.get_by_id(device_id)

    def _site(self, site: str | None, scope: Scope = EVERYTHING) -> str | None:
        """A site code staff typed, checked against the programme's sites and the staff's scope.

        None/"" is the default site, or the only site of a one-site scope.
        """
        if site in (None, "", "none"):
            if scope.sites is not None and len(scope.sites) == 1:
                return next(iter(scope.sites))
            site = None
        else:
            site = str(site).strip().upper()
            if site not in self.prog.sites:
                raise ServiceError(
                    "unknown site %(site)r; known: %(known)s", site=site, known=", ".join(self.prog.sites)
                )
        if not scope.covers(site, self.prog):
            raise ServiceError("site %(site)s is outside your sites", site=site or self.prog.default_site)
        return site

    def site_prog(self, d: Device):
        """The programme as the device's site sees it (its names, hours, activities, shops)."""
        from server.services.sites import view

        return view(self.prog, d.site)

    def _check(self, kind, direction, activity, settings, site: str | None = None) -> dict:
        """Refuse a bad kind, direction or activity; the settings checked by ``broker.settings``."""
        prog = self.prog.for_site(site)
        if kind not in contract.DEVICE_KINDS:
            raise ServiceError(
                "kind must be one of %(kinds)s, got %(kind)r", kinds=", ".join(contract.DEVICE_KINDS), kind=kind
            )
        if direction not in (None, "in", "out"):
            raise ServiceError("direction must be in or out, got %(direction)r", direction=direction)
        if activity is not None and activity not in prog.activities:
            raise ServiceError(
                "unknown activity %(activity)r; known: %(known)s",
                activity=activity,
                known=", ".join(sorted(prog.activities)),
            )
        try:
            checked = device_settings.check(kind, settings or {})
        except device_settings.SettingError as exc:
            raise ServiceError.of(exc) from None
        if "shop" in checked:  # a reader at a partner shop: the programme's name of that shop
            shop = rules.partner_shop(checked["shop"], prog)
            if shop is None:
                raise ServiceError(
                    "shop: unknown partner shop %(shop)r; known: %(known)s",
                    shop=checked["shop"],
                    known=", ".join(prog.partners),
                )
            if activity != "partner_purchase":
                raise ServiceError("shop is a setting of a reader whose activity is partner_purchase")
            checked["shop"] = shop
        return checked

    def add(
        self,
        device_id: str,
        kind: str,
        *,
        direction: str | None = None,
        activity: str | None = None,
        location: str | None = None,
        settings: dict | None = None,
        site: str | None = None,
        actor: str = "system",
        scope: Scope = EVERYTHING,
    ) -> Device:
        """Register a gate, kiosk or counter reader (at ``site``, within ``scope``; None: the default site)."""
        try:
            contract.check_device_id(device_id)
        except ContractError as exc:
            raise ServiceError.of(exc) from None
        refuse_reserved(device_id)  # the Mosquitto account of a site broker's bridge
        if kind == "gate" and direction is None:
            direction = "in"
        site = self._site(site, scope)
        settings = self._check(kind, direction, activity, settings, site)
        with unit_of_work():
            if Device.get_or_none(Device.id == device_id):
                raise ServiceError("device %(id)s already exists", id=device_id)
            d = Device.create(
                id=device_id,
                kind=kind,
                direction=direction,
                activity=activity,
                location=location,
                settings=settings,
                site=site,
                revision=1,
                created_at=self.clock(),
                updated_at=self.clock(),
            )
            self.ledger.audit(
                actor, "device.add", device_id, kind=kind, direction=direction, activity=activity, site=site
            )
        self._cache.pop(device_id, None)
        return d

    def set(self, device_id: str, actor: str = "system", scope: Scope = EVERYTHING, **changes) -> Device:
        """Change a device's fields or settings (``pins.relay=17`` style keys go into settings).

        Within ``scope``: a device of another site is NotFound, and it cannot be moved there.
        What :meth:`change` does, answering the device only.
        """
        return self.change(device_id, actor=actor, scope=scope, **changes)[0]

    def change(
        self, device_id: str, actor: str = "system", scope: Scope = EVERYTHING, **changes
    ) -> tuple[Device, dict]:
        """Change a device's fields or settings; answers the device and what changed (``{key: new}``).

        A form or API call may send every field each time: only the keys whose value differs
        from the device's are saved and audited (``device.set`` lists those, with their new
        values, checked as the device is told them). When nothing differs, nothing is written:
        no audit row, and the device's config revision stays (it is not told anything new). The
        default site by its code and "the default site" (no site) are the same site.
        """
        with unit_of_work():
            d = self.get(device_id, scope)
            before = {k: getattr(d, k) for k in ("kind", "direction", "activity", "location", "site")}
            fields = dict(before)
            old_settings = dict(d.settings or {})
            settings = dict(old_settings)
            for key, value in changes.items():
                if key in fields:
                    fields[key] = None if value in ("", "none", None) else value
                elif "." in key:
                    head, sub = key.split(".", 1)
                    nested = dict(settings.get(head) or {})
                    nested[sub] = value
                    settings[head] = nested
                elif value is None:
                    settings.pop(key, None)
                else:
                    settings[key] = value
            if "site" in changes:
                fields["site"] = self._site(fields["site"], scope)
                default = self.prog.default_site
                if (fields["site"] or default) == (before["site"] or default):
                    fields["site"] = before["site"]  # the same site named another way: left as it is
            settings = self._check(fields["kind"], fields["direction"], fields["activity"], settings, fields["site"])
            changed = {}
            for key in changes:
                if key in fields:
                    old, new = before[key], fields[key]
                elif "." in key:
                    head, sub = key.split(".", 1)
                    old, new = (old_settings.get(head) or {}).get(sub), (settings.get(head) or {}).get(sub)
                else:
                    old, new = old_settings.get(key), settings.get(key)
                if old != new:
                    changed[key] = new
            if not changed:
                return d, {}
            Device.update(**fields, settings=settings, revision=Device.revision + 1, updated_at=self.clock()).where(
                Device.id == device_id
            ).execute()
            self.ledger.audit(actor, "device.set", device_id, **{k: str(v) for k, v in changed.items()})
        self._cache.pop(device_id, None)
        return Device.get_by_id(device_id), changed

    def record_credentials(self, actor: str, username: str, **detail) -> None:
        """Audit that broker credentials were made for a device."""
        with unit_of_work():
            self.ledger.audit(actor, "device.credentials", username, **detail)

    # ------------------------------------------------------------------ what devices are told

    def config(self, d: Device) -> DeviceConfig:
        """The retained config a device receives: its kind's defaults, its settings, the library's hours.

        A stored key its kind does not have (saved before ``broker.settings`` declared the
        settings) is left out and logged, so one old row cannot stop the device's config.
        """
        known = {s.key for s in device_settings.for_kind(d.kind, "staff")}
        stored = dict(d.settings or {})
        dropped = sorted(set(stored) - known)
        if dropped:
            log.warning(
                "device %s: stored settings %s are not settings of a %s; not published",
                d.id,
                ", ".join(dropped),
                d.kind,
            )
        server = {}
        if any(s.key == "library" for s in device_settings.for_kind(d.kind, "server")):
            prog = self.site_prog(d)  # the device's own site: its name, time zone and hours
            server["library"] = {"th": prog.name_th, "en": prog.name_en, "timezone": prog.timezone}
            days = device_settings.WEEKDAYS
            server["hours"] = {
                days[i]: ("closed" if h.closed else f"{h.open:%H:%M}-{h.close:%H:%M}") for i, h in prog.hours.items()
            }
        settings = device_settings.effective(d.kind, {k: v for k, v in stored.items() if k in known}, server)
        return DeviceConfig(
            device_id=d.id,
            kind=d.kind,
            direction=d.direction,
            activity=rules.device_activity(d.kind, d.direction, d.activity),
            location=d.location,
            settings=settings,
            revision=d.revision,
        )

    def configs_to_publish(self, everything: bool = False) -> list[tuple[DeviceConfig, int]]:
        """Configs changed since last published (or every device's), with their revisions."""
        query = Device.select()
        if not everything:
            query = query.where(Device.revision != Device.published_revision)
        with read_unit():
            rows = list(query)
            if rows:  # the library's hours and name as in force now (the programme is edited live)
                self.ledger.live.sync()
            return [(self.config(d), d.revision) for d in rows]

    def mark_published(self, device_id: str, revision: int) -> None:
        """Remember that a config revision reached the broker."""
        with unit_of_work():
            Device.update(published_revision=revision).where(
                (Device.id == device_id) & (Device.published_revision < revision)
            ).execute()

    def allowlist_version(self, today: date | None = None) -> int:
        """Changes with every card/member change and every day (memberships expire)."""
        today = today or self.ledger.today()
        return store.counter("allowlist") * 100000 + today.toordinal() % 100000

    def allowlist(self) -> Allowlist:
        """Valid card UIDs for offline decisions, versioned."""
        today = self.ledger.today()
        with read_unit():
            uids = (
                Card.select(Card.uid)
                .join(Member)
                .where(
                    (Card.status == "active")
                    & (Member.status == "active")
                    & (Member.valid_until.is_null() | (Member.valid_until >= today))
                )
            )
            return Allowlist(
                version=self.allowlist_version(today), uids=frozenset(c.uid for c in uids), generated_at=self.clock()
            )

    # ------------------------------------------------------------------ what devices report

    def record_status(self, device_id: str, status: Status) -> bool:
        """Remember a device's latest retained status; False for unknown or retired devices.

        The moment the device is seen going ``offline`` starts its offline period, the
        moment it is seen ``online`` again ends it (a repeated status changes neither):
        the back-dating policy lets taps buffered in between count on their own days.
        """
        try:
            self.authorise(device_id, "status")
        except Refused:
            return False
        now = self.clock()
        changes = {"state": status.state, "last_seen": now, "status": status.to_dict()}
        with unit_of_work():
            d = Device.get_or_none(Device.id == device_id)
            if d is None:
                return False
            if status.state == "offline" and d.state != "offline":
                changes.update(offline_since=now, online_since=None)
            elif status.state == "online" and d.state == "offline":
                changes["online_since"] = now
            Device.update(**changes).where(Device.id == device_id).execute()
        self._cache.pop(device_id, None)  # the tap path must see the new offline period at once
        return True

    def record_feedback(self, device_id: str, fb: Feedback) -> bool:
        """Store a kiosk's rating and/or written message once per feedback_id; True if new, False if a repeat or refused.

        Only kiosks may send feedback (:meth:`authorise`): anything else is refused, logged
        and audited, and stores nothing. A written message joins the feedback desk's queue
        with channel ``kiosk`` (:meth:`server.services.feedback.FeedbackDesk.record_kiosk`).
        """
        try:
            self.authorise(device_id, "feedback")
        except Refused:
            return False
        return self.feedback.record_kiosk(device_id, fb)
