"""The nfc reader reads an NTAG 424 DNA's SUN URL through the real nfcpy stack (Type 4 Tag NDEF read).

The card is emulated on nfcpy's ``udp`` driver as a Type 4A tag (ISO-DEP: RATS/ATS, then
the NDEF application's SELECTs and READ BINARYs) whose NDEF file is the URL the
software NTAG 424 model (``tests/sun_card.py``) produces, fresh at each read. The URL the
reader reports verifies with the server's verifier, and each presentation is one read.
"""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("nfc")
import ndef  # nfcpy's NDEF library

from hardware.readers import open_reader
from hardware.readers.nfc_emulator import EmulatedCard
from server import sun
from tests.sun_card import ZERO_KEY, SoftwareNtag424


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ndef_of(card: SoftwareNtag424):
    """The card's NDEF file content, read by read: one URI record with a fresh SUN URL."""
    return lambda: b"".join(ndef.message_encoder([ndef.UriRecord(card.read())]))


@pytest.mark.parametrize("form", ["e", "picc_data"])
def test_each_presentation_reads_one_fresh_sun_url_that_verifies(form):
    port = free_udp_port()
    card = SoftwareNtag424("04DE5F1EACC040", ZERO_KEY, ZERO_KEY, counter=60, form=form)
    reader = open_reader(f"nfc:udp:localhost:{port}?release=0.5")
    try:
        reads = []
        for _ in range(2):
            with EmulatedCard(card.uid_hex, "localhost", port, ndef=ndef_of(card)):
                got = reader.read(timeout=5)
                assert got is not None and got.uid == card.uid_hex
                reads.append(got)
                # resting on the reader (polled all along): no second report, no second NDEF read
                assert reader.read(timeout=1.5) is None
            assert reader.read(timeout=0.8) is None  # taken away (longer than release)
        counters = [sun.verify(r.ndef, card.uid_hex, sun.CardKeys(ZERO_KEY, ZERO_KEY)) for r in reads]
        assert counters == [61, 62]
        assert card.counter == 62  # one card read per presentation
    finally:
        reader.close()


def test_ndef_reading_can_be_switched_off_and_a_type2_card_has_none():
    port = free_udp_port()
    card = SoftwareNtag424("04DE5F1EACC040", ZERO_KEY, ZERO_KEY)
    reader = open_reader(f"nfc:udp:localhost:{port}?release=0.5&ndef=0")
    try:
        with EmulatedCard(card.uid_hex, "localhost", port, ndef=ndef_of(card)):
            got = reader.read(timeout=5)
        assert got is not None and got.ndef is None and card.counter == 0
    finally:
        reader.close()
    reader = open_reader(f"nfc:udp:localhost:{port}?release=0.5")
    try:
        with EmulatedCard("04A1B2C3D4E5F6", "localhost", port):  # a Type 2 tag: UID only, no activation
            got = reader.read(timeout=5)
        assert got is not None and got.uid == "04A1B2C3D4E5F6" and got.ndef is None
    finally:
        reader.close()
