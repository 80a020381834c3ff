"""NTAG 424 DNA Secure Unique NFC (SUN) verification and card keys (AES-128 mode).

This module owns the cryptography of genuine cards; the counter rule ("only ever up")
is the domain's (:func:`server.domain.rules.sun_counter_refusal`) and the atomic counter
update is the tap path's (:mod:`server.services.taps`).

What a card sends (NXP AN12196, "NTAG 424 DNA features and hints", section 3): on each
read the card's NDEF URI carries

- ``PICCData``: AES-128-CBC (IV zero) under the SDM meta read key of
  ``C7 || UID (7 bytes) || SDMReadCtr (3 bytes, little-endian) || 5 random bytes``
  (0xC7: UID mirrored, counter mirrored, 7-byte UID);
- ``SDMMAC``: the AES-CMAC, under a session key, of the text from the ``SDMMACInputOffset``
  to the MAC itself, truncated to the odd-indexed bytes (1, 3, …, 15) of the 16-byte CMAC.
  The session key is ``CMAC(SDM file read key, SV2)`` with
  ``SV2 = 3C C3 00 01 00 80 || UID || SDMReadCtr``.

Two URL forms are understood:

- ``…?e=<PICCData>&c=<SDMMAC>``: no file data, the MAC input is empty;
- ``…?picc_data=<PICCData>&enc=<SDMENCFileData>&cmac=<SDMMAC>``: the MAC covers the text
  from the first character of ``enc``'s value up to (not including) the MAC, i.e.
  ``<enc hex>&cmac=`` (AN12196 section 3.4.4.2.2).

Card keys come from a :class:`Keyring`: diversified per card from a master key
(NXP AN10922, AES-128: ``CMAC(master, 0x01 || UID || key number || "privcard")``) or
imported per card and kept in the database sealed (AES-GCM) under a key-encryption key.
The keyring is read from a key file (``--card-keys`` or ``PRIVCARD_CARD_KEYS``); keys
never go into the database in clear, nor into a log (``repr`` shows no key).
"""

from __future__ import annotations

import base64
import hmac
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from server.domain.errors import TemplatedError

#: the environment variable naming the key file when no ``--card-keys`` is given
KEYS_ENV = "PRIVCARD_CARD_KEYS"
#: PICCDataTag for "UID and counter mirrored, 7-byte UID": the only layout privcard accepts
PICC_TAG = 0xC7
#: the diversification system identifier (AN10922 "M = UID || AID-like data || system id")
SYSTEM_ID = b"privcard"
#: the card's key slots privcard diversifies (docs/cards.md): meta read and file read
META_KEY_NO = 1
FILE_KEY_NO = 2
_HEX = frozenset("0123456789abcdefABCDEF")
_ZERO_IV = bytes(16)


class NotGenuine(Exception):
    """A SUN URL that does not prove the card; ``check`` names the check that failed."""

    def __init__(self, check: str, detail: str):
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


class CardKeyError(TemplatedError):
    """A key file or a key that cannot be used (a configuration error, said in one line)."""


@dataclass(frozen=True)
class CardKeys:
    """The two keys a server needs for one card: SDM meta read (PICCData) and SDM file read (MAC)."""

    meta: bytes
    file: bytes

    def __repr__(self) -> str:
        return "CardKeys(<hidden>)"


@dataclass(frozen=True)
class SunUrl:
    """The parts of a SUN URL: encrypted PICC data, the MAC, the text the MAC covers."""

    picc: bytes
    mac: bytes
    mac_input: bytes
    enc: bytes | None


# --------------------------------------------------------------------------- primitives


