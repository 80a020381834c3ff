"""The tap path's batches (issue 16): a constant number of statements per batch, taps of one
member seeing each other inside a batch, and ``--shared`` replicas on PostgreSQL that share
the load without ever crediting a tap twice.

The statements are counted where every one of them goes: the database connection's
cursor (peewee sends BEGIN and COMMIT through it too), so the count is the batch's round
trips to the database.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from broker.contract import Tap
from server import store
from server.store import LedgerEntry, TapInbox
from tests.helpers import (
    RACE_LIBRARY_TOML,
    Device,
    GateSimulator,
    ServerProcess,
    close_store,
    ledger_problems,
    open_service,
)

GATES = [f"g{i}" for i in range(5)]


class _Counting:
    """A cursor that counts every statement it executes (the batch's round trips)."""

    def __init__(self, cursor, seen: list[str]):
        self._cursor, self._seen = cursor, seen

    def execute(self, sql, *args, **kwargs):
        self._seen.append(sql)
        return self._cursor.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)


def _statements(svc, batch) -> tuple[int, list]:
    """The statements one decided batch sends, and its results."""
    seen: list[str] = []
    database = store.db.obj
    real = database.cursor
    database.cursor = lambda *a, **k: _Counting(real(*a, **k), seen)
    try:
        results = svc.taps.decide_batch(batch)
    finally:
        database.cursor = real
    return len(seen), results


def _members(n: int) -> list[str]:
    uids = [f"04D0{i:010X}" for i in range(n)]
    with store.db.atomic():
        for i, uid in enumerate(uids):
            member = store.Member.create(name=f"Member {i}", balance=0)
            store.Card.create(uid=uid, member=member)
    return uids


def test_a_batch_costs_the_same_statements_whatever_its_size(any_db_url):
    """10 taps or 100 taps (credits, a repeat, an unknown card): the same number of round trips."""
    svc = open_service(any_db_url)
    try:
        for gate in GATES:
            svc.devices.add(gate, "gate", direction="in")
        uids = _members(220)
        now = datetime.now(UTC)

        def batch(tag: str, n: int, start: int) -> list:
            taps = [(GATES[i % 5], Tap(f"{tag}:{i}", uids[start + i], now, True), now) for i in range(n - 2)]
            taps.append((GATES[0], Tap(f"{tag}:unknown", "04FFFFFFFFFFFF", now, True), now))
            taps.append((GATES[1], Tap(f"{tag}:again", uids[start], now, True), now))  # limit reached
            return taps

        # every device once, so the device cache (2 s) is warm for both batches
        svc.taps.decide_batch([(g, Tap(f"warm:{g}", uids[-1 - i], now, True), now) for i, g in enumerate(GATES)])
        small, small_results = _statements(svc, batch("small", 10, 0))
        large, large_results = _statements(svc, batch("large", 100, 10))
        for results, n in ((small_results, 10), (large_results, 100)):
            outcomes = [r.outcome for r in results]
            assert outcomes == ["credited"] * (n - 2) + ["unknown_card", "limit_reached"], outcomes
        assert small == large, f"{small} statements for 10 taps, {large} for 100"
        # SQLite: BEGIN, the programme counter, claim, cards, accruals, entries, their keys, balances,
        # results, COMMIT; PostgreSQL: BEGIN with one read of the counter, the cards, the stored results and
        # the taken keys, then one write of the inbox rows with their results, the credits, and COMMIT
        assert large == (10 if store.is_sqlite() else 2), large
        # a batch of redeliveries: claim finds them all decided, one more statement reads the results
        again, results = _statements(svc, batch("large", 100, 10))
        assert results == large_results
        assert again <= (6 if store.is_sqlite() else 2), again
        assert ledger_problems() == []
    finally:
        close_store()


