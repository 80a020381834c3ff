"""The back-dating policy with real processes: a gate the server saw go offline keeps its taps' own times.

A real Mosquitto, a real ``privcard server`` and a real ``privcard gate`` (stdin reader)
connected through a TCP proxy. The proxy is cut: Mosquitto publishes the gate's last
will (``offline``), the server records the start of its offline period; the gate buffers
taps in its outbox; the proxy is restored: the gate says ``online`` and forwards them.
With a 1 s tolerance, only the offline period the server saw lets those taps count at
their own time (``buffered``); a tap the gate sends while online is ``clock``.
"""

from __future__ import annotations

import time
from datetime import timedelta

from server import store
from server.store import Device, LedgerEntry, TapInbox
from tests.brokers import GateProcess
from tests.chaos.proxy import FaultProxy, ProxyLoop
from tests.helpers import ServerProcess, close_store, open_service

DEV = "gate-bd"
UIDS = [f"04BD{i:06X}" for i in range(4)]
LIBRARY_TOML = """
[rules.backdating]
tolerance_s = 1
"""


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_store()
        store.db.connect(reuse_if_open=True)
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_taps_buffered_while_the_server_saw_the_gate_offline_keep_their_own_time(mosquitto, tmp_db_url, tmp_path):
    svc = open_service(tmp_db_url)
    svc.devices.add(DEV, "gate", direction="in", settings={"clock_check": "always-ok"})
    for i, uid in enumerate(UIDS):
        svc.members.add(f"Member {i}", uid)
    close_store()
    config = tmp_path / "library.toml"
    config.write_text(LIBRARY_TOML)
    loop = ProxyLoop()
    proxy = FaultProxy(loop, mosquitto.host, mosquitto.port, DEV)
    gate = None
    with ServerProcess(tmp_db_url, mosquitto.url, config=config, log_dir=tmp_path) as server:
        try:
            gate = GateProcess(
                DEV,
                f"mqtt://127.0.0.1:{proxy.port}?keepalive=5",
                tmp_path / "gate",
                "--clock-check",
                "always-ok",
                "--heartbeat-s",
                "5",
            )
            gate.wait_line(rf" {DEV} ready: ", 20)
            store.connect(tmp_db_url, upgrade_schema=False)
            _wait(lambda: Device.get_by_id(DEV).state == "online", 20, "the gate's online status")
            gate.tap(UIDS[0])  # online: answered at once, its own time within the tolerance
            _wait(lambda: TapInbox.select().where(TapInbox.device == DEV).count() == 1, 20, "the online tap")

            proxy.cut()  # the network cable is pulled: the broker publishes the gate's last will
            _wait(lambda: Device.get_by_id(DEV).state == "offline", 20, "the gate's last will")
            gate.tap(*UIDS[1:])
            gate.wait_line(rf"TAP {DEV}:\d+ .* offline_", 20, count=len(UIDS) - 1)
            time.sleep(2.5)  # the buffered taps are now older than the 1 s tolerance
            proxy.restore()
            _wait(
                lambda: TapInbox.select().where(TapInbox.device == DEV).count() == len(UIDS),
                40,
                "the buffered taps",
            )
            taps = {t.uid: t for t in TapInbox.select().where(TapInbox.device == DEV)}
            device = Device.get_by_id(DEV)
        finally:
            if gate is not None:
                gate.kill()
            proxy.close()
            loop.close()
        assert "Traceback" not in server.log(), server.log_tail()
    assert taps[UIDS[0]].timing == "clock"
    for uid in UIDS[1:]:
        t = taps[uid]
        assert (t.outcome, t.timing) == ("credited", "buffered"), (uid, t.outcome, t.timing)
        assert (t.received_at - t.at).total_seconds() > 2  # forwarded late, yet counted at its own time
        assert device.offline_since - timedelta(seconds=1) <= t.at <= device.online_since
    entries = {e.ref: e for e in LedgerEntry.select().where(LedgerEntry.device == DEV)}
    assert {entries[t.tap_id].at for t in taps.values()} == {t.at for t in taps.values()}
    close_store()
