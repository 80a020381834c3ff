"""One device's poison messages cost those messages only: other gates' taps stay fast.

A real Mosquitto, a real ``privcard server`` process and a real SQLite file. One registered
gate (``g-bad``) publishes 30 poison messages in 3 s — taps dated year 1 or year 9999,
an all-zero UID, statuses and feedback with lone surrogates, huge and non-finite numbers,
out-of-range times — while another gate (``g-good``) taps every 200 ms. The good gate's
taps must be answered within 1 s at p95, and the server must log exactly one line per
poison message (no traceback, no retry).

Run with ``-s`` to see the figures (p50/p95/max latency, answered within 1 s) that
docs/benchmarks.md quotes. The outbox-resend attack runs 6 s in ``make test`` and its full
20 s in ``make chaos`` (``PRIVCARD_CHAOS=full``).
"""

from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager

import pytest

from broker import contract
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service

BAD, GOOD = "g-bad", "g-good"
POISON_S = 3.0
GOOD_EVERY_S = 0.2
FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")
#: how long the resending gate attacks: every poison tap still gets 2 s windows to be resent
RESEND_ATTACK_S = 20 if FULL else 6


def _poison(n: int) -> tuple[str, str]:
    """The n-th poison message: (topic kind, raw JSON text). Each is a distinct kind of bad."""
    tid = f"bad:{n}"
    now = contract.format_time(contract.now_utc())
    kinds = [
        ("tap", f'{{"v":1,"tap_id":"{tid}","uid":"04A1B2C3","at":"0001-01-01T00:00:00+14:00","clock_ok":true}}'),
        ("tap", f'{{"v":1,"tap_id":"{tid}","uid":"04A1B2C3","at":"9999-12-31T23:59:59-14:00","clock_ok":true}}'),
        ("tap", f'{{"v":1,"tap_id":"{tid}","uid":"00000000000000","at":"{now}","clock_ok":true}}'),
        ("tap", f'{{"v":1,"tap_id":"{tid}","uid":"04A1B2C3","at":"0001-01-01T00:00:00Z","clock_ok":false}}'),
        ("status", '{"v":1,"state":"online","version":"1.0\\ud800"}'),
        ("status", '{"v":1,"state":"online","outbox":1000000000000000000000000000000}'),
        ("status", '{"v":1,"state":"online","uptime_s":1e308,"at":"0001-01-01T00:00:00+14:00"}'),
        ("status", '{"v":1,"state":"online","error":"\\udfff","reader":"ok"}'),
        ("feedback", f'{{"v":1,"feedback_id":"{tid}","rating":5,"at":"0001-01-01T00:00:00+14:00","uid":null}}'),
        ("feedback", f'{{"v":1,"feedback_id":"{tid}","rating":4,"at":"{now}","uid":"00000000"}}'),
    ]
    return kinds[n % len(kinds)]


