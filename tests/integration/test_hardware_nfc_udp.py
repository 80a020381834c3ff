"""The nfc reader through the real nfcpy stack, sensing cards emulated on nfcpy's udp driver.

The reader (``open_reader("nfc:udp:localhost:PORT")``) and the emulated card
(``hardware.readers.nfc_emulator``: a second ContactlessFrontend in listen mode)
exchange real SENS_REQ/SDD_REQ/SEL_REQ (or SENSF_REQ) datagrams; nothing in
nfcpy is mocked.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("nfc")

from hardware.readers import CardRead, open_reader
from hardware.readers.nfc_emulator import EmulatedCard, emulate_card

REPO = Path(__file__).resolve().parents[2]


def free_udp_port() -> int:
    """A UDP port nobody is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port():
    """A fresh simulated-reader port per test."""
    return free_udp_port()


@pytest.fixture
def reader(port):
    """An nfc reader on the simulated udp device; closed afterwards."""
    reader = open_reader(f"nfc:udp:localhost:{port}?release=0.5")
    yield reader
    reader.close()


@pytest.mark.parametrize(
    "uid",
    [
        "a1b2c3d4",  # 4-byte NFCID1 (MIFARE Classic style), given lower-case
        "04a1b2c3d4e5f6",  # 7-byte, NXP NTAG/Ultralight style: cascade level 2
        "04a1b2c3d4e5f60708a9",  # 10-byte: cascade level 3 (nfcpy udp CL3 workaround)
    ],
)
def test_reader_senses_an_emulated_iso14443a_card(reader, port, uid):
    assert reader.state == "ok"
    with EmulatedCard(uid, port=port):
        card = reader.read(timeout=5)
    assert card == CardRead(uid=uid.upper(), technology="iso14443a")


def test_emulate_card_function_with_a_stop_event(reader, port):
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=emulate_card, args=("04A1B2C3D4E5F6", "localhost", port, stop), kwargs={"ready": ready}
    )
    thread.start()
    try:
        assert ready.wait(5), "emulator never bound its port"
        card = reader.read(timeout=5)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert card is not None and card.uid == "04A1B2C3D4E5F6"
    assert not thread.is_alive()


def test_no_card_in_the_field_times_out_with_none(reader):
    started = time.monotonic()
    assert reader.read(timeout=0.5) is None
    # One udp sense waits a fixed 1.0 s for a SENS_RES (see hardware/readers/nfc.py).
    assert time.monotonic() - started < 2.0
    assert reader.state == "ok"


def test_a_card_left_on_the_reader_is_one_tap_and_a_second_tap_is_another(reader, port):
    with EmulatedCard("A1B2C3D4", port=port):
        assert reader.read(timeout=5).uid == "A1B2C3D4"
        # Still in the field, sensed every 0.2 s: not reported again.
        assert reader.read(timeout=1.0) is None
    time.sleep(0.8)  # off the reader for longer than release=0.5
    with EmulatedCard("A1B2C3D4", port=port):
        assert reader.read(timeout=5).uid == "A1B2C3D4"


def test_another_card_is_reported_straight_away(reader, port):
    with EmulatedCard("A1B2C3D4", port=port):
        assert reader.read(timeout=5).uid == "A1B2C3D4"
    with EmulatedCard("04A1B2C3D4E5F6", port=port):
        assert reader.read(timeout=5).uid == "04A1B2C3D4E5F6"


def test_reader_senses_an_emulated_felica_card_idm(port):
    reader = open_reader(f"nfc:udp:localhost:{port}?targets=212F")
    try:
        with EmulatedCard("01010601b00ade0b", port=port, technology="felica"):
            card = reader.read(timeout=5)
    finally:
        reader.close()
    assert card == CardRead(uid="01010601B00ADE0B", technology="felica")


def test_emulator_command_line_taps_a_card_from_another_process(reader, port):
    emulator = subprocess.Popen(
        [sys.executable, "-m", "hardware.readers.nfc_emulator", "04C0FFEE", "--port", str(port), "--seconds", "1.5"],
        cwd=REPO,
    )
    try:
        card = reader.read(timeout=8)
    finally:
        emulator.wait(timeout=10)
    assert card == CardRead(uid="04C0FFEE", technology="iso14443a")
    assert emulator.returncode == 0


def test_reader_without_its_device_starts_reopening_and_never_raises():
    # No /dev/ttyPRIVCARD0: the gate must still start, its reader "reopening".
    reader = open_reader("nfc:tty:PRIVCARD0:pn532")
    try:
        assert reader.state == "reopening"
        assert reader.read(timeout=0.3) is None
        assert reader.state == "reopening"
    finally:
        reader.close()
    assert reader.state == "closed"
    assert reader.read(timeout=1) is None


def test_close_from_another_thread_stops_a_blocked_read(reader):
    threading.Timer(0.3, reader.close).start()
    started = time.monotonic()
    assert reader.read() is None
    assert time.monotonic() - started < 3
    assert reader.state == "closed"