def test_the_indexes_a_credit_wrote_for_nothing_are_dropped_in_place(any_db_url):
    """``accrual (member_id)`` and ``ledger_entry (member_id)`` repeat a wider index's first column."""
    open_service(any_db_url)
    try:

        def indexes() -> set[str]:
            return {i.name for t in ("accrual", "ledger_entry") for i in store.db.get_indexes(t)}

        assert not {"accrual_member_id", "ledger_entry_member_id"} & indexes()
        assert {"accrual_member_id_activity_day_item", "ledger_entry_member_id_id"} <= indexes()
        # a database from before the tap path's migration (peewee made both with the tables)
        store.db.execute_sql("CREATE INDEX accrual_member_id ON accrual (member_id)")
        store.db.execute_sql("CREATE INDEX ledger_entry_member_id ON ledger_entry (member_id)")
        store.Counter.update(value=0).where(store.Counter.key == "schema:tap_path").execute()
        store.upgrade()
        assert not {"accrual_member_id", "ledger_entry_member_id"} & indexes()
        assert store.counter("schema:tap_path") == 1
    finally:
        close_store()


def test_taps_of_one_member_in_one_batch_see_each_other(any_db_url):
    """Entry twice, then a counter visit, then a repeat of the first tap: in order, in one batch."""
    svc = open_service(any_db_url)
    try:
        svc.devices.add("gate-in", "gate", direction="in")
        svc.devices.add("event-door", "gate", direction="in", activity="pulinet_event")
        svc.devices.add("event-door-2", "gate", direction="in", activity="pulinet_event")
        uid, other = "04E1E2E3E4E5E6", "04E1E2E3E4E5E7"
        m = svc.members.add("Somchai", uid)
        svc.members.add("Malee", other)
        now = datetime.now(UTC)
        first = Tap("b:1", uid, now, True)
        batch = [
            ("gate-in", first, now),
            ("gate-in", Tap("b:2", other, now, True), now),
            ("gate-in", Tap("b:3", uid, now, True), now),  # the day's entry is taken by b:1
            ("event-door", Tap("b:4", uid, now, True), now),  # another activity: earns
            ("event-door-2", Tap("b:5", uid, now, True), now),  # per item: another door earns too
            ("event-door", Tap("b:6", uid, now, True), now),  # the same door again: no
            ("gate-in", first, now),  # a redelivery inside the batch: the first's result
        ]
        results = svc.taps.decide_batch(batch)
        entry = svc.prog.activities["entry"].points
        event = svc.prog.activities["pulinet_event"].points
        got = [(r.outcome, r.points, r.balance) for r in results]
        assert got == [
            ("credited", entry, 250 + entry),
            ("credited", entry, 250 + entry),
            ("limit_reached", 0, 250 + entry),
            ("credited", event, 250 + entry + event),
            ("credited", event, 250 + entry + 2 * event),
            ("limit_reached", 0, 250 + entry + 2 * event),
            ("credited", entry, 250 + entry),
        ], got
        assert results[6] == results[0]
        assert svc.ledger.balance(m.id) == 250 + entry + 2 * event
        assert LedgerEntry.select().where(LedgerEntry.member == m.id, LedgerEntry.source == "tap").count() == 3
        assert TapInbox.select().count() == 6
        # the same batch again (the broker redelivers it): the same answers, nothing more credited
        assert svc.taps.decide_batch(batch) == results
        assert svc.ledger.balance(m.id) == 250 + entry + 2 * event
        assert ledger_problems() == []
    finally:
        close_store()


def _other_replica_credits(url: str, member_id: int, day: str, tap_id: str, points: int):
    """Another replica's transaction, left open: it credited ``tap_id`` (an entry today) and stored its result.

    Returns its connection (commit it to let the replica finish) and the result it stored.
    """
    import json

    import psycopg2

    from broker.contract import TapResult

    result = TapResult(tap_id, "credited", True, points, points, "entry", f"Member {member_id}", "silver")
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, device, ref, created_at) "
        "VALUES (%s, 'entry', %s, %s, '', now(), 'tap', 'g1', %s, now()) RETURNING id",
        (member_id, points, day, tap_id),
    )
    entry_id = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO accrual (member_id, activity, day, item, entry_id) VALUES (%s, 'entry', %s, '', %s)",
        (member_id, day, entry_id),
    )
    cur.execute("UPDATE member SET balance = balance + %s WHERE id = %s", (points, member_id))
    cur.execute(
        "INSERT INTO tap_inbox (device, tap_id, uid, at, received_at, outcome, points, member, result, timing) "
        "VALUES ('g1', %s, 'x', now(), now(), 'credited', %s, %s, %s, 'clock')",
        (tap_id, points, member_id, json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True)),
    )
    return conn, result


