"""Device authority in the service layer (svc.devices.authorise): what each kind may send,
unknown and retired devices refused with an audit line (rate-limited), on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broker import contract
from broker.contract import Feedback, Query, Status, Tap
from server.services import NotFound, ServiceError
from server.services import devices as devices_module
from server.store import Audit, Device
from server.store import Feedback as FeedbackRow
from tests.helpers import close_store, open_service

UID = "04A1B2C3D4E5F6"


@pytest.fixture
def svc(tmp_path):
    service = open_service(f"sqlite:///{tmp_path / 'p.db'}")
    service.devices.add("gate-1", "gate", direction="in")
    service.devices.add("counter-1", "counter")
    service.devices.add("kiosk-1", "kiosk")
    service.members.add("Somsri Jaidee", UID)
    yield service
    close_store()


def refusals(target: str | None = None) -> list[Audit]:
    q = Audit.select().where(Audit.action == "device.refused").order_by(Audit.id)
    return [a for a in q if target is None or a.target == target]


def query(svc, device_id: str):
    return svc.reads.answer_query(device_id, Query("q1", UID))


def feedback(svc, device_id: str, n: int = 1) -> bool:
    return svc.devices.record_feedback(device_id, Feedback(f"fb-{n}", 5, datetime.now(UTC), UID))


def test_the_capability_table_names_every_kind_and_only_device_topics():
    assert set(contract.DEVICE_KINDS) == set(contract.CAPABILITIES)
    for kind, actions in contract.CAPABILITIES.items():
        assert actions <= set(contract.DEVICE_TO_SERVER), kind
    assert contract.may("kiosk", "query") and contract.may("kiosk", "feedback")
    assert not contract.may("gate", "query") and not contract.may("gate", "feedback")
    assert not contract.may("counter", "query") and not contract.may("nonsense", "tap")
    assert all(contract.may(k, "tap") for k in ("gate", "counter", "kiosk"))


def test_a_kiosk_is_answered_a_gate_and_a_counter_are_refused_without_member_data(svc):
    ok = query(svc, "kiosk-1")
    assert ok.outcome == "member" and ok.member["name"] == "Somsri Jaidee"
    for device in ("gate-1", "counter-1", "ghost-1"):
        a = query(svc, device)
        assert a.outcome == "invalid", device
        assert a.member is None and a.balance is None and not a.history and a.privileges is None
        assert "Somsri" not in a.encode().decode()
    assert "may not send query" in query(svc, "gate-1").message["en"]
    assert "unknown device ghost-1" in query(svc, "ghost-1").message["en"]
    assert [a.target for a in refusals()] == ["gate-1", "counter-1", "ghost-1"]
    assert refusals("gate-1")[0].detail["topic"] == "query"


def test_only_kiosks_may_send_feedback(svc):
    assert feedback(svc, "kiosk-1", 1) is True
    assert feedback(svc, "gate-1", 2) is False
    assert feedback(svc, "ghost-1", 3) is False
    assert [f.device for f in FeedbackRow.select()] == ["kiosk-1"]
    assert [(a.target, a.detail["topic"]) for a in refusals()] == [("gate-1", "feedback"), ("ghost-1", "feedback")]


def test_a_retired_device_is_refused_everything_until_reactivated(svc):
    svc.devices.retire("kiosk-1", actor="alice")
    assert Device.get_by_id("kiosk-1").retired_at is not None
    a = query(svc, "kiosk-1")
    assert a.outcome == "invalid" and "retired" in a.message["en"] and a.member is None
    assert feedback(svc, "kiosk-1") is False
    r = svc.taps.decide("kiosk-1", Tap("kiosk-1:1", UID, datetime.now(UTC), True))
    assert r.outcome == "invalid" and "retired" in r.message["en"]
    assert svc.devices.record_status("kiosk-1", Status("online", datetime.now(UTC))) is False
    assert Audit.get(Audit.action == "device.retire").actor == "alice"
    with pytest.raises(ServiceError, match="already retired"):
        svc.devices.retire("kiosk-1")
    svc.devices.reactivate("kiosk-1", actor="alice")
    assert query(svc, "kiosk-1").outcome == "member"
    with pytest.raises(ServiceError, match="not retired"):
        svc.devices.reactivate("kiosk-1")
    with pytest.raises(NotFound):
        svc.devices.retire("ghost-1")


def test_a_retired_gate_taps_are_refused_and_credit_nothing(svc):
    svc.devices.retire("gate-1")
    before = svc.ledger.balance(1)
    r = svc.taps.decide("gate-1", Tap("gate-1:1", UID, datetime.now(UTC), True))
    assert (r.outcome, r.open, r.balance, r.name) == ("invalid", False, None, None)
    assert svc.ledger.balance(1) == before


def test_refusal_audit_lines_are_rate_limited_per_device_and_in_all(svc, monkeypatch):
    for i in range(50):
        query(svc, "gate-1")
        feedback(svc, "gate-1", i)
    assert len(refusals("gate-1")) == 1, "a flood from one device wrote more than one audit line per window"
    # after the window, one more line says how many were refused meanwhile
    monkeypatch.setattr(devices_module, "REFUSAL_AUDIT_WINDOW_S", 0.0)
    query(svc, "gate-1")
    lines = refusals("gate-1")
    assert len(lines) == 2 and lines[1].detail["refused_since_last"] == 99
    # many made-up ids: at most REFUSAL_AUDIT_MAX lines per window
    monkeypatch.setattr(devices_module, "REFUSAL_AUDIT_WINDOW_S", 3600.0)
    monkeypatch.setattr(devices_module, "REFUSAL_AUDIT_MAX", 5)
    svc.devices._refusal_window = (0.0, 0)
    for i in range(40):
        query(svc, f"ghost-{i}")
    assert len([a for a in refusals() if a.target.startswith("ghost-")]) == 5


def test_a_database_made_before_retirement_gains_the_column(tmp_path):
    """The ``devices`` migration adds ``device.retired_at`` to an older database (and is a no-op on a new one)."""
    from server import store

    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_service(url).devices.add("gate-old", "gate")
    store.db.execute_sql("ALTER TABLE device DROP COLUMN retired_at")
    store.db.execute_sql("DELETE FROM meta WHERE key = 'schema:devices'")
    close_store()
    svc = open_service(url)  # connect() upgrades the schema
    try:
        assert "retired_at" in {c.name for c in store.db.get_columns("device")}
        assert store.counter("schema:devices") == 1
        svc.devices.retire("gate-old")
        assert Device.get_by_id("gate-old").retired_at is not None
    finally:
        close_store()
