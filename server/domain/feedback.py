"""The feedback desk's rules: channels, statuses and the transitions between them, report figures.

Pure (standard library only). The service (:mod:`server.services.feedback`) stores and
moves feedback; what may follow what is decided here::

    new ──> in_progress ──answer──> answered ──> closed
     │           │                      │
     │           └────────> closed <────┘          (answered ──> in_progress: reopened)
     ├──answer──> answered
     └──────────> closed                            (nothing to answer: a compliment, spam)

``answered`` is reached only by writing an answer (never by setting the status), and a
closed item stays closed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: how a piece of feedback reached the library
CHANNELS = ("kiosk", "patron_page", "counter", "email", "phone")
#: the channels staff record by hand in the console or the CLI
STAFF_CHANNELS = ("counter", "email", "phone")
STATUSES = ("new", "in_progress", "answered", "closed")
#: status -> the statuses staff may set next (``answered`` only by answering)
TRANSITIONS = {
    "new": ("in_progress", "closed"),
    "in_progress": ("closed",),
    "answered": ("in_progress", "closed"),
    "closed": (),
}
#: statuses an answer may be written in
ANSWERABLE = ("new", "in_progress", "answered")
#: what the library decided about a book-purchase request with points pledged
DECISIONS = ("bought", "declined")


def may_set(current: str, wanted: str) -> bool:
    """Whether staff may move feedback from ``current`` to ``wanted`` by setting the status."""
    return wanted in TRANSITIONS.get(current, ())


def percentile(values: Iterable[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) by the nearest-rank method; None for no values.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 90), percentile([], 50)
    (2, 4, None)
    """
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