@pytest.mark.postgres
def test_postgresql_plans_the_two_statements_once_per_connection_whatever_the_batch_size(pg_url, pg_template):
    """Batches of 1, 3 and 60 taps run the same two prepared statements, planned once (generic
    plans, no custom plan per batch); a connection opened again prepares them again."""
    from tests.helpers import fresh_pg_database

    def plans() -> dict:
        rows = store.db.execute_sql(
            "SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements ORDER BY name"
        ).fetchall()
        return {name: (text, generic, custom) for name, text, generic, custom in rows}

    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            for gate in GATES:
                svc.devices.add(gate, "gate", direction="in")
            uids = _members(140)
            now = datetime.now(UTC)
            start = 0
            for round_ in range(2):
                sizes = (1, 3, 60) if round_ == 0 else (1, 4)
                for n in sizes:
                    batch = [(GATES[i % 5], Tap(f"p{start + i}", uids[start + i], now, True), now) for i in range(n)]
                    start += n
                    assert [r.outcome for r in svc.taps.decide_batch(batch)] == ["credited"] * n
                # taps on unknown cards only: every array of members is NULLs (one tap, then two)
                for n in (1, 2):
                    batch = [
                        (GATES[i], Tap(f"u{round_}:{n}:{i}", f"04EE{n:02X}{i:08X}", now, True), now) for i in range(n)
                    ]
                    assert [r.outcome for r in svc.taps.decide_batch(batch)] == ["unknown_card"] * n
                seen = plans()
                assert set(seen) == {"privcard_tap_read", "privcard_tap_write"}, seen
                for name, (_, generic, custom) in seen.items():
                    # one execution per batch, each with the cached generic plan
                    assert (generic, custom) == (len(sizes) + 2, 0), (name, generic, custom)
                assert svc.taps.fallbacks == {}
                store.db.close()  # the next batch's connection is a new session: prepared again
            assert ledger_problems() == []
        finally:
            close_store()


@pytest.mark.postgres
@pytest.mark.parametrize("race", ["same tap", "same key"])
def test_a_replica_that_writes_first_makes_the_two_round_trip_batch_start_again(pg_url, pg_template, race, caplog):
    """PostgreSQL decides a batch from one read and one write; a replica that writes in between wins.

    The other replica's transaction is open while this one reads (so the read does not see
    it) and commits while this one's write waits on its rows: the write finds the tap (or the
    member's daily key) taken, fails whole, and the batch is decided again the usual way —
    the other replica's stored result, or ``limit_reached``; never a second credit.
    """
    import threading

    from server.domain import rules
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            svc.devices.add("g1", "gate", direction="in")
            uids = _members(3)
            member_id = store.Card.get_by_id(uids[0]).member_id
            now = datetime.now(UTC)
            svc.taps.decide_batch([("g1", Tap("warm", uids[2], now, True), now)])  # devices and programme read
            points = svc.prog.activities["entry"].points
            day = rules.business_day(now, svc.prog).isoformat()
            ours = Tap("race:1", uids[0], now, True)
            other, theirs = _other_replica_credits(
                url, member_id, day, ours.tap_id if race == "same tap" else "g1:x", points
            )
            committer = threading.Timer(0.5, other.commit)
            committer.start()
            try:
                with caplog.at_level("DEBUG", logger="server.services.taps"):
                    [result] = svc.taps.decide_batch([("g1", ours, now)])
            finally:
                committer.join()
                other.close()
            assert "decided the usual way: another writer got in the way" in caplog.text
            if race == "same tap":
                assert result == theirs  # the replica's answer, from the inbox
            else:
                assert (result.outcome, result.points, result.balance) == ("limit_reached", 0, points)
            entries = LedgerEntry.select().where(LedgerEntry.member == member_id)
            assert [(e.activity, e.points) for e in entries] == [("entry", points)]
            assert store.Member.get_by_id(member_id).balance == points
            assert TapInbox.select().where(TapInbox.tap_id == ours.tap_id).count() == 1
            assert ledger_problems() == []
        finally:
            close_store()