class TimedDevice(Device):
    """The test device, noting when each result arrived."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrived: dict[str, float] = {}

    def _on_result(self, topic, payload, msg) -> None:
        try:
            tap_id = contract.TapResult.parse(payload).tap_id
        except contract.ContractError:
            tap_id = None
        if tap_id is not None:
            self.arrived.setdefault(tap_id, time.monotonic())
        super()._on_result(topic, payload, msg)


@contextmanager
def attacked_server(db_url: str, mqtt_url: str, log_dir):
    """A server process, the poison device registered, and the good gate tapping every 200 ms.

    Yields ``(server, device, sent, stop)``: ``sent`` maps the good gate's tap ids to when
    each was sent; set ``stop`` to end its tapping (the context waits for it).
    """
    svc = open_service(db_url)
    svc.devices.add(BAD, "gate", direction="in")
    svc.devices.add(GOOD, "gate", direction="in")
    uid = new_uid()
    svc.members.add("Good Patron", uid)
    close_store()
    with ServerProcess(db_url, mqtt_url, log_dir=log_dir) as server, TimedDevice(mqtt_url) as dev:
        dev.wait_server()
        sent: dict[str, float] = {}
        stop = threading.Event()

        def good_gate() -> None:
            while not stop.is_set():
                tap = dev.make_tap(uid, device_id=GOOD)
                sent[tap.tap_id] = time.monotonic()
                dev.publish_tap(GOOD, tap)
                stop.wait(GOOD_EVERY_S)

        good = threading.Thread(target=good_gate, daemon=True)
        good.start()
        try:
            yield server, dev, sent, stop
        finally:
            stop.set()
            good.join()


def _poison_lines(log_text: str) -> list[str]:
    """The server's log lines about the poison device (its config being published is not one)."""
    return [line for line in log_text.splitlines() if BAD in line and "published config" not in line]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_poison_from_one_device_costs_only_those_messages(tmp_db_url, mosquitto, tmp_path):
    with attacked_server(tmp_db_url, mosquitto.url, tmp_path) as (server, dev, sent, stop):
        start_offset = server.log_path.stat().st_size
        time.sleep(0.5)
        for n in range(30):
            kind, text = _poison(n)
            dev.send_raw(BAD, text.encode("utf-8"), kind=kind)
            time.sleep(POISON_S / 30)
        time.sleep(1.5)  # the good gate keeps tapping after the attack
        stop.set()
        time.sleep(1.0)  # the last taps' results

        latencies = [dev.arrived.get(t, float("inf")) - s for t, s in sent.items()]
        within = sum(1 for lat in latencies if lat <= 1.0)
        answered = [lat for lat in latencies if lat != float("inf")]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = _poison_lines(server.log(start_offset))
            if len(lines) >= 30:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # late extra lines (retries) would show up now
        log_text = server.log(start_offset)
        lines = _poison_lines(log_text)
        print(
            f"\nPOISON-LATENCY taps={len(latencies)} answered={len(answered)} within_1s={within} "
            f"p50={_percentile(latencies, 0.5) * 1000:.0f}ms p95={_percentile(latencies, 0.95) * 1000:.0f}ms "
            f"max={max(latencies) * 1000:.0f}ms poison_log_lines={len(lines)} "
            f"tracebacks={log_text.count('Traceback')}"
        )
        assert _percentile(latencies, 0.95) <= 1.0, f"good gate p95 over 1 s: {sorted(latencies)}"
        assert len(lines) == 30, "one log line per poison message:\n" + "\n".join(lines)
        for n in range(30):  # and each message with an id has its own line, naming it
            kind, _ = _poison(n)
            if kind != "status":
                named = [line for line in lines if re.search(rf"bad:{n}\b", line)]
                assert len(named) == 1, f"{kind} bad:{n}: {named}"
        assert "Traceback" not in log_text, log_text[-3000:]


@pytest.mark.slow
@pytest.mark.chaos
def test_a_gate_resending_poison_from_its_outbox_stops_once_answered(tmp_db_url, mosquitto, tmp_path):
    """Issue 11's attack as a real gate would make it: 2 poison taps a second for 20 s (6 s in
    ``make test``), each resent every 2 s until it gets a result (what the gate's outbox does).
    Each is answered ``invalid`` once, so the resends stop; the good gate stays within 1 s at p95."""
    with attacked_server(tmp_db_url, mosquitto.url, tmp_path) as (server, dev, sent, stop):
        start_offset = server.log_path.stat().st_size
        uid = "04A1B2C3"
        poison: dict[str, tuple[bytes, float]] = {}  # tap_id -> (payload, last sent)
        resends = 0
        end = time.monotonic() + RESEND_ATTACK_S
        n = 0
        while time.monotonic() < end:
            tid = f"bad:{n}"
            payload = f'{{"v":1,"tap_id":"{tid}","uid":"{uid}","at":"0001-01-01T00:00:00+14:00","clock_ok":true}}'
            poison[tid] = (payload.encode(), time.monotonic())
            dev.send_raw(BAD, poison[tid][0])
            n += 1
            for other, (body, last) in list(poison.items()):
                if not dev.results_for(BAD, other) and time.monotonic() - last >= 2.0:
                    dev.send_raw(BAD, body)
                    poison[other] = (body, time.monotonic())
                    resends += 1
            time.sleep(0.5)
        stop.set()
        time.sleep(1.0)
        latencies = [dev.arrived.get(t, float("inf")) - s for t, s in sent.items()]
        within = sum(1 for lat in latencies if lat <= 1.0)
        unanswered = [t for t in poison if not dev.results_for(BAD, t)]
        log_text = server.log(start_offset)
        print(
            f"\nPOISON-RESEND taps={len(latencies)} within_1s={within} "
            f"p50={_percentile(latencies, 0.5) * 1000:.0f}ms p95={_percentile(latencies, 0.95) * 1000:.0f}ms "
            f"max={max(latencies) * 1000:.0f}ms poison={len(poison)} resends={resends} "
            f"unanswered_poison={len(unanswered)} poison_log_lines={len(_poison_lines(log_text))} "
            f"tracebacks={log_text.count('Traceback')}"
        )
        assert _percentile(latencies, 0.95) <= 1.0
        assert unanswered == [] and resends == 0  # answered invalid at once: nothing to resend
        assert all(r.outcome == "invalid" for t in poison for r in dev.results_for(BAD, t))
