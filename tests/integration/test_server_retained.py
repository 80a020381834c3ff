"""The server's retained messages: each device's ``config`` and the offline ``allowlist``,
republished when staff change them from another process (here: this test's service)."""

from __future__ import annotations

import threading
import time

from broker import contract
from broker.client import BusClient
from broker.contract import Allowlist, DeviceConfig
from tests.helpers import ServerProcess, close_store, new_uid, open_service


class Retained:
    """Latest payload per topic."""

    def __init__(self):
        self.latest: dict[str, bytes] = {}
        self.cond = threading.Condition()

    def __call__(self, topic, payload, msg):
        with self.cond:
            self.latest[topic] = payload
            self.cond.notify_all()

    def wait(self, topic: str, predicate, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                payload = self.latest.get(topic)
                if payload is not None and predicate(payload):
                    return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{topic}: no matching message within {timeout}s; last {payload!r:.300}")
                self.cond.wait(min(left, 0.1))


def test_device_config_and_allowlist_are_retained_and_follow_changes(mosquitto, tmp_path, tmp_db_url):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-out", "gate", direction="out", location="Exit", settings={"open_ms": 2500})
    keep, lose = new_uid(), new_uid()
    svc.members.add("Keeps card", keep)
    svc.members.add("Loses card", lose)
    srv = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path).start()
    seen = Retained()
    client = BusClient(mosquitto.url, "test-retained")
    client.subscribe(contract.config_topic("gate-out"), seen)
    client.subscribe(contract.allowlist_topic(), seen)
    try:
        client.start()
        assert client.wait_connected(10)
        cfg = DeviceConfig.parse(seen.wait(contract.config_topic("gate-out"), lambda p: True))
        assert (cfg.kind, cfg.direction, cfg.activity, cfg.location) == ("gate", "out", "late_stay", "Exit")
        assert cfg.settings["open_ms"] == 2500 and cfg.settings["hours"]["mon"] == "08:00-22:00"
        first = Allowlist.parse(seen.wait(contract.allowlist_topic(), lambda p: True))
        assert {keep, lose} <= first.uids

        svc.members.block_card(lose, reason="reported lost")
        svc.devices.set("gate-out", open_ms=4000)
        after = Allowlist.parse(seen.wait(contract.allowlist_topic(), lambda p: lose not in Allowlist.parse(p).uids))
        assert keep in after.uids and after.version > first.version
        cfg2 = DeviceConfig.parse(
            seen.wait(
                contract.config_topic("gate-out"), lambda p: DeviceConfig.parse(p).settings.get("open_ms") == 4000
            )
        )
        assert cfg2.revision > cfg.revision

        # a device that connects later still gets both (retained)
        late = Retained()
        other = BusClient(mosquitto.url, "test-retained-late")
        other.subscribe(contract.allowlist_topic(), late)
        other.start()
        try:
            assert Allowlist.parse(late.wait(contract.allowlist_topic(), lambda p: True)).version == after.version
        finally:
            other.stop()
        assert "Traceback" not in srv.log(), srv.log_tail()
    finally:
        client.stop()
        srv.kill()
        close_store()
