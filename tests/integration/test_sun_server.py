"""Genuine cards through the real path: taps over a real Mosquitto to a real ``privcard server``.

NXP AN12196's worked examples (keys all zero, imported with ``privcard admin card secure``)
are credited once; a replay, a changed MAC nibble, a lower counter, someone else's URL
and a bare UID are each ``card_not_genuine`` with no points; a card with keys
diversified from the server's master key earns on each fresh read; bad URLs are
answered, never crash the server. Then two replicas race on the same URLs.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

from broker.contract import Tap
from server.domain.config import load
from server.store import Audit, Card, LedgerEntry, Member
from tests.brokers import PYTHON, python_env
from tests.helpers import (
    RACE_LIBRARY_TOML,
    Device,
    ServerProcess,
    close_store,
    fresh_pg_database,
    ledger_problems,
    open_service,
)
from tests.sun_card import AN12196_E, AN12196_PICC, ZERO_KEY, SoftwareNtag424

ZERO_HEX = "0" * 32
DIVERSIFIED = "04A1B2C3D4E5F6"
PLAIN = "04C0FFEE000001"
MASTER = "8E2F1AC4D1B37A09C6E5F40D2A7B9C11"


def write_setup(tmp_path, db_url: str):
    """Config, key file, the door device and four members; the three secured cards via the CLI."""
    config = tmp_path / "library.toml"
    config.write_text(RACE_LIBRARY_TOML)
    keys = tmp_path / "card-keys.toml"
    keys.write_text(f'master = "{MASTER}"\nkek = "{os.urandom(16).hex()}"\n')
    keys.chmod(0o600)
    prog = load(config)
    svc = open_service(db_url, prog=prog)
    for dev in ("door", "door-2"):
        svc.devices.add(dev, "gate", direction="in", activity="visit")
    svc.devices.add("kiosk-1", "kiosk")
    for name, uid in (("Ann", AN12196_E[1]), ("Bee", AN12196_PICC[1]), ("Cid", DIVERSIFIED), ("Dao", PLAIN)):
        svc.members.add(name, uid)
    close_store()

    def admin(*args):
        argv = [PYTHON, "-m", "broker.dispatcher", "admin", "--db", db_url, "--config", str(config)]
        argv += ["--card-keys", str(keys), *args]
        return subprocess.run(argv, capture_output=True, text=True, env=python_env(), timeout=60)

    for uid in (AN12196_E[1], AN12196_PICC[1]):
        done = admin("card", "secure", uid, "--meta-key", ZERO_HEX, "--file-key", ZERO_HEX)
        assert done.returncode == 0 and "imported keys" in done.stdout, done.stderr
    done = admin("card", "secure", DIVERSIFIED)
    assert done.returncode == 0 and "diversified" in done.stdout, done.stderr
    # bad staff input: a clear line, nothing changed
    bad = admin("card", "secure", PLAIN, "--meta-key", "00", "--file-key", ZERO_HEX)
    assert bad.returncode == 1 and "32 hex digits" in bad.stderr, bad.stderr
    half = admin("card", "secure", PLAIN, "--meta-key", ZERO_HEX)
    assert half.returncode == 1 and "both --meta-key and --file-key" in half.stderr
    shown = admin("--json", "card", "keys", DIVERSIFIED)  # what a library writes onto the blank card
    assert shown.returncode == 0, shown.stderr
    printed = json.loads(shown.stdout)
    (tmp_path / "personalised.json").write_text(shown.stdout)
    assert set(printed) == {"uid", "meta_read_key", "file_read_key"} and printed["uid"] == DIVERSIFIED
    counts = admin("--json", "card", "genuine")
    assert json.loads(counts.stdout)["secured"] == 3 and json.loads(counts.stdout)["uid_only"] == 1
    return config, keys, prog


def tap(dev: Device, uid: str, ndef: str | None, device_id: str = "door"):
    return dev.send(device_id, Tap(tap_id=dev.next_tap_id(device_id), uid=uid, at=_now(), clock_ok=True, ndef=ndef))


def _now():
    from broker import contract

    return contract.now_utc()


def test_an12196_examples_and_every_refusal_over_mqtt(mosquitto, tmp_db_url, tmp_path):
    config, keys, prog = write_setup(tmp_path, tmp_db_url)
    # the card as a library personalised it, with the keys `privcard admin card keys` printed
    printed = json.loads((tmp_path / "personalised.json").read_text())
    meta, file = bytes.fromhex(printed["meta_read_key"]), bytes.fromhex(printed["file_read_key"])
    soft = SoftwareNtag424(DIVERSIFIED, meta, file, counter=0, form="picc_data")
    e_url, e_uid, _ = AN12196_E
    p_url, p_uid, _ = AN12196_PICC
    with (
        ServerProcess(
            tmp_db_url, mosquitto.url, config=config, log_dir=tmp_path, extra_args=("--card-keys", str(keys))
        ) as srv,
        Device(mosquitto.url) as dev,
    ):
        dev.wait_server()
        results = {}
        results["e"] = tap(dev, e_uid, e_url)
        results["picc"] = tap(dev, p_uid, p_url)
        results["e replay"] = tap(dev, e_uid, e_url)
        results["picc replay"] = tap(dev, p_uid, p_url)
        results["mac nibble"] = tap(dev, p_uid, p_url[:-1] + ("7" if p_url[-1] != "7" else "8"))
        results["lower counter"] = tap(dev, e_uid, SoftwareNtag424(e_uid, ZERO_KEY, ZERO_KEY).url_at(60))
        results["other uid"] = tap(dev, p_uid, e_url)
        results["bare uid"] = tap(dev, e_uid, None)
        results["non-hex"] = tap(dev, e_uid, e_url.replace("e=EF96", "e=ZZ96"))
        results["duplicated"] = tap(dev, e_uid, e_url + "&c=94EED9EE65337086")
        first, second = soft.read(), soft.read()
        results["soft 1"] = tap(dev, DIVERSIFIED, first)
        results["soft 2"] = tap(dev, DIVERSIFIED, second)
        results["soft recorded"] = tap(dev, DIVERSIFIED, first)
        results["plain bare"] = tap(dev, PLAIN, None)
        results["plain with a url"] = tap(dev, PLAIN, "https://lib.example/?e=00&c=00")
        # an over-long ndef is refused at the boundary: invalid, answered
        long_id = dev.next_tap_id("door")
        raw = {"v": 1, "tap_id": long_id, "uid": e_uid, "at": "2026-11-22T10:00:00Z", "clock_ok": True}
        dev.send_raw("door", json.dumps({**raw, "ndef": "https://x/?e=" + "A" * 600}))
        results["over-long"] = dev.wait_result("door", long_id, timeout=15)
        # the kiosk: a valid URL (not older than the last tap) gets the member, a bare UID does not
        answer_ok = dev.query("kiosk-1", p_uid, ndef=p_url)
        answer_bare = dev.query("kiosk-1", p_uid)
        answer_old = dev.query("kiosk-1", e_uid, ndef=SoftwareNtag424(e_uid, ZERO_KEY, ZERO_KEY).url_at(60))
        log = srv.log()

    outcome = {name: (r.outcome, r.points, r.open) for name, r in results.items()}
    credited = ("credited", 1, True)
    refused = ("card_not_genuine", 0, False)
    assert outcome == {
        "e": credited,
        "picc": credited,
        "e replay": refused,
        "picc replay": refused,
        "mac nibble": refused,
        "lower counter": refused,
        "other uid": refused,
        "bare uid": refused,
        "non-hex": refused,
        "duplicated": refused,
        "soft 1": credited,
        "soft 2": credited,
        "soft recorded": refused,
        "plain bare": credited,
        "plain with a url": credited,
        "over-long": ("invalid", 0, False),
    }
    for name, (outcome_, _, _) in outcome.items():  # a clone learns nothing about the member it copied
        if outcome_ == "card_not_genuine":
            r = results[name]
            assert (r.name, r.balance, r.tier) == (None, None, None), (name, r)
    assert results["e"].name == "Ann" and results["e"].balance is not None
    assert results["e replay"].message["en"].startswith("This card could not be verified")
    assert results["e replay"].message["th"].startswith("ตรวจสอบบัตรไม่ผ่าน")
    assert answer_ok.outcome == "member" and answer_ok.member["card"] == p_uid
    assert answer_bare.outcome == "card_not_genuine" and answer_bare.member is None and answer_bare.balance is None
    assert answer_old.outcome == "card_not_genuine"
    assert "Traceback" not in log
    assert "not genuine (mac: SDMMAC does not match)" in log
    assert "ndef must be a URI of 1-512" in log

    open_service(tmp_db_url, prog=prog)
    try:
        # no points for any refusal: Ann and Bee earned once each, Cid twice
        by_card = {
            uid: LedgerEntry.select().join(Member).where(Member.name == name, LedgerEntry.source == "tap").count()
            for name, uid in (("Ann", e_uid), ("Bee", p_uid), ("Cid", DIVERSIFIED))
        }
        assert by_card == {e_uid: 1, p_uid: 1, DIVERSIFIED: 2}
        checks = [a.detail["check"] for a in Audit.select().where(Audit.action == "card.not_genuine")]
        assert sorted(checks) == sorted(
            ["replay", "replay", "mac", "counter_back", "uid", "absent", "format", "format", "counter_back"]
        )
        assert Card.get_by_id(e_uid).sun_counter == 61 and Card.get_by_id(p_uid).sun_counter == 8
        # a counter that went backwards flags a suspected clone; a replay alone does not
        assert Card.get_by_id(e_uid).sun_suspect_at is not None
        assert Card.get_by_id(DIVERSIFIED).sun_suspect_at is not None
        assert Card.get_by_id(p_uid).sun_suspect_at is None
        for a in Audit.select():  # no key in the audit trail
            assert ZERO_HEX not in json.dumps(a.detail) and MASTER.lower() not in json.dumps(a.detail).lower()
        assert ledger_problems(prog=prog) == []
    finally:
        close_store()


# --------------------------------------------------------------------------- two replicas


URLS_PER_CARD = 6


def race_two_replicas(db_url: str, broker, tmp_path) -> None:
    """Two servers (each receiving every tap) and two gates sending every URL at once: one credit per URL."""
    config, keys, prog = write_setup(tmp_path, db_url)
    from server.sun import Keyring

    div = Keyring.from_file(keys).diversified(DIVERSIFIED)
    cards = [
        SoftwareNtag424(AN12196_E[1], ZERO_KEY, ZERO_KEY, counter=100),
        SoftwareNtag424(AN12196_PICC[1], ZERO_KEY, ZERO_KEY, counter=100, form="picc_data"),
        SoftwareNtag424(DIVERSIFIED, div.meta, div.file, counter=0, form="picc_data"),
    ]
    urls = [(c.uid_hex, c.read()) for _ in range(URLS_PER_CARD) for c in cards]
    servers = [
        ServerProcess(
            db_url,
            broker.url,
            client_id=f"privcard-server-{name}",
            config=config,
            log_dir=tmp_path,
            name=f"server-{name}",
            extra_args=("--card-keys", str(keys)),
        )
        for name in ("a", "b")
    ]
    dev = Device(broker.url)
    try:
        for srv in servers:
            srv.start()
        dev.start()
        dev.wait_server(servers=2)
        sent = []
        for uid, url in urls:
            pair = [
                (gate, Tap(tap_id=dev.next_tap_id(gate), uid=uid, at=_now(), clock_ok=True, ndef=url))
                for gate in ("door", "door-2")
            ]
            go = threading.Barrier(2)

            def publish(gate, t, go=go):
                go.wait()
                dev.publish_tap(gate, t)

            threads = [threading.Thread(target=publish, args=p) for p in pair]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            sent.append(pair)
        for pair in sent:
            for gate, t in pair:  # both servers answer every tap (the second from the inbox)
                assert dev.wait_result(gate, t.tap_id, timeout=30, count=2) is not None, servers[0].log_tail()
        for pair in sent:
            outcomes = [r.outcome for gate, t in pair for r in dev.results_for(gate, t.tap_id)]
            # per tap both servers agree; of the two gates' taps of one URL exactly one earns
            assert sorted(set(outcomes)) == ["card_not_genuine", "credited"], outcomes
        open_service(db_url, prog=prog)
        try:
            assert LedgerEntry.select().where(LedgerEntry.source == "tap").count() == len(urls)
            assert ledger_problems(prog=prog) == []
        finally:
            close_store()
        for srv in servers:
            assert "Traceback" not in srv.log(), srv.log_tail()
    finally:
        dev.close()
        for srv in servers:
            srv.kill()
        close_store()


def test_two_replicas_on_one_sqlite_file_credit_each_sun_url_once(tmp_db_url, mosquitto, tmp_path):
    race_two_replicas(tmp_db_url, mosquitto, tmp_path)


@pytest.mark.postgres
def test_two_replicas_on_one_postgresql_database_credit_each_sun_url_once(pg_url, pg_template, mosquitto, tmp_path):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        race_two_replicas(url, mosquitto, tmp_path)


def other_replica_accepts_first(db_url: str, tmp_path, connect_raw) -> None:
    """Another replica has raised the card's counter but not committed when this one decides the same read.

    This replica's card lookup still sees the old counter (the other transaction is
    uncommitted); only the conditional UPDATE, which waits for the other's row lock and
    then re-checks ``sun_counter < n``, stops the read from earning twice.
    """
    _config, keys, prog = write_setup(tmp_path, db_url)
    from server.services import bootstrap
    from server.sun import Keyring

    card = SoftwareNtag424(AN12196_E[1], ZERO_KEY, ZERO_KEY, counter=200)
    url = card.read()
    open_service(db_url, prog=prog)
    svc = bootstrap(prog, keyring=Keyring.from_file(keys))
    other = connect_raw()
    try:
        cur = other.cursor()
        cur.execute(f"UPDATE card SET sun_counter = 201 WHERE uid = '{card.uid_hex}'")  # not committed yet
        results = []
        tap_ = Tap(tap_id="door:race:1", uid=card.uid_hex, at=_now(), clock_ok=True, ndef=url)
        worker = threading.Thread(target=lambda: results.append(svc.taps.decide("door", tap_)))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive(), "the tap did not wait for the other replica's row lock"
        other.commit()
        worker.join(10)
        assert [r.outcome for r in results] == ["card_not_genuine"]
        assert LedgerEntry.select().where(LedgerEntry.source == "tap").count() == 0
    finally:
        other.close()
        close_store()


@pytest.mark.postgres
def test_a_read_another_replica_is_accepting_is_refused_on_postgresql(pg_url, pg_template, tmp_path):
    import psycopg2

    with fresh_pg_database(pg_url, template=pg_template) as url:
        other_replica_accepts_first(url, tmp_path, lambda: psycopg2.connect(url))