@pytest.mark.postgres
def test_shared_replicas_on_postgresql_credit_each_tap_exactly_once(pg_url, pg_template, mosquitto, tmp_path):
    """Two ``--shared`` servers on one PostgreSQL database: 600 taps, each credited once, none lost.

    The gate resends what is not answered within a second, so a tap may reach both
    replicas; the inbox claim and the accrual key decide which one credits it.
    """
    from server.domain.config import load
    from tests.helpers import fresh_pg_database

    config = tmp_path / "library.toml"
    config.write_text(RACE_LIBRARY_TOML)
    prog = load(config)
    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url, prog=prog)
        svc.devices.add("door", "gate", direction="in", activity="visit")  # unlimited: a double shows
        for gate in GATES:
            svc.devices.add(gate, "gate", direction="in")  # entry: once a day per member
        uids = _members(300)
        close_store()
        servers = [
            ServerProcess(
                url,
                mosquitto.url + "?v=5",
                client_id=f"replica-{n}",
                config=config,
                log_dir=tmp_path,
                name=f"replica-{n}",
                extra_args=("--shared", "privcard"),
            )
            for n in ("a", "b")
        ]
        dev = Device(mosquitto.url)
        try:
            for srv in servers:
                srv.start(timeout=30)
            dev.start()
            dev.wait_server()
            rnd = random.Random(16)
            taps = []
            for i in range(600):
                device_id = "door" if i % 3 == 0 else GATES[i % 5]
                taps.append((device_id, dev.make_tap(uids[rnd.randrange(len(uids))], device_id=device_id)))
            sim = GateSimulator(dev, taps, interval_s=0.001, resend_s=1.0).start()
            assert sim.wait_all(120), f"{len(sim.pending())} taps unanswered\n" + "".join(s.log_tail() for s in servers)
            sim.stop()
            open_service(url, prog=prog)
            answers = {(d, t.tap_id): dev.results_for(d, t.tap_id) for d, t in taps}
            for key, results in answers.items():
                assert results and all(r == results[0] for r in results), (key, results)
                assert results[0].outcome in ("credited", "limit_reached"), (key, results[0])
            credited = sorted(k for k, r in answers.items() if r[0].outcome == "credited")
            entries = sorted((e.device, e.ref) for e in LedgerEntry.select().where(LedgerEntry.source == "tap"))
            assert entries == credited, "the ledger and the answers disagree (a double or a lost credit)"
            assert {k for k in credited if k[0] == "door"} == {(d, t.tap_id) for d, t in taps if d == "door"}
            entry_members = {t.uid for d, t in taps if d != "door"}
            assert len([k for k in credited if k[0] != "door"]) == len(entry_members)  # once a day each
            assert TapInbox.select().count() == len(taps)
            assert ledger_problems(prog=prog) == []
            for srv in servers:
                assert srv.running, srv.log_tail()
                assert "Traceback" not in srv.log(), srv.log_tail()
        finally:
            dev.close()
            for srv in servers:
                srv.kill()
            close_store()


