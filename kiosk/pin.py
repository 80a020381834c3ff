"""Staff PIN checks for the kiosk's staff screen (standard library only).

The kiosk never stores staff PINs. It checks a typed PIN, in this order, against:

1. ``member["pin_hash"]`` in the server's answer for a staff card;
2. ``--staff-pin`` (development only: one PIN for the device, in clear).

The device config carries no PIN (``broker.settings`` has no such setting); moving
the check to the server is a later issue.

Hash formats: the server's ``scrypt$N$R$P$SALTHEX$HEX`` (``server.services.members.hash_pin``),
``pbkdf2_sha256$ITERATIONS$SALT$HEX`` and ``sha256$SALT$HEX`` where HEX = sha256(SALT + PIN).
"""

from __future__ import annotations

import hashlib
import hmac


def verify_hash(stored, pin: str) -> bool | None:
    """True/False for a well-formed hash; None if ``stored`` is not a hash we know."""
    if not isinstance(stored, str) or not isinstance(pin, str):
        return None
    parts = stored.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
                return None
            digest = hashlib.scrypt(
                pin.encode(), salt=bytes.fromhex(parts[4]), n=n, r=r, p=p, maxmem=256 * n * r + 1024 * 1024
            )
            return hmac.compare_digest(digest.hex(), parts[5].lower())
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not 1 <= iterations <= 2_000_000:
                return None
            digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), parts[2].encode(), iterations).hex()
            return hmac.compare_digest(digest, parts[3].lower())
        if parts[0] == "sha256" and len(parts) == 3:
            digest = hashlib.sha256((parts[1] + pin).encode()).hexdigest()
            return hmac.compare_digest(digest, parts[2].lower())
    except ValueError:
        return None
    return None


def make_pin_check(fallback_pin: str | None = None):
    """A ``pin_check(member, pin) -> bool | None`` for :class:`kiosk.core.KioskCore`.

    ``fallback_pin`` is ``--staff-pin``. None means no PIN is known for this card.
    """

    def check(member: dict, pin: str) -> bool | None:
        if not pin:
            return False
        result = verify_hash(member.get("pin_hash") if isinstance(member, dict) else None, pin)
        if result is not None:
            return result
        if fallback_pin:
            return hmac.compare_digest(str(fallback_pin), pin)
        return None

    return check
