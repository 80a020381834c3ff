"""The idle kiosk stays quiet: few main-loop wakeups, no periodic callbacks, a clock that still turns.

An idle kiosk used ~5 % of a core, mostly waking up for nothing (docs/benchmarks-kiosk.md):
Kivy's interrupt clock spun its main loop before every timed callback and the app
ticked its core five times a second with nothing to time. These tests read the
kiosk's own clock through the control hook (``clock``: loop iterations, frame rate
cap, scheduled callbacks) while the idle screen shows, and check that the time on
screen still follows the wall clock and that a tap brings the timers back.

The clock's test moves the kiosk's wall clock (the control hook's ``clock_shift``) to a few
seconds before a minute turns, so it waits seconds, not up to a minute; ``make chaos``
(``PRIVCARD_CHAOS=full``) runs it on the real wall clock as well.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.ui.fake_server import FakeServer, member_record
from tests.ui.harness import KioskProcess

pytestmark = pytest.mark.ui

GOOD = "04A1B2C3D4E5F6"
IDLE_TIMEOUT = 3
#: the configured maxfps (kiosk.main) that every screen but idle runs at
ACTIVE_MAXFPS = 30
#: what the idle screen may poll at, at most
IDLE_MAXFPS = 15
FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")


@pytest.fixture(scope="module")
def fake(broker):
    srv = FakeServer(broker.host, broker.port, {GOOD: member_record(GOOD, "กิ่งตฤทัย ศรีสุข", 295)}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def kiosk(xvfb, broker, fake):
    k = KioskProcess(
        xvfb.display, broker.url, device_id="kiosk-idle", lang="th", extra=["--idle-timeout", str(IDLE_TIMEOUT)]
    )
    k.start()
    yield k
    assert k.stop() == 0, k.stderr()


def callbacks(clock: dict) -> set[str]:
    return {event["callback"] for event in clock["events"]}


def bangkok_hhmm(epoch: float) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch + 7 * 3600))


def test_idle_screen_schedules_nothing_periodic_and_polls_slowly(kiosk):
    kiosk.wait_for("idle")
    time.sleep(1.0)  # let the start-up settle
    c0 = kiosk.call("clock")
    time.sleep(4.0)
    c1 = kiosk.call("clock")
    loops_per_s = (c1["iterations"] - c0["iterations"]) / (c1["monotonic"] - c0["monotonic"])
    assert c1["max_fps"] <= IDLE_MAXFPS
    # the loop runs at the frame-rate cap plus a wakeup per timed callback (waves, Kivy's
    # cache purge): a clock that busy-loops before its callbacks shows hundreds per second
    assert loops_per_s <= c1["max_fps"] + 5, f"{loops_per_s:.0f} main-loop iterations/s on the idle screen"
    periodic = [e for e in c1["events"] if e["repeat"] and e["timeout"] < 1.0]
    assert periodic == [], f"callbacks scheduled more than once a second on the idle screen: {periodic}"
    assert "KioskApp._tick" not in callbacks(c1)
    minute = [e for e in c1["events"] if e["callback"] == "KioskApp._minute"]
    assert len(minute) == 1 and not minute[0]["repeat"] and minute[0]["timeout"] <= 60.1


def _clock_turns(kiosk, now: float, offset: float) -> None:
    """The kiosk, whose wall clock reads ``now`` (epoch seconds; ``offset`` ahead of ours), shows
    this minute on both clocks, then the next one within 3 s of the minute turning."""
    boundary = (now // 60 + 1) * 60
    if boundary - now < 2:  # too close to tell which minute the kiosk saw: take the next one
        boundary += 60
    time.sleep(max(0.0, boundary - offset - time.time() - 1.0))
    before = kiosk.texts()["ids"]
    assert before["idle_clock"] == bangkok_hhmm(boundary - 60) == before["top_clock"]
    deadline = boundary - offset + 3.0
    while True:
        ids = kiosk.texts()["ids"]
        if ids["idle_clock"] == bangkok_hhmm(boundary) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert ids["idle_clock"] == bangkok_hhmm(boundary) == ids["top_clock"], "the clock did not turn with the minute"


def test_idle_clock_turns_with_the_minute(kiosk):
    kiosk.wait_for("idle")
    shifted = kiosk.call("clock_shift", second=54)  # its clock now reads hh:mm:54
    try:
        assert shifted["ok"], shifted
        _clock_turns(kiosk, shifted["epoch"], shifted["epoch"] - time.time())
    finally:
        kiosk.call("clock_shift", second=None)


@pytest.mark.chaos
@pytest.mark.skipif(not FULL, reason="waits for the wall clock's next minute: PRIVCARD_CHAOS=full (make chaos)")
def test_idle_clock_turns_with_the_wall_clocks_minute(kiosk):
    kiosk.wait_for("idle")
    _clock_turns(kiosk, time.time(), 0.0)


def test_a_tap_brings_back_the_timers_and_the_frame_rate(kiosk):
    kiosk.wait_for("idle")
    kiosk.tap(GOOD)
    t = kiosk.wait_for("member")
    assert t["ids"]["member_name"] == "กิ่งตฤทัย ศรีสุข"
    c = kiosk.call("clock")
    assert "KioskApp._tick" in callbacks(c) and c["max_fps"] == ACTIVE_MAXFPS
    # the tick is what times the member screen out
    kiosk.wait_for("idle", timeout=IDLE_TIMEOUT + 3)
    c = kiosk.call("clock")
    assert "KioskApp._tick" not in callbacks(c) and c["max_fps"] <= IDLE_MAXFPS
