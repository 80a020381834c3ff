"""The server's jobs' health file, as its writer and its reader both read it: its name, and when a round is hung.

The points server (``server/loops.py``) writes the file and logs a round that runs too long;
``privcard doctor`` (``install/doctor.py``, which runs on every role and may not import the
server) reads it and warns, then fails. Both must call the same round hung at the same time,
so the thresholds live here, in the one package both import. Standard library only.

A job's round is *long* after :func:`hung_after_s` (max(:data:`HUNG_MIN_S`,
:data:`HUNG_INTERVALS` × its interval)): the server logs a warning and doctor warns. It is
*hung* after :func:`clearly_hung_after_s` (:data:`HUNG_FAIL_FACTOR` × that): doctor fails it.

The floor: a round normally takes far less than its interval (the publisher, the messages and
the sender come every 1-5 s), but the daily term close and the monthly statements go over the
whole membership in one round, which on a large one may take minutes; ten minutes leaves them
that room and still finds devices cut off from their configs within the hour. The multiple: a
job that waits long between rounds does more in each — the ILS settlement (every
``retry_interval_s``, 60 s by default) settles every pending payment, each up to its connect and
reply timeouts (3 + 5 s) — and 20 intervals leave it that room (20 min by default). The factor
between warning and failing: a term close or a statement round on a very large membership can
legitimately run past ten minutes, and a FAIL pages someone who can only restart it; three
times the threshold (30 min for the quick jobs) is no longer slow but stuck.
"""

from __future__ import annotations

#: the file name the server writes in its state directory and doctor reads there
HEALTH_FILE = "server-health.json"
HUNG_MIN_S = 600.0
HUNG_INTERVALS = 20
HUNG_FAIL_FACTOR = 3


def hung_after_s(interval_s) -> float:
    """How long a round of a job with this interval may run before it is taken for long (warned about)."""
    try:
        interval = max(float(interval_s or 0), 0.0)
    except (TypeError, ValueError):
        interval = 0.0
    return max(HUNG_MIN_S, HUNG_INTERVALS * interval)


def clearly_hung_after_s(interval_s) -> float:
    """How long a round of a job with this interval may run before it is taken for hung (doctor fails it)."""
    return HUNG_FAIL_FACTOR * hung_after_s(interval_s)
