"""The gate's outbox after a writer is killed with SIGKILL mid-stream."""

import subprocess
from datetime import UTC, datetime

from gate.outbox import Outbox
from tests.brokers import PYTHON, python_env

WRITER = """
import sys
from broker.contract import now_utc
from gate.outbox import Outbox
box = Outbox(sys.argv[1])
while True:
    tap = box.create("gate-7", "04A1B2C3", now_utc(), True)
    print(tap.tap_id, flush=True)   # printed only after the commit returned
"""


def test_every_acknowledged_tap_survives_sigkill_and_ids_are_not_reused(tmp_path):
    path = tmp_path / "outbox.db"
    confirmed: list[str] = []
    for _round in range(2):
        proc = subprocess.Popen([PYTHON, "-c", WRITER, str(path)], env=python_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(40):
            confirmed.append(proc.stdout.readline().strip())
        proc.kill()
        proc.wait()
    box = Outbox(path)
    stored = {item.tap_id for item in box.pending(100000)}
    assert set(confirmed) <= stored, "a tap the writer had confirmed is gone"
    seqs = sorted(int(t.split(":")[1]) for t in stored)
    assert seqs == sorted(set(seqs)), "a sequence number was handed out twice"
    assert seqs[0] == 1
    # the next id continues after everything ever handed out
    nxt = box.create("gate-7", "04A1B2C3", datetime.now(UTC), True)
    assert int(nxt.tap_id.split(":")[1]) > max(seqs)
