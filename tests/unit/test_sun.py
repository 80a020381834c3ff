"""server.sun: NXP AN12196's worked examples, AN10922 diversification, a model card, bad URLs."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import sun
from server.domain import rules
from tests.sun_card import AN12196_E, AN12196_PICC, ZERO_KEY, SoftwareNtag424

ZERO = sun.CardKeys(ZERO_KEY, ZERO_KEY)


# --------------------------------------------------------------------------- the note's numbers


def test_an12196_e_and_c_example_verifies_with_counter_61():
    url, uid, counter = AN12196_E
    assert sun.verify(url, uid, ZERO) == counter == 61


def test_an12196_picc_data_enc_cmac_example_verifies_with_counter_8():
    url, uid, counter = AN12196_PICC
    assert sun.verify(url, uid, ZERO) == counter == 8


def test_an12196_session_keys_and_file_data():
    # AN12196: KSesSDMFileReadMAC for each example, and the example's file data in clear
    assert sun.session_mac_key(ZERO_KEY, bytes.fromhex("04DE5F1EACC040"), 61).hex().upper() == (
        "3FB5F6E3A807A03D5E3570ACE393776F"
    )
    assert sun.session_mac_key(ZERO_KEY, bytes.fromhex("04958CAA5C5E80"), 8).hex().upper() == (
        "3ED0920E5E6A0320D823D5987FEAFBB1"
    )
    enc = bytes.fromhex("CEE9A53E3E463EF1F459635736738962")
    assert sun.decrypt_file_data(ZERO_KEY, bytes.fromhex("04958CAA5C5E80"), 8, enc) == b"x" * 16


def test_an10922_aes128_diversification_example():
    master = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    m = bytes.fromhex("04782E21801D80" + "3042F5" + "4E585020416275")  # UID || AID || "NXP Abu"
    assert sun.diversify(master, m).hex().upper() == "A8DD63A3B89D54B37CA802473FDA9175"


def test_diversification_pads_short_inputs_to_two_blocks_not_one():
    # AN10922 pads D to 32 bytes: for a short M that is not plain CMAC(0x01 || M)
    master = bytes(range(16))
    assert sun.diversify(master, b"\x01\x02") != sun.cmac(master, b"\x01\x01\x02")
    long_m = bytes(range(20))
    assert sun.diversify(master, long_m) == sun.cmac(master, b"\x01" + long_m)


# --------------------------------------------------------------------------- refusals, by check


@pytest.mark.parametrize(
    ("url", "uid", "check"),
    [
        (AN12196_E[0], "04958CAA5C5E80", "uid"),  # someone else's URL
        (AN12196_E[0].replace("&c=94EED9EE65337086", "&c=94EED9EE65337087"), AN12196_E[1], "mac"),
        (AN12196_E[0].replace("?e=EF96", "?e=EF97"), AN12196_E[1], "picc"),
        (AN12196_PICC[0].replace("enc=CEE9", "enc=CEE8"), AN12196_PICC[1], "mac"),  # file data is MAC'd
        (None, AN12196_E[1], "absent"),
        ("", AN12196_E[1], "absent"),
    ],
)
def test_refusals_name_the_check_that_failed(url, uid, check):
    with pytest.raises(sun.NotGenuine) as err:
        sun.verify(url, uid, ZERO)
    assert err.value.check == check


@pytest.mark.parametrize(
    "url",
    [
        "https://x/c",  # no query
        "https://x/c?e=EF963FF7828658A599F3041510671E88",  # no c
        "https://x/c?e=EF963FF7828658A599F3041510671E8G&c=94EED9EE65337086",  # not hex
        "https://x/c?e=EF963FF7828658A599F3041510671E&c=94EED9EE65337086",  # 15 bytes
        "https://x/c?e=EF963FF7828658A599F3041510671E88&c=94EED9EE653370",  # 7-byte MAC
        "https://x/c?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086&e=00",  # duplicated
        "https://x/c?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086&c=94EED9EE65337086",
        "https://x/c?e=EF963FF7828658A599F3041510671E88&c",  # no value
        "https://x/c?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086&cmac=94EED9EE65337086",  # mixed
        "https://x/?picc_data=FD91EC264309878BE6345CBE53BADF40&enc=CEE9A5&cmac=ECC1E7F6C6C73BF6",  # enc 3 bytes
        "https://x/?cmac=ECC1E7F6C6C73BF6&picc_data=FD91EC264309878BE6345CBE53BADF40&enc=CEE9A53E3E463EF1F459635736738962",
        "https://x/?picc_data=FD91EC264309878BE6345CBE53BADF40&enc=&cmac=ECC1E7F6C6C73BF6",
        "https://x/c?e=\u0e01&c=94EED9EE65337086",  # not ASCII
        "https://x/c?e=+F963FF7828658A599F3041510671E88&c=94EED9EE65337086",  # fromhex would skip spaces
    ],
)
def test_malformed_urls_are_format_refusals_never_crashes(url):
    with pytest.raises(sun.NotGenuine) as err:
        sun.verify(url, "04DE5F1EACC040", ZERO)
    assert err.value.check == "format", err.value


def test_counter_rule_only_up():
    assert rules.sun_counter_refusal(None, 0) is None
    assert rules.sun_counter_refusal(60, 61) is None
    assert rules.sun_counter_refusal(61, 61) == "replay"
    assert rules.sun_counter_refusal(61, 60) == "counter_back"


# --------------------------------------------------------------------------- keys


def test_key_file_imported_keys_are_sealed_and_bound_to_the_card(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text(f'master = "{os.urandom(16).hex()}"\nkek = "{os.urandom(16).hex()}"\n')
    path.chmod(0o600)
    ring = sun.Keyring.from_file(path)
    keys = sun.CardKeys(os.urandom(16), os.urandom(16))
    sealed = ring.seal("04DE5F1EACC040", keys)
    assert keys.meta.hex() not in sealed and keys.file.hex() not in sealed
    assert ring.unseal("04DE5F1EACC040", sealed) == keys
    with pytest.raises(sun.NotGenuine) as err:  # copied onto another card's row
        ring.unseal("04958CAA5C5E80", sealed)
    assert err.value.check == "keys"
    assert "kek" in repr(ring) and keys.meta.hex() not in repr(ring) + repr(keys)
    other = sun.Keyring.from_file(path)
    assert other.diversified("04DE5F1EACC040") == ring.diversified("04DE5F1EACC040")


@pytest.mark.parametrize(
    ("text", "mode", "says"),
    [
        ('master = "00"\n', 0o600, "32 hex digits"),
        ('master = "00112233445566778899AABBCCDDEEFF"\n', 0o644, "chmod 600"),
        ('masterkey = "00112233445566778899AABBCCDDEEFF"\n', 0o600, "expected keys master and/or kek"),
        ("master = [1]\n", 0o600, "must be a string"),
        ("master = \n", 0o600, "TOMLDecodeError"),
    ],
)
def test_bad_key_files_are_refused_in_one_line_without_the_key(tmp_path, text, mode, says):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    path.chmod(mode)
    with pytest.raises(sun.CardKeyError) as err:
        sun.Keyring.from_file(path)
    assert says in str(err.value) and "\n" not in str(err.value)
    assert "00112233445566778899AABBCCDDEEFF" not in str(err.value)


def test_the_model_card_and_the_verifier_agree_on_diversified_keys():
    ring = sun.Keyring(master=os.urandom(16))
    keys = ring.diversified("04A1B2C3D4E5F6")
    card = SoftwareNtag424("04A1B2C3D4E5F6", keys.meta, keys.file, form="picc_data")
    assert [sun.verify(card.read(), card.uid_hex, keys) for _ in range(3)] == [1, 2, 3]


# --------------------------------------------------------------------------- property


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    meta=st.binary(min_size=16, max_size=16),
    file=st.binary(min_size=16, max_size=16),
    uid=st.binary(min_size=7, max_size=7),
    counter=st.integers(min_value=0, max_value=0xFFFFFF),
    form=st.sampled_from(["e", "picc_data"]),
    data=st.data(),
)
def test_a_model_cards_url_verifies_and_no_single_byte_change_does(meta, file, uid, counter, form, data):
    card = SoftwareNtag424(uid.hex().upper(), meta, file, form=form)
    url = card.url_at(counter)
    keys = sun.CardKeys(meta, file)
    assert sun.verify(url, card.uid_hex, keys) == counter
    # change one byte of what the card wrote (PICC data, file data or MAC): never accepted
    query = url.split("?", 1)[1]
    fields = [(name, value) for name, value in (p.split("=", 1) for p in query.split("&"))]
    i = data.draw(st.integers(0, len(fields) - 1), label="field")
    name, value = fields[i]
    raw = bytearray.fromhex(value)
    j = data.draw(st.integers(0, len(raw) - 1), label="byte")
    raw[j] ^= data.draw(st.integers(1, 255), label="xor")
    fields[i] = (name, raw.hex().upper())
    changed = url.split("?", 1)[0] + "?" + "&".join(f"{n}={v}" for n, v in fields)
    with pytest.raises(sun.NotGenuine):
        sun.verify(changed, card.uid_hex, keys)
