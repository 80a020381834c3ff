"""A background job failing on and off (good round, bad round, good round…) is logged once a minute, not each round.

Before, each good round was a recovery: it logged "works again" and cleared the once-a-minute
throttle, so each bad round after it logged the same failure with its traceback afresh — two
log entries a round, a traceback a second for the publisher. Now (server/loops.py's docstring):
the first recovery is logged at once; a job failing again within a minute of it fails on and
off, logged in one line, "failing" in its health — through its good rounds too, so ``privcard
doctor`` shows it failing — until it has gone a minute without a failure, when it logs "works
again" once. The same failure is logged at most once a minute meanwhile, with its count.

The real :func:`server.loops.run_rounds` in a thread and the real :class:`server.loops.Health`
writing its file; "a minute" is a second here (``LOG_EVERY_S``, ``RECOVER_AFTER_S``).
"""

from __future__ import annotations

import logging
import re
import threading
import time

from install import doctor
from server import loops
from tests.helpers import job_health, until

MINUTE = 1.0


def test_a_job_failing_every_other_round_logs_once_a_minute_and_stays_failing_till_it_stops(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(loops, "LOG_EVERY_S", MINUTE)
    monkeypatch.setattr(loops, "RECOVER_AFTER_S", MINUTE)
    monkeypatch.setattr(loops, "BUG_FIRST_DELAY_S", 0.01)
    caplog.set_level(logging.INFO, logger="server.loops")
    path = tmp_path / "server-health.json"
    stop, bad = threading.Event(), threading.Event()
    bad.set()
    rounds = {"n": 0, "failed": 0}
    health = loops.Health(str(path), {})

    def round_():  # every other round meets the bug, while ``bad`` is set
        rounds["n"] += 1
        if bad.is_set() and rounds["n"] % 2:
            rounds["failed"] += 1
            raise KeyError("a member row the messages job does not expect")
        return 0.01

    def said(text: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "server.loops" and text in r.getMessage()]

    t = threading.Thread(
        target=loops.run_rounds, args=("messages", round_), kwargs={"stopping": stop, "health": health}
    )
    t.start()
    try:
        until(lambda: said("works again"), "the first recovery")
        until(lambda: rounds["failed"] >= 2 and health.jobs["messages"]["state"] == "failing", "the relapse")
        started = time.monotonic()
        states = set()
        while time.monotonic() - started < 2.5 * MINUTE:  # some 100 rounds, half of them failing
            states.add(health.jobs["messages"]["state"])
            time.sleep(0.002)
        assert rounds["failed"] > 40, rounds
        assert states == {"failing"}, states  # through its good rounds too: it is failing now
        job = health.jobs["messages"]
        assert job["intermittent"] and job["failing_rounds"] == job["errors"] == rounds["failed"], job
        assert job["last_error"].startswith("KeyError"), job

        # the log: the traceback once, "works again" once, the relapse once, then a line a minute
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        with_traceback = [r for r in errors if r.exc_info is not None]
        assert len(with_traceback) == 1 and "failed (KeyError" in with_traceback[0].getMessage(), errors
        assert len(said("works again")) == 1, [r.getMessage() for r in said("works again")]
        (relapse,) = said("it fails on and off")
        assert re.search(
            r"failed again \(KeyError: .*\) \d+ s after it worked again: it fails on and off, and counts as working "
            r"again only after 1 s without a failure \(its health says failing till then\); 2 failed round\(s\) since ",
            relapse.getMessage(),
        ), relapse.getMessage()
        repeated = said("more time(s) in the last")
        assert 1 <= len(repeated) <= 4, [r.getMessage() for r in repeated]  # some 2.5 "minutes": not one a round
        assert "round(s) failed on and off since" in repeated[0].getMessage()
        assert len(errors) <= 6 and len(errors) + len(said("works again")) < rounds["failed"] / 5, len(errors)

        path_job = until(
            lambda: job_health(path, "messages").get("intermittent") and job_health(path, "messages"), "the file"
        )
        assert path_job["state"] == "failing"
        check = doctor.check_server_jobs(str(path))  # what privcard doctor says meanwhile
        assert not check.ok
        english, _, thai = check.detail.partition(" — ")
        assert "messages (message triggers) failing since " in english and ", on and off: " in english, english
        assert "failed round(s), the last at " in english and "KeyError" in english
        assert "ล้มเหลวเป็นระยะตั้งแต่" in thai, thai

        # the bug is fixed: after a "minute" without a failure, it works again — said once
        bad.clear()
        fixed = time.monotonic()
        until(lambda: health.jobs["messages"]["state"] == "running", "the recovery")
        assert time.monotonic() - fixed >= 0.8 * MINUTE  # not at its first good round
        back = said("works again")
        assert len(back) == 2, [r.getMessage() for r in back]
        assert re.search(
            r"works again after \d+ failed round\(s\) since \S+, on and off \(none in the last 1 s\); "
            r"\d+ of them not logged",
            back[1].getMessage(),
        ), back[1].getMessage()
        assert not health.jobs["messages"]["intermittent"]
        until(lambda: job_health(path, "messages").get("state") == "running", "the file says running")
        check = doctor.check_server_jobs(str(path))
        assert check.ok and "works again since" in check.detail, check.detail
    finally:
        stop.set()
        t.join(5)


def test_a_job_that_fails_once_and_is_repaired_works_again_at_once(tmp_path, monkeypatch, caplog):
    """The usual case is unchanged: a row staff repaired, the next good round is the recovery."""
    monkeypatch.setattr(loops, "BUG_FIRST_DELAY_S", 0.01)
    caplog.set_level(logging.INFO, logger="server.loops")
    stop, bad = threading.Event(), threading.Event()
    bad.set()
    health = loops.Health(str(tmp_path / "server-health.json"), {})

    def round_():
        if bad.is_set():
            raise ValueError("a corrupt device row")
        return 0.01

    t = threading.Thread(
        target=loops.run_rounds, args=("publisher", round_), kwargs={"stopping": stop, "health": health}
    )
    t.start()
    try:
        until(lambda: health.jobs["publisher"]["failing_rounds"] >= 3, "three failed rounds")
        bad.clear()
        repaired = time.monotonic()
        until(lambda: health.jobs["publisher"]["state"] == "running", "the recovery")
        assert time.monotonic() - repaired < 5  # its next round, after the back-off (1 s here at most)
        (back,) = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
        assert "on and off" not in back and not health.jobs["publisher"]["intermittent"]
    finally:
        stop.set()
        t.join(5)
