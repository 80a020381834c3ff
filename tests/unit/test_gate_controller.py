"""The gate controller with fakes: debounce, durability first, decisions, the sender window."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from broker import contract
from broker import settings as S
from broker.contract import Allowlist, DeviceConfig, Tap, TapResult
from gate.controller import SERVER_SET, ClockCheck, Controller, GateError, GateSettings, offline_decision
from gate.main import build_parser
from gate.outbox import Outbox
from tests.gate_fakes import FakeBus, FakeClock, RecordingIndicator

DEV = "gate-1"
CARD = "04A1B2C3"
OTHER = "04D5E6F7"


def credited(tap_id: str, open_: bool = True, outcome: str = "credited") -> bytes:
    return TapResult(
        tap_id=tap_id,
        outcome=outcome,
        open=open_,
        points=5 if outcome == "credited" else 0,
        balance=260,
        activity="entry",
        name="Somchai",
        tier="silver",
        message={"th": "ได้ 5 แต้ม", "en": "+5 points"},
    ).encode()


def answering_server(outcome="credited", open_=True, skip=()):
    """A responder that answers every tap like the server would (except UIDs in skip)."""

    def respond(topic, payload):
        if not topic.endswith("/tap"):
            return None
        tap = Tap.parse(payload)
        if tap.uid in skip:
            return None
        return [(contract.result_topic(DEV), credited(tap.tap_id, open_, outcome))]

    return respond


@pytest.fixture
def rig(tmp_path):
    """A controller wired to fakes; threads started; stopped afterwards."""
    made = []

    def build(*, connected=True, responder=None, clock=None, state_dir=None, **settings):
        clock = clock or FakeClock()
        box = Outbox(tmp_path / "outbox.db")
        bus = FakeBus(connected=connected)
        bus.responder = responder
        ind = RecordingIndicator(probe=box.depth)
        s = GateSettings(device_id=DEV, **settings)
        ctl = Controller(
            s,
            outbox=box,
            bus=bus,
            indicator=ind,
            clock=clock,
            clock_ok=lambda: True,
            monotonic=clock.monotonic,
            state_dir=state_dir,
            make_indicator=lambda pins: RecordingIndicator(pins),
        )
        ctl.start()
        made.append(ctl)
        return ctl, bus, ind, box, clock

    yield build
    for ctl in made:
        ctl.stop(timeout=2)


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


# ---------------------------------------------------------------- debounce


def test_same_card_within_repeat_window_is_one_tap(rig):
    ctl, bus, _ind, _box, clock = rig(responder=answering_server())
    assert ctl.handle_read(CARD) is not None
    clock.advance(1.0)
    assert ctl.handle_read(CARD) is None  # still on the reader
    clock.advance(2.5)
    assert ctl.handle_read(CARD) is None  # the window slides while it rests there
    assert ctl.handle_read(OTHER) is not None  # another card is not held back
    clock.advance(3.1)
    assert ctl.handle_read(CARD) is not None  # taken away and presented again
    assert len(bus.sent("/tap")) == 3


def test_lower_case_and_separators_are_the_same_card(rig):
    ctl, _bus, *_ = rig(responder=answering_server())
    assert ctl.handle_read("04:a1:b2:c3").tap.uid == CARD
    assert ctl.handle_read("04a1b2c3") is None


# ---------------------------------------------------------------- durability first


def test_tap_is_in_the_outbox_before_any_feedback(rig):
    ctl, _bus, ind, box, _clock = rig(connected=False)
    d = ctl.handle_read(CARD)
    # the indicator probed the outbox depth at the moment it signalled
    assert ind.events[-1][1] == ("offline_refused", 1)
    assert box.get(d.tap.tap_id) is not None


def test_tap_carries_sequence_id_original_at_and_clock_flag(rig):
    clock = FakeClock(datetime(2025, 3, 1, 21, 45, 30, tzinfo=timezone(timedelta(hours=7))))
    ctl, bus, _ind, _box, _ = rig(clock=clock, responder=answering_server())
    d = ctl.handle_read(CARD)
    sent = Tap.parse(bus.sent("/tap")[0])
    assert sent.tap_id == f"{DEV}:1" == d.tap.tap_id
    assert sent.at == clock.now and sent.at.utcoffset() == timedelta(hours=7)
    assert sent.clock_ok is True


# ---------------------------------------------------------------- online decisions


def test_granted_result_opens_the_door_and_removes_the_tap(rig):
    ctl, _bus, ind, box, _ = rig(responder=answering_server(), open_ms=2500)
    d = ctl.handle_read(CARD)
    assert d.outcome == "granted" and d.opened and d.result.points == 5
    assert ind.doors == [2500] and ind.signals == ["granted"]
    assert wait_until(lambda: box.depth() == 0)


def test_refused_result_keeps_the_door_closed(rig):
    ctl, _bus, ind, _box, _ = rig(responder=answering_server("unknown_card", open_=False))
    d = ctl.handle_read(CARD)
    assert d.outcome == "refused" and not d.opened
    assert ind.doors == [] and ind.signals == ["refused"]


def test_counter_never_pulses_a_relay(rig):
    ctl, _bus, ind, _box, _ = rig(responder=answering_server(), kind="counter")
    d = ctl.handle_read(CARD)
    assert d.outcome == "granted" and not d.opened and ind.doors == []


def test_result_for_another_tap_does_not_decide_this_one(rig):
    def wrong(topic, payload):
        if topic.endswith("/tap"):
            return [(contract.result_topic(DEV), credited("gate-1:999"))]

    ctl, _bus, _ind, box, _ = rig(responder=wrong, decision_timeout_ms=150, offline_policy="closed")
    d = ctl.handle_read(CARD)
    assert d.result is None and d.outcome == "offline_refused"
    assert box.depth() == 1  # still waiting for ITS result


def test_garbage_result_is_ignored(rig, caplog):
    def garbage(topic, payload):
        if topic.endswith("/tap"):
            return [(contract.result_topic(DEV), b"{not json")]

    ctl, _bus, _ind, _box, _ = rig(responder=garbage, decision_timeout_ms=100)
    with caplog.at_level(logging.WARNING, "privcard.gate"):
        d = ctl.handle_read(CARD)
    assert d.offline and "unreadable result" in caplog.text


# ---------------------------------------------------------------- offline decisions


def allowlist(*uids, version=3) -> bytes:
    return Allowlist(version=version, uids=frozenset(uids)).encode()


@pytest.mark.parametrize(
    "policy, card, expected, door",
    [
        ("allowlist", CARD, "offline_granted", True),
        ("allowlist", OTHER, "offline_refused", False),
        ("open", OTHER, "offline_granted", True),
        ("closed", CARD, "offline_refused", False),
    ],
)
def test_offline_policy(rig, policy, card, expected, door):
    ctl, bus, _ind, box, _ = rig(offline_policy=policy)
    bus.deliver(contract.allowlist_topic(), allowlist(CARD), retain=True)
    bus.disconnect()
    t0 = time.monotonic()
    d = ctl.handle_read(card)
    assert d.outcome == expected and d.opened is door
    assert (time.monotonic() - t0) < 0.4  # bus down: no waiting for a timeout
    assert box.depth() == 1  # stays queued for the server


def test_no_answer_in_time_falls_back_to_offline_decision(rig):
    ctl, bus, _ind, box, _ = rig(decision_timeout_ms=120)
    bus.deliver(contract.allowlist_topic(), allowlist(CARD), retain=True)
    t0 = time.monotonic()
    d = ctl.handle_read(CARD)
    waited = time.monotonic() - t0
    assert d.outcome == "offline_granted" and 0.1 <= waited < 0.6
    assert "no answer in 120 ms" in d.reason
    # the late result still clears the outbox
    bus.deliver(contract.result_topic(DEV), credited(d.tap.tap_id))
    assert wait_until(lambda: box.depth() == 0)


def test_without_an_allowlist_the_allowlist_policy_refuses(rig):
    ctl, _bus, _ind, _box, _ = rig(connected=False)
    assert offline_decision(CARD, "allowlist", None) == (False, "no allow-list cached")
    assert ctl.handle_read(CARD).outcome == "offline_refused"


def test_corrupt_or_stale_allowlist_keeps_the_last_good_one(rig, caplog):
    ctl, bus, *_ = rig()
    bus.deliver(contract.allowlist_topic(), allowlist(CARD, version=5))
    with caplog.at_level(logging.INFO, "privcard.gate"):
        bus.deliver(contract.allowlist_topic(), b'{"v":1,"version":6,"encoding":"zlib+base64","uids":"!!!"}')
        bus.deliver(contract.allowlist_topic(), allowlist(OTHER, version=4))
    assert ctl.allowlist.version == 5 and CARD in ctl.allowlist.uids
    assert "allow-list from bus REJECTED" in caplog.text and "keeping v5" in caplog.text
    assert "stale allow-list v4 ignored" in caplog.text


# ---------------------------------------------------------------- config


def config(**settings) -> bytes:
    return DeviceConfig(
        device_id=DEV,
        kind=settings.pop("kind", "gate"),
        direction="in",
        activity="entry",
        settings=settings,
        revision=settings.pop("revision", 2),
    ).encode()


def test_retained_config_is_applied_live(rig):
    ctl, bus, ind, _box, _ = rig(responder=answering_server())
    bus.deliver(
        contract.config_topic(DEV),
        config(open_ms=1200, offline_policy="open", repeat_s=1, pins={"relay": 5}, library={"en": "x"}),
    )
    s = ctl.settings
    assert (s.open_ms, s.offline_policy, s.repeat_s, s.activity, s.revision) == (1200, "open", 1, "entry", 2)
    # pins set in a config apply over the kind's default wiring (broker.settings), as on the server
    assert ctl.indicator is not ind and ctl.indicator.pins == {**S.defaults("gate")["pins"], "relay": 5} and ind.closed
    ctl.handle_read(CARD)
    assert ctl.indicator.doors == [1200]


def test_corrupt_config_is_rejected_and_the_last_good_one_stays(rig, caplog):
    ctl, bus, *_ = rig()
    bus.deliver(contract.config_topic(DEV), config(open_ms=1500, revision=3))
    with caplog.at_level(logging.ERROR, "privcard.gate"):
        bus.deliver(contract.config_topic(DEV), b"\xff\xfe not json")
        bus.deliver(contract.config_topic(DEV), config(open_ms="long", revision=4))
        bus.deliver(contract.config_topic(DEV), config(open_ms=999999, revision=5))
        bus.deliver(contract.config_topic(DEV), config(kind="kiosk", revision=6))
        bus.deliver(contract.config_topic(DEV), config(pins={"relay": 40}, revision=7))
    assert ctl.settings.open_ms == 1500 and ctl.settings.revision == 3
    assert caplog.text.count("REJECTED") == 5 and "keeping revision 3" in caplog.text
    assert "open_ms must be a whole number from 100 to 60000, got 999999" in caplog.text
    assert "pins.relay must be a BCM pin number from 0 to 27 or null, got 40" in caplog.text


def test_config_and_allowlist_survive_a_restart_via_the_state_dir(rig, tmp_path):
    state = tmp_path / "state"
    ctl, bus, *_ = rig(state_dir=state)
    bus.deliver(contract.config_topic(DEV), config(offline_policy="closed", revision=7))
    bus.deliver(contract.allowlist_topic(), allowlist(CARD, version=9))
    ctl.stop()
    again, _bus2, *_ = rig(state_dir=state, connected=False)
    assert again.settings.offline_policy == "closed" and again.settings.revision == 7
    assert again.allowlist.version == 9


def test_settings_validation():
    with pytest.raises(GateError, match="offline_policy"):
        GateSettings(DEV, offline_policy="maybe")
    with pytest.raises(GateError, match="kind"):
        GateSettings(DEV, kind="kiosk")
    with pytest.raises(GateError, match="repeat_s"):
        GateSettings(DEV, repeat_s=-1)
    with pytest.raises(GateError, match="heartbeat_s must be a number from 1 to 3600"):
        GateSettings(DEV, heartbeat_s=0.5)
    with pytest.raises(GateError, match="window"):
        GateSettings(DEV, window=0)


def test_settings_defaults_are_broker_settings_for_the_kind():
    for kind in ("gate", "counter"):
        s, declared = GateSettings(DEV, kind=kind), S.defaults(kind)
        assert {k: getattr(s, k) for k in SERVER_SET if k in declared} == {
            k: declared[k] for k in SERVER_SET if k in declared
        }
    assert GateSettings(DEV, kind="counter").pins["relay"] is None


def test_command_line_defaults_are_broker_settings_and_bad_values_are_refused(capsys):
    args = build_parser().parse_args(["--device-id", DEV])
    declared = S.defaults("gate")
    assert {k: getattr(args, k) for k in SERVER_SET if k != "pins"} == {
        k: declared[k] for k in SERVER_SET if k != "pins"
    }
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--device-id", DEV, "--open-ms", "50"])
    assert "open_ms must be a whole number from 100 to 60000, got 50" in capsys.readouterr().err


# ---------------------------------------------------------------- the sender


def test_backlog_drains_in_order_with_at_most_20_in_flight(rig):
    clock = FakeClock()
    ctl, bus, _ind, box, _ = rig(connected=False, clock=clock)
    for i in range(120):
        ctl.handle_read(f"0400{i:04X}")
        clock.advance(0.5)
    assert box.depth() == 120
    ats = {}
    answered = []
    max_inflight = 0

    def server(topic, payload):
        nonlocal max_inflight
        if topic.endswith("/tap"):
            tap = Tap.parse(payload)
            ats[tap.tap_id] = tap.at
            max_inflight = max(max_inflight, ctl.inflight())

    bus.responder = server
    bus.connect()
    # the server answers slowly, in arrival order; the gate never has more than 20 out
    deadline = time.monotonic() + 20
    while len(answered) < 120 and time.monotonic() < deadline:
        wait_until(lambda: len(bus.sent("/tap")) > len(answered), 2)
        sent = [Tap.parse(p).tap_id for p in bus.sent("/tap")]
        for tap_id in sent[len(answered) : len(answered) + 7]:
            if tap_id not in answered:
                answered.append(tap_id)
                bus.deliver(contract.result_topic(DEV), credited(tap_id))
    assert wait_until(lambda: box.depth() == 0, 10)
    order = [Tap.parse(p).tap_id for p in bus.sent("/tap")]
    assert order[:120] == [f"{DEV}:{i}" for i in range(1, 121)]  # oldest first
    assert max_inflight <= 20
    # each tap went out with the time it was read, not the time it was sent
    assert ats[f"{DEV}:1"] == FakeClock().now and ats[f"{DEV}:120"] == FakeClock().now + timedelta(seconds=59.5)


def test_window_is_never_exceeded_when_nothing_answers(rig):
    ctl, bus, _ind, _box, _clock = rig(connected=False)
    for i in range(60):
        ctl.handle_read(f"0500{i:04X}")
    bus.connect()
    assert wait_until(lambda: len(bus.sent("/tap")) >= 19)
    time.sleep(0.5)
    assert len(bus.sent("/tap")) == 19 and ctl.inflight() == 19  # one slot kept for a live tap
    bus.responder = None
    d = ctl.handle_read(CARD)  # a live tap still goes out at once
    assert ctl.inflight() == 20 and len(bus.sent("/tap")) == 20
    assert d.offline


def test_unanswered_taps_are_resent_after_the_timeout(rig):
    ctl, bus, _ind, box, clock = rig(connected=False, resend_s=5)
    ctl.handle_read(CARD)
    bus.connect()
    assert wait_until(lambda: len(bus.sent("/tap")) == 1)
    time.sleep(0.4)
    assert len(bus.sent("/tap")) == 1
    clock.advance(5.1)
    ctl._wake.set()
    assert wait_until(lambda: len(bus.sent("/tap")) == 2)
    assert bus.sent("/tap")[0] == bus.sent("/tap")[1]  # same tap_id, same at
    bus.deliver(contract.result_topic(DEV), credited(f"{DEV}:1"))
    assert wait_until(lambda: box.depth() == 0)
    clock.advance(10)
    ctl._wake.set()
    time.sleep(0.4)
    assert len(bus.sent("/tap")) == 2


def test_duplicate_results_are_harmless(rig):
    ctl, bus, ind, box, _ = rig(responder=answering_server())
    d = ctl.handle_read(CARD)
    for _ in range(3):
        bus.deliver(contract.result_topic(DEV), credited(d.tap.tap_id))
    assert wait_until(lambda: box.depth() == 0)
    assert ind.signals == ["granted"]


# ---------------------------------------------------------------- status


def test_status_online_on_connect_with_outbox_depth(rig):
    ctl, bus, _ind, _box, _ = rig(connected=False)
    ctl.handle_read(CARD)
    bus.connect()
    status = json.loads(bus.retained[contract.status_topic(DEV)])
    assert status["state"] == "online" and status["outbox"] >= 0 and status["kind"] == "gate"
    assert contract.Status.parse(bus.retained[contract.status_topic(DEV)]).extra["version"]
    ctl.stop()
    assert json.loads(bus.retained[contract.status_topic(DEV)])["state"] == "offline"


def test_heartbeat_repeats_the_status(rig):
    _ctl, bus, *_ = rig(heartbeat_s=1)  # the shortest heartbeat broker.settings allows
    assert wait_until(lambda: len(bus.sent("/status")) >= 3, 4)


def test_clock_check_modes(tmp_path):
    assert ClockCheck("always-ok")() is True
    assert ClockCheck("never-ok")() is False
    flag = tmp_path / "synchronized"
    auto = ClockCheck("auto", flag_path=str(flag), runner=lambda: "no")
    assert auto() is False
    flag.touch()
    assert auto() is False  # cached for a minute: no probe on the tap path
    assert auto.refresh() is True
    assert ClockCheck("auto", flag_path=str(tmp_path / "x"), runner=lambda: "yes")() is True
    with pytest.raises(GateError):
        ClockCheck("sometimes")
