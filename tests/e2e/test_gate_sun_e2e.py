"""A software NTAG 424 DNA read by a real ``privcard gate`` through nfcpy's ``udp`` driver, verified by a real server.

The card (``tests/sun_card.py``, emulated as a Type 4A tag by ``hardware.readers.nfc_emulator``)
answers each read with a fresh SUN URL; the gate reads the NDEF URI and forwards it with
the tap; the server, holding the card's keys, credits each fresh read and refuses a
recorded earlier one (a clone answering with a URL it copied).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.brokers import PYTHON, GateProcess, LoggedProcess
from tests.sun_card import ZERO_KEY, SoftwareNtag424

pytestmark = pytest.mark.slow

DEV = "gate-sun"
CARD = "04DE5F1EACC040"
VISIT = """
[rules.backdating]
gate = "max_age"

[activities.visit]
points = 1
limit = "unlimited"
th = "เยี่ยมชมนิทรรศการ"
en = "Exhibition visit"
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gate_reads_the_sun_url_fresh_reads_earn_a_recorded_one_does_not(mosquitto, tmp_db_url, tmp_path):
    ndef = pytest.importorskip("ndef")
    from hardware.readers.nfc_emulator import EmulatedCard
    from server import store
    from server.domain.config import load
    from server.services import bootstrap
    from server.sun import Keyring

    config = tmp_path / "library.toml"
    config.write_text(VISIT)
    keys = tmp_path / "card-keys.toml"
    keys.write_text(f'kek = "{"11" * 16}"\n')
    keys.chmod(0o600)
    store.connect(tmp_db_url)
    svc = bootstrap(load(config), keyring=Keyring.from_file(keys))
    # the same card within 1 s is one tap (the default 3 s would make each presentation wait 3.5 s)
    svc.devices.add(DEV, "gate", direction="in", activity="visit", settings={"repeat_s": 1})
    member = svc.members.add("Nida", CARD)
    svc.cards.secure(CARD, meta_key="00" * 16, file_key="00" * 16)
    store.db.close()

    card = SoftwareNtag424(CARD, ZERO_KEY, ZERO_KEY, counter=0, form="picc_data")
    seen: list[str] = []

    def fresh():
        seen.append(card.read())
        return b"".join(ndef.message_encoder([ndef.UriRecord(seen[-1])]))

    def recorded():  # a clone that replays the first URL it copied
        return b"".join(ndef.message_encoder([ndef.UriRecord(seen[0])]))

    port = free_udp_port()
    server_argv = [PYTHON, "-m", "broker.dispatcher", "server", "--db", tmp_db_url, "--mqtt", mosquitto.url]
    server = LoggedProcess([*server_argv, "--config", str(config), "--card-keys", str(keys)])
    server.name = "server"
    gate = GateProcess(
        DEV,
        mosquitto.url,
        tmp_path / "gate",
        "--clock-check",
        "always-ok",
        reader=f"nfc:udp:localhost:{port}?release=0.5",
    )
    try:
        server.wait_line(r"server running", 30)
        gate.wait_line(r"connected to mqtt://", 30)
        gate.wait_line(r"config revision \d+ applied from bus", 10)
        lines = []
        for n, answer in enumerate((fresh, fresh, recorded), start=1):
            with EmulatedCard(CARD, "localhost", port, ndef=answer):
                lines.append(gate.wait_line(rf"TAP {DEV}:{n} {CARD} ", 20)[0])
            if n < 3:
                time.sleep(1.5)  # away from the reader for longer than the gate's repeat_s (1 s)
        assert "credited +1 visit" in lines[0], lines[0]
        assert "credited +1 visit" in lines[1], lines[1]
        assert "card_not_genuine" in lines[2] and "credited" not in lines[2], lines[2]
        assert card.counter == 2  # one card read per presentation
    finally:
        gate.terminate()
        server.terminate()

    store.connect(tmp_db_url, upgrade_schema=False)
    try:
        from server.store import Audit, LedgerEntry

        credits = LedgerEntry.select().where((LedgerEntry.source == "tap") & (LedgerEntry.member == member.id))
        assert [c.ref for c in credits] == [f"{DEV}:1", f"{DEV}:2"]
        assert [a.detail["check"] for a in Audit.select().where(Audit.action == "card.not_genuine")] == ["counter_back"]
    finally:
        store.db.close()
