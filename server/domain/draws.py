"""Prize draws: reproducible from a published seed and the eligible list (issue 13, item 6). Pure.

The algorithm (``privcard-draw-v1``), exactly, so anyone can recompute a draw:

1. The eligible list is ``[(member_id, tickets), ...]`` with ``tickets >= 1``, sorted by
   ``member_id`` ascending (:func:`canonical`). Tickets are numbered 0..T-1 in that order:
   member 1's tickets first, then member 2's, ...
2. The seed is 32 random bytes (``secrets.token_bytes``), written as 64 hex digits, generated
   and recorded when the draw is created, before it is run.
3. For winner number ``i`` (0, 1, ...) and attempt ``j`` (0, 1, ...):
   ``h = int.from_bytes(HMAC-SHA256(key=seed bytes, msg=f"{i}:{j}".encode("ascii")), "big")``;
   with ``T`` the tickets still in the drum, if ``h >= (2**256 // T) * T`` try ``j + 1``
   (rejection: no modulo bias), else ticket ``h % T`` wins: its member is winner ``i`` and
   all of that member's tickets leave the drum (one prize per member).
4. Stop after the number of winners asked for, or when the drum is empty.

:func:`verify` recomputes a published draw; ``python -c`` with ``hmac`` and ``hashlib``
is enough to check it by hand (docs/rules.md, "Prize draws").
"""

from __future__ import annotations

import hashlib
import hmac
import re

from .errors import TemplatedError

ALGORITHM = "privcard-draw-v1"
SEED_RE = re.compile(r"^[0-9a-f]{64}$")


class DrawError(TemplatedError, ValueError):
    """A draw's input is wrong (the message says which)."""


def canonical(eligible) -> list[tuple[int, int]]:
    """The eligible list in its one order: by member id; members with no ticket left out."""
    out: dict[int, int] = {}
    for member_id, tickets in eligible:
        if type(member_id) is not int or type(tickets) is not int or tickets < 0:
            raise DrawError("bad eligible entry %(entry)r", entry=(member_id, tickets))
        if member_id in out:
            raise DrawError("member %(member)s is listed twice", member=member_id)
        if tickets:
            out[member_id] = tickets
    return sorted(out.items())


def seed_commitment(seed_hex: str) -> str:
    """SHA-256 of the seed (hex): published before the draw runs, so the seed cannot change after."""
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def draw(seed_hex: str, eligible, winners: int) -> list[int]:
    """The winning member ids, in order (see the module's algorithm)."""
    if not isinstance(seed_hex, str) or not SEED_RE.match(seed_hex):
        raise DrawError("the seed must be 64 lower-case hex digits")
    if type(winners) is not int or winners < 1:
        raise DrawError("winners must be a whole number >= 1, got %(winners)r", winners=winners)
    key = bytes.fromhex(seed_hex)
    drum = canonical(eligible)
    total = sum(t for _, t in drum)
    out: list[int] = []
    for i in range(winners):
        if not drum:
            break
        j = 0
        while True:
            h = int.from_bytes(hmac.new(key, f"{i}:{j}".encode("ascii"), hashlib.sha256).digest(), "big")
            if h < (2**256 // total) * total:
                break
            j += 1
        ticket = h % total
        for k, (member_id, tickets) in enumerate(drum):
            if ticket < tickets:
                out.append(member_id)
                total -= tickets
                del drum[k]
                break
            ticket -= tickets
    return out


def verify(seed_hex: str, eligible, winners: int, published: list[int]) -> bool:
    """Whether the published winners are what the seed and the eligible list give."""
    return draw(seed_hex, eligible, winners) == list(published)


def tickets_for(earned: int, rule: str) -> int:
    """Tickets a member gets: ``one`` (1 each) or ``per_points:N`` (one per N points earned)."""
    if rule == "one":
        return 1
    m = re.match(r"^per_points:(\d{1,6})$", rule or "")
    if not m or int(m.group(1)) < 1:
        raise DrawError("tickets must be 'one' or 'per_points:N', got %(rule)r", rule=rule)
    return max(earned, 0) // int(m.group(1))
