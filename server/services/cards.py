"""Genuine cards (NTAG 424 DNA Secure Unique NFC): which cards must prove themselves, and with which keys.

Staff mark a card as secured (``privcard admin card secure UID``): from then on a tap of
it earns only with a fresh, valid SUN URL (the check itself is on the tap path,
:mod:`server.services.taps`, and in the kiosk's answer, :mod:`server.services.reads`).
Keys are diversified from the server's master key unless staff import the card's own
(``--meta-key``/``--file-key``), which are stored sealed under the key-encryption key
(:class:`server.sun.Keyring`); no key is ever audited or logged.
"""

from __future__ import annotations

from server import sun
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger
from server.services.members import card_uid
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope
from server.store import Card, Member


def _key(text: str, option: str) -> bytes:
    try:
        return sun.parse_key(text, option)
    except ValueError:
        raise ServiceError("%(option)s must be 32 hex digits (an AES-128 key)", option=option) from None


class Cards:
    """Secure cards, list suspected clones, count the cards still identified by UID only."""

    def __init__(self, ledger: Ledger, keyring: sun.Keyring | None = None):
        self.ledger = ledger
        self.clock = ledger.clock
        self.keyring = keyring

    def secure(
        self, card: str, *, meta_key: str | None = None, file_key: str | None = None, actor: str = "system"
    ) -> Card:
        """Mark a card as requiring SUN; with both keys given, import them (sealed), else diversify."""
        uid = card_uid(card)
        if len(uid) != 14:
            raise ServiceError("card %(uid)s is not a 7-byte UID: NTAG 424 DNA cards have 7-byte UIDs", uid=uid)
        if (meta_key is None) != (file_key is None):
            raise ServiceError("give both --meta-key and --file-key, or neither (keys diversified from the master key)")
        if self.keyring is None:
            raise ServiceError("no card key file: give --card-keys PATH or set PRIVCARD_CARD_KEYS")
        sealed = None
        if meta_key is not None:
            keys = sun.CardKeys(_key(meta_key, "--meta-key"), _key(file_key, "--file-key"))
            if not self.keyring.can_import:
                raise ServiceError("the card key file has no kek (key-encryption key): imported keys cannot be stored")
            sealed = self.keyring.seal(uid, keys)
        elif not self.keyring.can_diversify:
            raise ServiceError("the card key file has no master key: give --meta-key and --file-key")
        with unit_of_work():
            c = Card.get_or_none(Card.uid == uid)
            if c is None:
                raise NotFound("no card %(uid)s", uid=uid)
            Card.update(sun=True, sun_keys=sealed, sun_suspect_at=None).where(Card.uid == uid).execute()
            self.ledger.audit(actor, "card.secure", uid, keys="imported" if sealed else "diversified")
        return Card.get_by_id(uid)

    def diversified_keys(self, card: str, actor: str = "system") -> sun.CardKeys:
        """The SDM keys to write onto card *card* when it is personalised (docs/cards.md); audited, not the keys."""
        uid = card_uid(card)
        if len(uid) != 14:
            raise ServiceError("card %(uid)s is not a 7-byte UID: NTAG 424 DNA cards have 7-byte UIDs", uid=uid)
        if self.keyring is None:
            raise ServiceError("no card key file: give --card-keys PATH or set PRIVCARD_CARD_KEYS")
        if not self.keyring.can_diversify:
            raise ServiceError("the card key file has no master key: give --meta-key and --file-key")
        keys = self.keyring.diversified(uid)
        with unit_of_work():
            self.ledger.audit(actor, "card.keys_shown", uid)
        return keys

    def _members_of(self, scope: Scope):
        """The condition "the card's member is at home within ``scope``" (None: every member)."""
        if scope.everything:
            return None
        codes = scope.codes(self.ledger.prog)
        at_home = Member.home_site.in_(codes or [""])
        if self.ledger.prog.default_site in codes:  # no home site recorded: the default site's
            at_home |= Member.home_site.is_null()
        return at_home

    def suspects(self, limit: int = 100, scope: Scope = EVERYTHING) -> list[dict]:
        """Cards whose read counter went backwards (a recorded URL or a clone), newest first.

        A staff account scoped to sites sees its sites' members' cards (their home site's),
        as it may block only those.
        """
        with read_unit():
            q = Card.select(Card, Member).join(Member).where(Card.sun_suspect_at.is_null(False))
            if (mine := self._members_of(scope)) is not None:
                q = q.where(mine)
            q = q.order_by(Card.sun_suspect_at.desc()).limit(limit)
            return [
                {
                    "uid": c.uid,
                    "member": c.member.id,
                    "name": c.member.name,
                    "status": c.status,
                    "suspect_at": c.sun_suspect_at,
                    "counter": c.sun_counter,
                }
                for c in q
            ]

    def counts(self, scope: Scope = EVERYTHING) -> dict:
        """Active cards that are secured and those still identified by their UID only (of ``scope``'s members)."""
        with read_unit():
            active = Card.select().join(Member).where(Card.status == "active")
            if (mine := self._members_of(scope)) is not None:
                active = active.where(mine)
            secured = active.where(Card.sun == True).count()  # noqa: E712 (peewee expression)
            return {"secured": secured, "uid_only": active.count() - secured}
