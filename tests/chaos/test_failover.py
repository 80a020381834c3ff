"""A PostgreSQL failover under load: a two-node Patroni cluster, its primary SIGKILLed mid-run.

Real processes only: etcd, two Patroni members each running PostgreSQL 15
(tests/chaos/patroni.py, ``synchronous_mode: true``), the production Mosquitto, a
``privcard server`` on the multi-host URL
``postgresql://…@n1,n2/privcard?target_session_attrs=read-write``, and in-harness gates
(the real controller, outbox and MQTT client) tapping through it. Mid-run the harness
SIGKILLs the primary's Patroni and postmaster (a machine crash); Patroni promotes the
synchronous standby once the leader key expires (``ttl`` 20 s), the server's retry
policy reconnects to it, and the gates' outboxes resend what was not answered.

Then, from the harness's own tap log (tests/chaos/harness.py ``check``): every tap
answered and credited exactly once, nothing lost, nothing doubled, every outbox empty.
The report gives the failover time (kill → new primary accepts writes) and the time
without service (the longest stretch without any result reaching a gate).

- ``test_failover_short`` (``make test``): 300 taps over 30 s from 4 gates (~75 s here).
- ``test_failover_full`` (``make chaos``): 2,000 taps over 60 s from 10 gates.
"""

from __future__ import annotations

import os

import pytest

from tests.brokers import find_mosquitto
from tests.chaos.harness import ChaosConfig, ChaosRun
from tests.chaos.patroni import missing

FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")


def _failover(tmp_path, **sizes) -> ChaosRun:
    problem = missing()
    if problem:
        pytest.fail(f"cannot start a Patroni cluster: {problem}", pytrace=False)
    if not find_mosquitto():
        pytest.fail("Mosquitto is not installed (apt-get install mosquitto)", pytrace=False)
    cfg = ChaosConfig(
        db="patroni",
        primary_kills=1,
        real_gates=0,
        broker_kills=0,
        server_kills=0,
        cuts=0,
        replays=0,
        drain_timeout_s=90,
        workdir=str(tmp_path / "failover"),
        **sizes,
    )
    run = ChaosRun(cfg, log=lambda *_: None)
    report = run.run()
    print()
    print(report.summary())
    assert report.primary_kills == 1 and report.failover_s, report.summary()
    assert report.taps_stored == report.taps_planned, report.summary()
    assert report.taps_answered == report.taps_stored, report.summary()
    assert report.lost == 0 and report.doubled == 0 and report.unexpected == 0, report.summary()
    assert report.ok, report.summary()
    # the outage was real: no result reached a gate for at least the failover's length
    assert report.service_gap_s[0] >= min(report.failover_s[0], 10) * 0.5, report.summary()
    return run


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_failover_short(tmp_path):
    _failover(tmp_path, taps=300, gates=4, duration_s=30)


@pytest.mark.chaos
@pytest.mark.postgres
@pytest.mark.skipif(not FULL, reason="the full failover run needs PRIVCARD_CHAOS=full (make chaos)")
@pytest.mark.timeout(600)
def test_failover_full(tmp_path):
    _failover(tmp_path, taps=2000, gates=10, duration_s=60)
