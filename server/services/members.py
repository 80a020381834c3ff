"""Members and their cards: enrol, change, find, list, replace and block cards; staff PINs.

A member joins with a card: the joining fee is recorded and the sign-up points are
credited in the same unit of work. Every change to a card or a member bumps the
allow-list counter so the devices' offline list follows. Staff PINs are kept as salted
scrypt hashes (:func:`hash_pin`, format ``scrypt$N$r$p$SALTHEX$HEX``); only the server
checks them (:mod:`server.services.staff`), no hash ever goes to a device.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from datetime import date

from broker import contract
from broker.contract import ContractError
from server import store
from server.domain import rules
from server.services import tiers
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import unit_of_work
from server.services.sites import EVERYTHING, Scope, day_at
from server.store import Card, Fee, Member

#: the member groups of a programme that defines none in ``[terms.groups]`` (the shipped ones)
GROUPS = ("U1", "U2", "U3", "U4", "U5")
MEMBER_FIELDS = {
    "name",
    "tier",
    "group",
    "valid_until",
    "status",
    "staff",
    "email",
    "pin",
    "reason",
    "patron_id",
    "home_site",
}
#: contact data and consent (issue 14): checked by :func:`contact_changes`; the patron page and
#: staff change them with server.services.messages.Messages.set_preferences or ``member set``
CONTACT_FIELDS = (
    "email",
    "phone",
    "language",
    "consent_marketing",
    "consent_notices",
    "consent_statement",
    "consent_ranking",
)


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of a staff PIN/password (standard library KDF)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str | None) -> bool:
    """Verify a PIN against :func:`hash_pin`'s output in constant time."""
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    test = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(test.hex(), digest)


def card_uid(card: str) -> str:
    """A card UID as staff typed it, normalised (a ServiceError if it is not one)."""
    try:
        return contract.normalise_uid(card)
    except ContractError as exc:
        raise ServiceError.of(exc) from None


EMAIL_MAX = 254  # RFC 5321's path limit less the angle brackets
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


def clean_name(text, *, limit: int = 200, what: str = "name") -> str:
    """A typed name NFC-normalised and trimmed; refused if empty, too long, with control characters or nothing visible."""
    name = unicodedata.normalize("NFC", str(text or "")).strip()
    if any(unicodedata.category(c) == "Cc" for c in name):  # NUL, tab, newline, escape...
        raise ServiceError("a name must not contain control characters")
    if not any(unicodedata.category(c)[0] not in "ZC" for c in name):  # only spaces or zero-width/format marks
        raise ServiceError("a name must contain at least one visible character")
    if len(name) > limit:
        if what == "an event name":
            raise ServiceError("an event name of 1-120 characters is required")
        raise ServiceError("name must be 1-200 characters")
    return name


def clean_email(value) -> str | None:
    """An e-mail address checked for shape and length (empty means none)."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text:
        return None
    if len(text) > EMAIL_MAX or not _EMAIL.fullmatch(text) or any(unicodedata.category(c)[0] == "C" for c in text):
        raise ServiceError("e-mail must be an address like name@example.org of at most 254 characters")
    return text


def clean_patron_id(value) -> str | None:
    """A library patron id (barcode / student number) as the ILS knows it; empty means none.

    1-64 printable characters without ``|`` (SIP2's field delimiter) or spaces at the ends.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text or text.lower() == "none":
        return None
    if len(text) > 64 or "|" in text or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in text):
        raise ServiceError("patron_id must be 1-64 printable characters without |, got %(value)r", value=text[:80])
    return text


def check_patron_id_free(patron_id: str | None, member_id: int | None = None) -> None:
    """Refuse a patron id another member already has."""
    if patron_id is None:
        return
    other = Member.get_or_none((Member.patron_id == patron_id) & (Member.id != (member_id or 0)))
    if other is not None:
        raise ServiceError("patron_id %(patron)s already belongs to member %(id)s", patron=patron_id, id=other.id)


def clean_phone(value) -> str | None:
    """A phone number: digits, spaces, ``+ - ( )``, 6-32 characters (empty means none)."""
    text = str(value or "").strip()
    if not text or text.lower() == "none":
        return None
    if len(text) > 32 or not all(c.isdigit() or c in " +-()" for c in text) or sum(c.isdigit() for c in text) < 6:
        raise ServiceError("phone must be 6-32 digits, spaces and + - ( ), got %(value)r", value=text[:40])
    return text


def clean_language(value) -> str:
    text = str(value or "").strip().lower()
    if text not in ("th", "en"):
        raise ServiceError("language must be th or en, got %(value)r", value=text[:20])
    return text