def _aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def _aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) of *data* under *key*, 16 bytes."""
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _shift_left(block: bytes) -> bytes:
    value = (int.from_bytes(block, "big") << 1) & ((1 << 128) - 1)
    if block[0] & 0x80:
        value ^= 0x87
    return value.to_bytes(16, "big")


def diversify(master: bytes, data: bytes) -> bytes:
    """AN10922 AES-128 key diversification of *master* with diversification input *data* (1-31 bytes).

    ``D = 0x01 || M``, padded with ``80 00 …`` to 32 bytes (then the last block is
    XORed with CMAC subkey K2) or, when exactly 32 bytes, XORed with K1; the key is the
    last block of AES-CBC (IV zero) over D. This is *not* plain CMAC of ``0x01 || M``
    when M is shorter than 15 bytes (CMAC would pad to 16 bytes, AN10922 to 32).
    """
    if not 1 <= len(data) <= 31:
        raise ValueError("AN10922 diversification input must be 1-31 bytes")
    k1 = _shift_left(_aes_ecb_encrypt(master, _ZERO_IV))
    k2 = _shift_left(k1)
    d = b"\x01" + data
    if len(d) < 32:
        d = d + b"\x80" + bytes(31 - len(d))
        sub = k2
    else:
        sub = k1
    d = d[:16] + bytes(a ^ b for a, b in zip(d[16:], sub, strict=True))
    enc = Cipher(algorithms.AES(master), modes.CBC(_ZERO_IV)).encryptor()
    out = enc.update(d) + enc.finalize()
    return out[16:]


def session_mac_key(file_key: bytes, uid: bytes, counter: int) -> bytes:
    """KSesSDMFileReadMAC = CMAC(K_SDMFileRead, 3CC3 0001 0080 || UID || SDMReadCtr LE)."""
    return cmac(file_key, b"\x3c\xc3\x00\x01\x00\x80" + uid + counter.to_bytes(3, "little"))


def session_enc_key(file_key: bytes, uid: bytes, counter: int) -> bytes:
    """KSesSDMFileReadENC = CMAC(K_SDMFileRead, C33C 0001 0080 || UID || SDMReadCtr LE)."""
    return cmac(file_key, b"\xc3\x3c\x00\x01\x00\x80" + uid + counter.to_bytes(3, "little"))


def sdm_mac(file_key: bytes, uid: bytes, counter: int, mac_input: bytes) -> bytes:
    """The 8-byte SDMMAC: the odd-indexed bytes of CMAC(session MAC key, mac_input)."""
    return cmac(session_mac_key(file_key, uid, counter), mac_input)[1::2]


def decrypt_file_data(file_key: bytes, uid: bytes, counter: int, enc: bytes) -> bytes:
    """SDMENCFileData in clear: AES-CBC under the session ENC key, IV = E(key, SDMReadCtr || 0…)."""
    key = session_enc_key(file_key, uid, counter)
    iv = _aes_ecb_encrypt(key, counter.to_bytes(3, "little") + bytes(13))
    return _aes_cbc_decrypt(key, enc, iv)


# --------------------------------------------------------------------------- the URL


def _hex(name: str, value: str, size: int | None = None, *, multiple: int | None = None) -> bytes:
    if not value or not set(value) <= _HEX or len(value) % 2:
        raise NotGenuine("format", f"{name} is not hex")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise NotGenuine("format", f"{name} must be {size} bytes, got {len(raw)}")
    if multiple is not None and (not raw or len(raw) % multiple):
        raise NotGenuine("format", f"{name} must be a multiple of {multiple} bytes, got {len(raw)}")
    return raw


def parse(ndef: str) -> SunUrl:
    """The SUN parameters of an NDEF URI (NotGenuine("format") if it is not a SUN URL we accept)."""
    if not isinstance(ndef, str) or not ndef.isascii():
        raise NotGenuine("format", "not an ASCII URI")
    q = ndef.find("?")
    if q < 0:
        raise NotGenuine("format", "no query string")
    params: dict[str, tuple[int, str]] = {}  # name -> (offset of the value, value)
    pos = q + 1
    for part in ndef[q + 1 :].split("&"):
        name, eq, value = part.partition("=")
        if not eq:
            raise NotGenuine("format", f"parameter {name[:20]!r} has no value")
        if name in params:
            raise NotGenuine("format", f"parameter {name[:20]!r} given twice")
        params[name] = (pos + len(name) + 1, value.split("#", 1)[0])
        pos += len(part) + 1
    if "e" in params or "c" in params:
        if not ("e" in params and "c" in params) or {"picc_data", "enc", "cmac"} & params.keys():
            raise NotGenuine("format", "expected e= and c= (and no picc_data/enc/cmac)")
        return SunUrl(_hex("e", params["e"][1], 16), _hex("c", params["c"][1], 8), b"", None)
    if not {"picc_data", "enc", "cmac"} <= params.keys():
        raise NotGenuine("format", "expected e=&c= or picc_data=&enc=&cmac=")
    enc_at, enc = params["enc"]
    mac_at, mac = params["cmac"]
    if enc_at >= mac_at:
        raise NotGenuine("format", "enc must come before cmac")
    return SunUrl(
        _hex("picc_data", params["picc_data"][1], 16),
        _hex("cmac", mac, 8),
        ndef[enc_at:mac_at].encode("ascii"),
        _hex("enc", enc, multiple=16),
    )


def verify(ndef: str | None, uid: str, keys: CardKeys) -> int:
    """The read counter of a genuine SUN URL for card *uid* (upper-case hex); NotGenuine otherwise.

    Checks, in order: a URL is present (``absent``), it parses (``format``), the PICC data
    decrypts to the layout privcard personalises (``picc``), its UID is the tapped one
    (``uid``), the MAC (``mac``). The counter is *not* checked here: that must be atomic
    with the credit (the caller's conditional UPDATE).
    """
    if not ndef:
        raise NotGenuine("absent", "no SUN URL (ndef) with the tap")
    url = parse(ndef)
    plain = _aes_cbc_decrypt(keys.meta, url.picc)
    if plain[0] != PICC_TAG:
        raise NotGenuine("picc", f"PICC data tag {plain[0]:02X} (wrong meta read key, or not UID+counter)")
    card_uid = plain[1:8]
    if card_uid.hex().upper() != uid:
        raise NotGenuine("uid", f"the URL is card {card_uid.hex().upper()}, the tap says {uid}")
    counter = int.from_bytes(plain[8:11], "little")
    if not hmac.compare_digest(sdm_mac(keys.file, card_uid, counter, url.mac_input), url.mac):
        raise NotGenuine("mac", "SDMMAC does not match")
    return counter


def card_url(keys: CardKeys, uid: str, counter: int, base: str = "https://lib.example/c") -> str:
    """The ``?e=…&c=…`` URL a card with *keys* produces at read *counter* (for ``privcard bench`` and docs).

    The tests check the verifier against their own model of the card (``tests/sun_card.py``),
    not against this function.
    """
    raw = bytes.fromhex(uid)
    ctr = counter.to_bytes(3, "little")
    enc = Cipher(algorithms.AES(keys.meta), modes.CBC(_ZERO_IV)).encryptor()
    picc = enc.update(bytes([PICC_TAG]) + raw + ctr + os.urandom(5)) + enc.finalize()
    return f"{base}?e={picc.hex().upper()}&c={sdm_mac(keys.file, raw, counter, b'').hex().upper()}"


# --------------------------------------------------------------------------- keys


def _key(name: str, text: str) -> bytes:
    text = text.strip()
    if len(text) != 32 or not set(text) <= _HEX:
        raise CardKeyError("%(name)s must be 32 hex digits (an AES-128 key)", name=name)
    return bytes.fromhex(text)


class Keyring:
    """The server's card keys: a master key to diversify from, a key-encryption key for imported ones.

    Both are optional; a card that needs one the keyring lacks fails as ``keys``.
    """

    def __init__(self, master: bytes | None = None, kek: bytes | None = None):
        self._master = master
        self._aead = AESGCM(kek) if kek is not None else None
        self._cache: dict[tuple[str, str | None], CardKeys] = {}

    def __repr__(self) -> str:
        return f"Keyring(master={'set' if self._master else 'none'}, kek={'set' if self._aead else 'none'})"

    @property
    def can_diversify(self) -> bool:
        """Whether card keys can be diversified (a master key is configured)."""
        return self._master is not None

    @property
    def can_import(self) -> bool:
        """Whether per-card keys can be sealed (a key-encryption key is configured)."""
        return self._aead is not None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Keyring:
        """Read a key file: TOML with ``master`` and/or ``kek``, 32 hex digits each."""
        p = Path(path)
        try:
            mode = p.stat().st_mode
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CardKeyError(
                "card key file %(path)s: %(kind)s: %(error)s", path=p, kind=type(exc).__name__, error=str(exc)[:120]
            ) from None
        if mode & (stat.S_IRWXO):
            raise CardKeyError("card key file %(path)s is readable by others: chmod 600 it", path=p)
        unknown = set(data) - {"master", "kek"}
        if unknown or not data:
            raise CardKeyError(
                "card key file %(path)s: expected keys master and/or kek, got %(keys)s",
                path=p,
                keys=sorted(data) or "none",
            )
        for name in data:
            if not isinstance(data[name], str):
                raise CardKeyError(
                    "card key file %(path)s: %(name)s must be a string of 32 hex digits", path=p, name=name
                )
        master = _key("master", data["master"]) if "master" in data else None
        kek = _key("kek", data["kek"]) if "kek" in data else None
        return cls(master, kek)

    @classmethod
    def load(cls, path: str | None) -> Keyring | None:
        """The keyring named by *path*, else by ``$PRIVCARD_CARD_KEYS``; None if neither is set."""
        path = path or os.environ.get(KEYS_ENV)
        return cls.from_file(path) if path else None

    def diversified(self, uid: str) -> CardKeys:
        """The card's keys diversified from the master key (AN10922; docs/cards.md)."""
        if self._master is None:
            raise NotGenuine("keys", "no master key configured (--card-keys) for a diversified card")
        raw = bytes.fromhex(uid)
        return CardKeys(
            diversify(self._master, raw + bytes([META_KEY_NO]) + SYSTEM_ID),
            diversify(self._master, raw + bytes([FILE_KEY_NO]) + SYSTEM_ID),
        )

    def keys(self, uid: str, sealed: str | None) -> CardKeys:
        """The keys for card *uid*: unsealed when imported (*sealed*), else diversified; cached."""
        cache_key = (uid, sealed)
        found = self._cache.get(cache_key)
        if found is None:
            found = self.unseal(uid, sealed) if sealed else self.diversified(uid)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[cache_key] = found
        return found

    def seal(self, uid: str, keys: CardKeys) -> str:
        """Imported keys as stored: ``v1:`` + base64(nonce || AES-GCM(meta || file)), bound to the UID."""
        if self._aead is None:
            raise CardKeyError("no key-encryption key (kek) in the card key file: cannot store per-card keys")
        nonce = os.urandom(12)
        return "v1:" + base64.b64encode(nonce + self._aead.encrypt(nonce, keys.meta + keys.file, uid.encode())).decode()

    def unseal(self, uid: str, sealed: str) -> CardKeys:
        """The imported keys of card *uid* (NotGenuine("keys") if they cannot be opened)."""
        if self._aead is None:
            raise NotGenuine("keys", "card has imported keys but no key-encryption key is configured")
        try:
            if not sealed.startswith("v1:"):
                raise ValueError("unknown format")
            raw = base64.b64decode(sealed[3:], validate=True)
            plain = self._aead.decrypt(raw[:12], raw[12:], uid.encode())
        except Exception:  # InvalidTag, bad base64: a wrong kek or a copied row
            raise NotGenuine("keys", "the card's stored keys do not open with this key-encryption key") from None
        return CardKeys(plain[:16], plain[16:32])


def parse_key(text: str, name: str) -> bytes:
    """A key typed by staff: 32 hex digits (ValueError with a clear message otherwise)."""
    try:
        return _key(name, text)
    except CardKeyError as exc:
        raise ValueError(str(exc)) from None