@pytest.mark.postgres
def test_postgresql_decides_a_batch_of_cards_it_knows_in_one_round_trip(pg_url, pg_template):
    """After a batch has read its cards, later batches of the same cards are decided from what the
    server remembers: one statement (BEGIN, the guarded write and COMMIT in one message), with the
    balances, the daily keys and the credits exactly as the two-round-trip path gives them."""
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            svc.devices.add("g1", "gate", direction="in")
            svc.devices.add("ev", "gate", direction="in", activity="pulinet_event")
            *uids, spare = _members(7)
            now = datetime.now(UTC)
            entry, event = svc.prog.activities["entry"].points, svc.prog.activities["pulinet_event"].points
            # the devices and the programme read, the statements prepared (another card: not remembered here)
            svc.taps.decide_batch([(d, Tap(f"warm:{d}", spare, now, True), now) for d in ("g1", "ev")])
            svc.taps.memory.clear()

            def batch(tag, device, cards):
                return [(device, Tap(f"{tag}:{i}", uid, now, True), now) for i, uid in enumerate(cards)]

            n, first = _statements(svc, batch("a", "g1", uids))
            assert (n, [r.outcome for r in first]) == (2, ["credited"] * 6)  # read, then write
            assert svc.taps.one_trip == 0
            # the same cards again: limit reached, from memory
            n, again = _statements(svc, batch("b", "g1", uids))
            assert (n, [(r.outcome, r.balance) for r in again]) == (1, [("limit_reached", entry)] * 6)
            # another activity: credited from memory, balances raised from the remembered ones
            n, credits = _statements(svc, batch("c", "ev", uids[:3] + uids[:1]))
            assert n == 1
            assert [(r.outcome, r.points, r.balance) for r in credits] == [("credited", event, entry + event)] * 3 + [
                ("limit_reached", 0, entry + event)
            ]
            n, after = _statements(svc, batch("d", "ev", uids[:4]))
            assert n == 1
            assert [(r.outcome, r.balance) for r in after] == [("limit_reached", entry + event)] * 3 + [
                ("credited", entry + event)
            ]
            assert svc.taps.one_trip == 3 and svc.taps.fallbacks == {}
            balances = {c.uid: c.member.balance for c in store.Card.select().where(store.Card.uid.in_(uids))}
            assert balances == {u: entry + (event if i < 4 else 0) for i, u in enumerate(uids)}
            # a redelivery of a tap decided here is read (its stored result), not guessed
            n, redelivered = _statements(svc, batch("d", "ev", uids[:4]))
            assert (n, redelivered) == (2, after)
            assert ledger_problems() == []
        finally:
            close_store()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "change",
    ["card blocked", "points awarded", "credit voided", "voided, balance restored", "tier changed", "programme"],
)
def test_a_change_made_elsewhere_sends_a_remembered_batch_to_be_read_again(pg_url, pg_template, change):
    """What the server remembers is checked by the write: a card blocked, a balance changed, a daily
    key given back by a void, a tier changed, a new programme version — by the console, the CLI or
    another process — fails the one-round-trip write whole, and the batch is decided the usual way
    (the right answer), its cards read again."""
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            svc.devices.add("g1", "gate", direction="in")
            svc.devices.add("ctr", "counter")
            [uid, other] = _members(2)
            member_id = store.Card.get_by_id(uid).member_id
            now = datetime.now(UTC)
            entry = svc.prog.activities["entry"].points
            [first, _] = svc.taps.decide_batch(
                [("g1", Tap("a", uid, now, True), now), ("g1", Tap("b", other, now, True), now)]
            )
            assert first.outcome == "credited"
            # the change, made outside the tap path (the memory is not told)
            expected = ("limit_reached", entry)
            if change == "card blocked":
                svc.members.block_card(uid, "lost")
                expected = ("card_blocked", None)
            elif change == "points awarded":
                svc.points.award(member_id, "borrow")
                expected = ("limit_reached", entry + svc.prog.activities["borrow"].points)
            elif change == "credit voided":
                [credit] = LedgerEntry.select().where(
                    (LedgerEntry.member == member_id) & (LedgerEntry.activity == "entry")
                )
                svc.points.void(credit.id, "test")
                expected = ("credited", entry)  # the day's key is free again
            elif change == "voided, balance restored":
                # the balance is back where it was remembered (A-B-A), but the day's key is free again
                [credit] = LedgerEntry.select().where(
                    (LedgerEntry.member == member_id) & (LedgerEntry.activity == "entry")
                )
                svc.points.void(credit.id, "test")
                borrow = svc.prog.activities["borrow"].points
                assert borrow == entry, "the A-B-A needs an award worth what the void took"
                svc.points.award(member_id, "borrow")
                expected = ("credited", entry + borrow)
            elif change == "tier changed":
                svc.members.set(member_id, tier="gold")
            else:
                store.db.execute_sql(
                    "UPDATE meta SET value = value + 1 WHERE key = %s", ("programme",)
                ) if store.Counter.get_or_none(key="programme") else store.Counter.create(key="programme", value=1)
            [result] = svc.taps.decide_batch([("g1", Tap("c", uid, now, True), now)])
            assert (result.outcome, result.balance) == expected
            if change == "tier changed":
                assert result.tier == "gold"
            assert svc.taps.fallbacks == {"a card, member, key or the programme changed since it was remembered": 1}
            # the card is read again, then remembered: the next batch is one round trip again
            n, _ = _statements(svc, [("g1", Tap("d", uid, now, True), now)])
            assert n == 2
            n, _ = _statements(svc, [("g1", Tap("e", uid, now, True), now)])
            assert n == 1
            assert ledger_problems() == []
        finally:
            close_store()


