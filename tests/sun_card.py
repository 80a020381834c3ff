"""A software NTAG 424 DNA's Secure Unique NFC output (tests only), built from NXP AN12196.

The card side of SUN, written from the application note rather than from
``server/sun.py`` so the server's verifier is checked against an independent model:
each :meth:`SoftwareNtag424.read` increments the SDM read counter and returns the NDEF
URI the card would hand a reader, in one of the two forms privcard accepts::

    >>> card = SoftwareNtag424("04DE5F1EACC040", bytes(16), bytes(16), counter=60)
    >>> card.read().startswith("https://lib.example/c?e=")   # counter 61
    True

What the card computes (AN12196 sections 3.3-3.4, AES-128 secure messaging):

- PICCData = AES-CBC(K_SDMMetaRead, IV 0, C7 || UID || SDMReadCtr LE || 5 random bytes);
- SV2 = 3C C3 00 01 00 80 || UID || SDMReadCtr, KSesSDMFileReadMAC = CMAC(K_SDMFileRead, SV2);
- SV1 = C3 3C 00 01 00 80 || UID || SDMReadCtr, KSesSDMFileReadENC = CMAC(K_SDMFileRead, SV1);
- SDMENCFileData = AES-CBC(KSesSDMFileReadENC, IV = AES(KSesSDMFileReadENC, ctr || 0…), file data);
- SDMMAC = the odd bytes of CMAC(KSesSDMFileReadMAC, the URL text from SDMMACInputOffset up to the MAC).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC


def _cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(data) + e.finalize()


class SoftwareNtag424:
    """One card: UID, the two SDM keys, the read counter, the URL template."""

    def __init__(
        self,
        uid: str,
        meta_key: bytes,
        file_key: bytes,
        *,
        counter: int = 0,
        form: str = "e",
        base: str = "https://lib.example/c",
        file_data: bytes = b"privcard-library",
        random=os.urandom,
    ):
        self.uid = bytes.fromhex(uid)
        assert len(self.uid) == 7, "NTAG 424 DNA UIDs are 7 bytes"
        self.meta_key, self.file_key = meta_key, file_key
        self.counter = counter
        self.form = form
        self.base = base
        self.file_data = file_data
        self.random = random

    @property
    def uid_hex(self) -> str:
        """The UID as readers report it."""
        return self.uid.hex().upper()

    def url_at(self, counter: int) -> str:
        """The URL the card produces when its read counter is *counter* (does not change the card)."""
        ctr = counter.to_bytes(3, "little")
        picc = _cbc_encrypt(self.meta_key, b"\xc7" + self.uid + ctr + self.random(5)).hex().upper()
        sv = self.uid + ctr
        mac_key = _cmac(self.file_key, b"\x3c\xc3\x00\x01\x00\x80" + sv)
        if self.form == "e":
            mac = _cmac(mac_key, b"")[1::2].hex().upper()
            return f"{self.base}?e={picc}&c={mac}"
        enc_key = _cmac(self.file_key, b"\xc3\x3c\x00\x01\x00\x80" + sv)
        iv = _cbc_encrypt(enc_key, ctr + bytes(13))
        enc = _cbc_encrypt(enc_key, self.file_data, iv).hex().upper()
        mac_input = f"{enc}&cmac="
        mac = _cmac(mac_key, mac_input.encode())[1::2].hex().upper()
        return f"{self.base}?picc_data={picc}&enc={mac_input}{mac}"

    def read(self) -> str:
        """One read by a reader: the counter goes up by one and the card answers with a fresh URL."""
        self.counter += 1
        return self.url_at(self.counter)


#: NXP AN12196's worked examples (all keys zero): the URL, the card's UID, its read counter
AN12196_E = (
    "https://choose.url.com/ntag424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086",
    "04DE5F1EACC040",
    61,
)
AN12196_PICC = (
    "https://www.my424dnatag.com/?picc_data=FD91EC264309878BE6345CBE53BADF40"
    "&enc=CEE9A53E3E463EF1F459635736738962&cmac=ECC1E7F6C6C73BF6",
    "04958CAA5C5E80",
    8,
)
ZERO_KEY = bytes(16)