def clean_flag(key: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ServiceError("%(key)s must be true or false, got %(value)r", key=key, value=text[:20])


def contact_changes(fields: dict) -> dict:
    """Validated column values for contact and consent fields (a ServiceError names a bad one)."""
    out = {}
    for key, value in fields.items():
        if key == "email":
            out["email"] = clean_email(value)
        elif key == "phone":
            out["phone"] = clean_phone(value)
        elif key == "language":
            out["language"] = clean_language(value)
        elif key in CONTACT_FIELDS:
            out[key] = clean_flag(key, value)
        else:
            raise ServiceError(
                "unknown contact field %(field)s; known: %(known)s", field=key, known=", ".join(CONTACT_FIELDS)
            )
    return out


def parse_date(value) -> date | None:
    """A date from ``YYYY-MM-DD`` (None stays None)."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ServiceError("not a date (YYYY-MM-DD): %(value)r", value=value) from None


def known_groups(prog) -> tuple[str, ...]:
    """The member groups of the programme (``[terms.groups]``, a library's own included), in its order;
    :data:`GROUPS` only when it defines none. What a member, a draw and a campaign may name."""
    return tuple(prog.terms.groups) or GROUPS


def check_group(group: str, prog) -> None:
    """Refuse a group the programme does not define, listing the ones it does."""
    known = known_groups(prog)
    if group not in known:
        raise ServiceError("group must be one of %(groups)s, got %(group)r", groups=", ".join(known), group=group)


def find(ref) -> Member:
    """A member by id, or by one of their cards' UIDs."""
    text = str(ref).strip()
    if re.fullmatch(r"\d{1,7}", text):
        m = Member.get_or_none(Member.id == int(text))
        if m:
            return m
    try:
        uid = contract.normalise_uid(text)
    except ContractError:
        raise NotFound("no member with id or card %(ref)r", ref=text) from None
    card = Card.get_or_none(Card.uid == uid)
    if card is None:
        raise NotFound("no member with id or card %(ref)r", ref=text)
    return Member.get_by_id(card.member_id)


def for_change(ref, scope: Scope, prog) -> Member:
    """A member staff of ``scope`` may change (home site within it), else NotFound as for a missing id.

    The one check behind every change of a member's site-only data — details, contact,
    cards, PIN, tier, term (``docs/sites.md``) — for the console, the API and the CLI.
    """
    m = find(ref)
    if not scope.covers(m.home_site, prog):
        raise NotFound("no member %(ref)s", ref=ref)
    return m


def check_active(m: Member, day: date) -> None:
    """Refuse a blocked member, or one whose membership had expired on ``day``."""
    if m.status != "active":
        raise ServiceError("member %(id)s is blocked", id=m.id)
    if m.valid_until and day > m.valid_until:
        raise ServiceError("member %(id)s's membership expired on %(day)s", id=m.id, day=m.valid_until)


def check_may_spend(m: Member, day: date) -> None:
    """Refuse to spend a member's points or move them away (redeem, transfer out, pledge):
    a blocked member's are held, and an expired member's (``valid_until`` before ``day``, the
    programme's day) wait for the renewal — the card's rights end with its term."""
    if m.status != "active":
        raise ServiceError("member %(id)s is blocked", id=m.id)
    if m.valid_until and day > m.valid_until:
        raise ServiceError(
            "member %(id)s's membership expired on %(day)s: the points wait for the renewal",
            id=m.id,
            day=m.valid_until,
        )


class Members:
    """Operations on members and cards."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, messages=None):
        self.ledger = ledger
        self.clock = ledger.clock
        #: the outbox (server.services.messages): the welcome is queued with the sign-up
        self.messages = messages

    @staticmethod
    def find(ref) -> Member:
        """A member by id, or by one of their cards' UIDs."""
        return find(ref)

    def for_change(self, ref, scope: Scope = EVERYTHING) -> Member:
        """A member a staff account may change: their home site is within its scope (else NotFound).

        Every site's staff can find a member and see their points (the card is shared), but
        only the home site's staff (or a programme administrator) change the member's
        details, cards, tier or term, and see their contact details (``docs/sites.md``).
        """
        return for_change(ref, scope, self.prog)

    def _home_site(self, code, scope: Scope) -> str | None:
        """A home site staff typed (checked; within the scope); a one-site scope's site when none."""
        if code in (None, "", "none"):
            return next(iter(scope.sites)) if scope.sites is not None and len(scope.sites) == 1 else None
        code = str(code).strip().upper()
        if code not in self.prog.sites:
            raise ServiceError("unknown site %(site)r; known: %(known)s", site=code, known=", ".join(self.prog.sites))
        if not scope.covers(code, self.prog):
            raise ServiceError("site %(site)s is outside your sites", site=code)
        return code

    def _check_fields(self, tier=None, group=None, name=None) -> None:
        if name is not None:
            clean_name(name)
        if tier is not None and tier not in self.prog.tiers:
            raise ServiceError(
                "tier must be one of %(tiers)s, got %(tier)r", tiers=", ".join(self.prog.tiers), tier=tier
            )
        if group is not None:
            check_group(group, self.prog)

    def add(
        self,
        name: str,
        card: str,
        *,
        tier: str | None = None,
        group: str | None = None,
        valid_until=None,
        staff: bool = False,
        email: str | None = None,
        patron_id: str | None = None,
        home_site: str | None = None,
        scope: Scope = EVERYTHING,
        actor: str = "system",
    ) -> Member:
        """Enrol a member with a card: records the joining fee and credits the sign-up points.

        ``home_site``: the member's site (None: the only site of a one-site ``scope``, else the
        default site).

        Without a typed ``valid_until`` the group's term rule gives it (the end of this
        semester or academic year; none for ``date``/``none``). Without a ``tier`` the
        group's tier rule gives it (recorded in the history), else silver.
        """
        self._check_fields(tier, group, name)
        home_site = self._home_site(home_site, scope)
        name, email = clean_name(name), clean_email(email)
        patron_id = clean_patron_id(patron_id)
        uid = card_uid(card)
        until = parse_date(valid_until)
        signup = self.prog.activity("signup")
        now = self.clock()
        day = rules.business_day(now, self.prog)
        if until is None:
            until = rules.term_end(group, day, self.prog)
        by_group = rules.tier_for_group(group, self.prog) if tier is None else None
        with unit_of_work():
            if Card.get_or_none(Card.uid == uid):
                raise ServiceError("card %(uid)s already belongs to a member", uid=uid)
            check_patron_id_free(patron_id)
            m = Member.create(
                patron_id=patron_id,
                name=name.strip(),
                tier=tier or "silver",
                tier_basis="manual" if tier else "default",
                term_start=day,
                group=group,
                valid_until=until,
                staff=staff,
                email=email,
                home_site=home_site,
                created_at=now,
                updated_at=now,
            )
            Card.create(uid=uid, member=m, issued_at=now)
            Fee.create(member=m, kind="joining", baht=self.prog.signup_fee_baht, actor=actor, at=now)
            self.ledger.credit(
                m.id,
                "signup",
                signup.points,
                day_at(self.prog, home_site, now),  # enrolled at the home site: its day
                now,
                source="signup",
                actor=actor,
                key=rules.accrual_key(signup, day),
                site=home_site,
            )
            if by_group and by_group != m.tier:
                tiers.change_tier(self.ledger, m, by_group, f"group {group}", "group", actor, day)
            store.bump("allowlist")
            self.ledger.audit(actor, "member.add", m.id, name=m.name, card=uid, tier=m.tier)
            if self.messages is not None and email:
                self.messages.queue(Member.get_by_id(m.id), "welcome", actor=actor, dedupe_key=f"welcome:{m.id}")
        return Member.get_by_id(m.id)

    @staticmethod
    def list(search: str | None = None, limit: int = 50, offset: int = 0) -> list[Member]:
        """Members matching a name fragment, member id or card UID."""
        q = Member.select().order_by(Member.id)
        if search:
            s = search.strip()
            cond = Member.name.contains(s)
            if re.fullmatch(r"\d{1,9}", s):
                cond |= Member.id == int(s)
            hexs = re.sub(r"[\s:-]", "", s).upper()
            if re.fullmatch(r"[0-9A-F]{8,20}", hexs):
                cond |= Member.id.in_(Card.select(Card.member).where(Card.uid == hexs))
            q = q.where(cond)
        return list(q.limit(limit).offset(offset))

    def set(self, ref, actor: str = "system", scope: Scope = EVERYTHING, **fields) -> Member:
        """Change name, tier, group, valid_until, status, staff, email, pin, patron_id, home_site or contact data.

        Only within ``scope``: a member whose home site is outside it is NotFound.
        """
        unknown = set(fields) - MEMBER_FIELDS - set(CONTACT_FIELDS)
        if unknown:
            raise ServiceError(
                "unknown member field(s): %(fields)s; known: %(known)s",
                fields=", ".join(sorted(unknown)),
                known=", ".join(sorted(MEMBER_FIELDS | set(CONTACT_FIELDS))),
            )
        # the group is checked once the member is read: keeping one the programme no longer defines is not a change
        self._check_fields(fields.get("tier"), None, fields.get("name"))
        if "status" in fields and fields["status"] not in ("active", "blocked"):
            raise ServiceError("status must be active or blocked")
        changes = contact_changes({k: v for k, v in fields.items() if k in CONTACT_FIELDS and k != "email"})
        for k, v in fields.items():
            if k in CONTACT_FIELDS and k != "email":
                continue
            if k == "valid_until":
                changes["valid_until"] = parse_date(v) if v not in ("", "none", None) else None
            elif k == "staff":
                changes["staff"] = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
            elif k == "pin":
                if not re.fullmatch(r"\d{4,8}", str(v)):
                    raise ServiceError("pin must be 4-8 digits")
                changes["pin_hash"] = hash_pin(str(v))
            elif k == "group" and v in ("", "none"):
                changes["group"] = None
            elif k == "name":
                changes["name"] = clean_name(v)
            elif k == "email":
                changes["email"] = clean_email(v)
            elif k == "reason":  # why the tier changed (recorded with it)
                continue
            elif k == "patron_id":
                changes["patron_id"] = clean_patron_id(v)
            elif k == "home_site":
                changes["home_site"] = self._home_site(v, scope) if v not in ("", "none", None) else None
            else:
                changes[k] = v
        with unit_of_work():
            m = self.for_change(ref, scope)
            if changes.get("group") not in (None, m.group):
                check_group(changes["group"], self.prog)
            # a tier change is an event with its reason (server.services.tiers); a new group may
            # bring its group's tier
            tier = changes.pop("tier", None)
            if tier is not None:
                tiers.change_tier(self.ledger, m, tier, fields.get("reason") or "set by staff", "manual", actor)
            elif "group" in changes and changes["group"] != m.group:
                by_group = rules.tier_for_group(changes["group"], self.prog)
                if by_group and rules.tier_rank(by_group, self.prog) > rules.tier_rank(m.tier, self.prog):
                    tiers.change_tier(self.ledger, m, by_group, f"group {changes['group']}", "group", actor)
            if "patron_id" in changes:
                check_patron_id_free(changes["patron_id"], m.id)
            lapse_cleared = None
            if "valid_until" in changes and m.lapsed_on is not None:
                until = changes["valid_until"]
                # valid again (today or later, or no end): the closed term's mark goes, so the term
                # close handles the new end (as a renewal does); a date still past keeps it — that
                # term has ended and was closed (a second close would forfeit points given back since)
                if until is None or until >= self.ledger.today():
                    changes["lapsed_on"], lapse_cleared = None, m.lapsed_on.isoformat()
            if changes:
                changes["updated_at"] = self.clock()
                Member.update(**changes).where(Member.id == m.id).execute()
                store.bump("allowlist")
            detail = {k: ("***" if k == "pin" else str(v)) for k, v in fields.items()}
            if lapse_cleared:
                detail["lapse_cleared"] = lapse_cleared
            self.ledger.audit(actor, "member.set", m.id, **detail)
        return Member.get_by_id(m.id)

    def privilege_level(self, member) -> dict:
        """The member's privileges now: ``{"basis", "points", "term", "privileges"}`` (the one function).

        The kiosk's answer, the console and the privilege export to the ILS all call this,
        so they agree: levels follow ``privileges.basis`` (points earned in the term by
        default, or the balance) and the member's tier's tables.
        """
        m = member if isinstance(member, Member) else find(member)
        return tiers.privilege_level(self.prog, m, self.ledger.today())

    def replace_card(self, ref, new_card: str, actor: str = "system", scope: Scope = EVERYTHING) -> Member:
        """Give a member a new card: old cards blocked, the replacement fee recorded (within ``scope``)."""
        uid = card_uid(new_card)
        now = self.clock()
        with unit_of_work():
            m = self.for_change(ref, scope)
            if Card.get_or_none(Card.uid == uid):
                raise ServiceError("card %(uid)s is already in use", uid=uid)
            old = [c.uid for c in Card.select().where((Card.member == m.id) & (Card.status == "active"))]
            Card.update(status="blocked", blocked_at=now, reason=f"replaced by {uid}").where(
                (Card.member == m.id) & (Card.status == "active")
            ).execute()
            Card.create(uid=uid, member=m, issued_at=now)
            Fee.create(
                member=m,
                kind="card_replacement",
                baht=self.prog.card_replacement_fee_baht,
                actor=actor,
                at=now,
                note=f"replaces {', '.join(old) or '-'}",
            )
            store.bump("allowlist")
            self.ledger.audit(actor, "card.replace", m.id, new=uid, old=old)
        return m

    def block_card(
        self, card: str, reason: str = "blocked by staff", actor: str = "system", scope: Scope = EVERYTHING
    ) -> Card:
        """Block one card (lost, stolen); the member keeps their points (their home site within ``scope``)."""
        uid = card_uid(card)
        with unit_of_work():
            c = Card.get_or_none(Card.uid == uid)
            if c is None or not scope.covers(c.member.home_site, self.prog):
                raise NotFound("no card %(uid)s", uid=uid)
            Card.update(status="blocked", blocked_at=self.clock(), reason=reason[:200]).where(Card.uid == uid).execute()
            store.bump("allowlist")
            self.ledger.audit(actor, "card.block", uid, reason=reason)
        return Card.get_by_id(uid)