@pytest.mark.postgres
def test_shared_replicas_do_not_remember(pg_url, pg_template):
    """``--shared`` replicas change each other's members: each of their batches is read."""
    from server.app import PointsServer
    from server.domain.config import load
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(pg_url, template=pg_template) as url:
        open_service(url)
        shared = PointsServer(url, "mqtt://127.0.0.1:1", load(None), shared_group="g", client_id="r1")
        alone = PointsServer(url, "mqtt://127.0.0.1:1", load(None))
        try:
            assert (shared.service.taps.remember, alone.service.taps.remember) == (False, True)
        finally:
            close_store()


@pytest.mark.postgres
def test_a_secured_cards_read_counter_is_remembered_and_checked(pg_url, pg_template):
    """A Secure Unique NFC card decided from memory: its last accepted read counter is the one this
    server left (a fresh read earns in one round trip, a replay is refused); a read accepted by
    another process since (a clone's, elsewhere) fails the write, and the batch is read again."""
    from server import sun
    from server.domain.config import load
    from server.services import bootstrap
    from tests.helpers import fresh_pg_database
    from tests.sun_card import SoftwareNtag424

    with fresh_pg_database(pg_url, template=pg_template) as url:
        close_store()
        store.connect(url)
        svc = bootstrap(load(None), keyring=sun.Keyring(master=bytes(range(16))))
        try:
            svc.devices.add("g1", "gate", direction="in")
            [uid, spare] = _members(2)
            svc.cards.secure(uid)
            keys = svc.cards.diversified_keys(uid)
            card = SoftwareNtag424(uid, keys.meta, keys.file, form="picc_data")
            now = datetime.now(UTC)
            svc.taps.decide_batch([("g1", Tap("warm", spare, now, True), now)])

            def tap(tag, counter):
                return _statements(svc, [("g1", Tap(tag, uid, now, True, ndef=card.url_at(counter)), now)])

            n, [r] = tap("a", 1)
            assert (n, r.outcome) == (2, "credited")
            n, [r] = tap("b", 2)  # from memory: read 2 accepted, the counter raised in the write
            assert (n, r.outcome) == (1, "limit_reached")
            assert store.Card.get_by_id(uid).sun_counter == 2
            n, [r] = tap("c", 2)  # the same URL again: the remembered counter refuses it
            assert r.outcome == "card_not_genuine"
            assert svc.taps.fallbacks == {}
            # a read accepted elsewhere (another server, a clone): the remembered counter is stale
            store.db.execute_sql("UPDATE card SET sun_counter = 10 WHERE uid = %s", (uid,))
            n, [r] = tap("d", 3)
            assert r.outcome == "card_not_genuine"
            assert svc.taps.fallbacks == {"a card, member, key or the programme changed since it was remembered": 1}
            n, [r] = tap("e", 11)
            assert (n, r.outcome) == (2, "limit_reached")  # read again, then remembered
            n, [r] = tap("f", 12)
            assert (n, r.outcome) == (1, "limit_reached")
            assert store.Card.get_by_id(uid).sun_counter == 12
            assert ledger_problems() == []
        finally:
            close_store()
