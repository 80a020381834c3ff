"""Fuzz the attendance CSV import: only ImportReport or ServiceError, never a partial write.

After every fuzzed import: the cached balances equal the ledger sums; a refused
import (ServiceError) changed nothing; an accepted one added exactly the entries its
report lists, each worth the activity's points; importing the same text again
credits nothing new (idempotent).
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.fuzzlib import fuzz_settings

N_MEMBERS = 12


@pytest.fixture(scope="module")
def svc():
    from tests.helpers import close_store, days_ago, open_service

    service = open_service("sqlite:///:memory:")
    for i in range(N_MEMBERS):
        m = service.members.add(f"Member {i}", f"04F0{i:08X}")
        if i == 10:
            service.members.set(m.id, status="blocked")
        if i == 11:
            service.members.set(m.id, valid_until=days_ago(40).isoformat())
    yield service
    close_store()


def _members():
    from server.store import Card, Member

    return [
        (m.id, c.uid) for m in Member.select().order_by(Member.id) for c in Card.select().where(Card.member == m.id)
    ]


def _snapshot():
    from server.store import LedgerEntry, Member

    return (
        LedgerEntry.select().count(),
        sum(m.balance for m in Member.select()),
        {m.id: m.balance for m in Member.select()},
    )


def _invariants():
    from tests.helpers import ledger_problems

    problems = ledger_problems()
    assert not problems, problems


cell = st.one_of(
    st.sampled_from(
        [
            "04F000000000",
            "04f0:00:00:00:01",
            "04-F0-00-00-00-02",
            " 04F000000003 ",
            "1",
            "2",
            "12",
            "0",
            "9999999",
            "04F00000000A",
            "04F00000000B",
            "05DEADBEEF",
            "uid",
            "member_id",
            "card",
            "",
            " ",
            '"',
            '""',
            "ก",
            "\x00",
            "\r",
            "=cmd|' /C calc'!A0",
            "1e5",
            "-1",
        ]
    ),
    st.text(max_size=30),
    st.text(alphabet="0123456789ABCDEFabcdef:- ", max_size=24),
    st.integers(-5, 10**9).map(str),
)
rows = st.lists(st.lists(cell, min_size=0, max_size=4), max_size=25)


@st.composite
def csv_texts(draw):
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.text(max_size=400))
    table = draw(rows)
    if choice == 1:
        out = io.StringIO()
        csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"]))).writerows(table)
        return out.getvalue()
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    nl = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    text = nl.join(sep.join(r) for r in table)
    if choice == 3:
        text = draw(st.sampled_from(["uid", "member_id", "Card,Name", "name,email", "\ufeffuid", "ID"])) + nl + text
    return text


events = st.one_of(
    st.sampled_from(["Workshop A", "Talk B", "ก" * 10, "x" * 121, "", "  ", "a\x00b"]), st.text(max_size=130)
)
activities = st.sampled_from(
    [
        "pulinet_event",
        "db_training",
        "learning_activity",
        "volunteer",
        "partner_purchase",
        "entry",
        "signup",
        "late_stay",
        "no_such_thing",
        "borrow",
    ]
)
days = st.one_of(
    st.none(),
    st.integers(0, 60).map(lambda n: f"D-{n}"),
    st.sampled_from(["2026-02-30", "not a date", "2026-11-22T10:00+07:00", "1", ""]),
    st.text(max_size=20),
)


@fuzz_settings(scale=0.5)
@given(text=csv_texts(), activity=activities, event=events, day=days, dry_run=st.booleans())
def test_import_attendance_never_crashes_or_half_writes(svc, text, activity, event, day, dry_run):
    from server.services import ServiceError
    from tests.helpers import days_ago

    if isinstance(day, str) and day.startswith("D-"):
        day = days_ago(int(day[2:])).isoformat()
    before = _snapshot()
    try:
        report = svc.attendance.import_csv(text, activity, event, day=day, actor="fuzz", dry_run=dry_run)
    except ServiceError:
        assert _snapshot()[:2] == before[:2], "a refused import changed the ledger"
        _invariants()
        return
    after = _snapshot()
    credited = [c for c in report.credited if c[2] is not None]
    if dry_run:
        assert after[:2] == before[:2] and not credited
    else:
        assert after[0] - before[0] == len(credited)
        points = svc.prog.activities[activity].points
        assert after[1] - before[1] == points * len(credited)
        for _, member_id, _ in credited:
            assert after[2][member_id] - before[2][member_id] == points
        again = svc.attendance.import_csv(text, activity, event, day=day, actor="fuzz")
        assert not again.credited, "the same list imported twice credited again"
        assert _snapshot()[:2] == after[:2]
    lines = {ln for ln, *_ in report.credited} | {ln for ln, _ in report.already} | {ln for ln, _ in report.errors}
    assert (
        len(lines) == len(report.credited) + len(report.already) + len({ln for ln, _ in report.errors}) or report.errors
    )
    _invariants()


def test_oversized_fields_and_nul_bytes_are_refused_cleanly(svc):
    from server.services import ServiceError

    for text in (
        "x" * 200_000,
        "uid\n" + "0" * 200_000,
        "\x00\n04F000000000",
        '"' + "a" * 150_000,
        "04F000000000\n" * 10 + '"unterminated',
    ):
        before = _snapshot()
        try:
            svc.attendance.import_csv(text, "volunteer", "Big file", actor="fuzz")
        except ServiceError:
            assert _snapshot()[:2] == before[:2]
        _invariants()
