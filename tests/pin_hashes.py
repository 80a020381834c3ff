"""PIN hashes for tests of the kiosk's staff screen (the server makes the real ones)."""

from __future__ import annotations

import hashlib


def hash_pin(pin: str, salt: str = "privcard", iterations: int = 100_000) -> str:
    """A ``pbkdf2_sha256$ITERATIONS$SALT$HEX`` hash of ``pin``, a format ``kiosk.pin.verify_hash`` reads."""
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"
