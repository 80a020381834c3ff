"""Through the real nfcpy stack: an emulated ISO 14443-A card on the `udp` driver is
sensed by a `privcard gate --reader nfc:udp:...` process and ends as a credited tap
on a real `privcard server`."""

from __future__ import annotations

import socket
import time

import pytest

from tests.brokers import PYTHON, GateProcess, LoggedProcess

pytestmark = pytest.mark.slow

DEV = "gate-nfc"
CARD = "04A1B2C3D4E5F6"  # 7-byte NFCID1, like an NTAG


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_emulated_card_on_nfc_udp_reader_is_credited_by_the_server(mosquitto, tmp_db_url, tmp_path):
    try:
        import nfc  # noqa: F401
    except ImportError:
        pytest.fail(
            "nfcpy is not installed, so the NFC end-to-end test cannot run: pip install 'privcard[gate]'", pytrace=False
        )
    from hardware.readers.nfc_emulator import EmulatedCard
    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    store.connect(tmp_db_url)
    svc = bootstrap(load())
    svc.devices.add(DEV, "gate", direction="in", activity="entry")
    member = svc.members.add("Nida", CARD)
    store.db.close()

    port = free_udp_port()
    server = LoggedProcess([PYTHON, "-m", "broker.dispatcher", "server", "--db", tmp_db_url, "--mqtt", mosquitto.url])
    server.name = "server"
    gate = GateProcess(
        DEV, mosquitto.url, tmp_path / "gate", "--clock-check", "always-ok", reader=f"nfc:udp:localhost:{port}"
    )
    try:
        server.wait_line(r"server running", 30)
        gate.wait_line(r"connected to mqtt://", 30)
        gate.wait_line(r"config revision \d+ applied from bus", 10)
        with EmulatedCard(CARD, "localhost", port):
            line = gate.wait_line(rf"TAP {DEV}:1 {CARD} ", 20)[0]
            time.sleep(2.0)  # the card rests on the reader: still one tap
        assert "granted door=open credited +5 entry balance=255" in line, line
        gate.wait_line(rf"\[{DEV}\] DOOR OPEN 3000 ms")
        assert gate.count(rf"TAP {DEV}:") == 1
        deadline = time.monotonic() + 5
        while gate.outbox_depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gate.outbox_depth() == 0
    finally:
        gate.terminate()
        server.terminate()

    store.connect(tmp_db_url, upgrade_schema=False)
    try:
        from server.store import LedgerEntry

        credits = list(LedgerEntry.select().where((LedgerEntry.source == "tap") & (LedgerEntry.member == member.id)))
        assert [(c.activity, c.points, c.ref) for c in credits] == [("entry", 5, f"{DEV}:1")]
    finally:
        store.db.close()
