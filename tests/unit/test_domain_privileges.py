"""Privilege tables 2-5, the fine discount and semester labels (Buddhist era)."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain import rules
from server.domain.config import load
from server.domain.rules import RuleError, fine_discount_baht, privileges, semester_of

PROG = load()


@pytest.mark.parametrize(
    "balance, books, loan_days, locker, room",
    [
        (0, 10, 10, 1, 3),  # normal rights without the card's points
        (249, 10, 10, 1, 3),
        (250, 15, 30, 3, 3),
        (299, 15, 30, 3, 3),
        (300, 20, 30, 3, 3),
        (499, 35, 30, 3, 3),
        (500, 40, 30, 7, 4),
        (549, 40, 30, 7, 4),
        (550, 45, 45, 7, 4),
        (700, 60, 45, 14, 4),
        (750, 65, 45, 14, 5),
        (1000, 90, 45, 30, 6),
        (1099, 95, 45, 30, 6),
        (1100, 100, None, 30, 6),  # a whole semester
        (1500, 100, None, 60, 6),
        (2000, 100, None, 90, 6),
        (2500, 100, None, 90, 6),
        (99999, 100, None, 90, 6),
    ],
)
def test_tables_2_4_5_at_their_boundaries(balance, books, loan_days, locker, room):
    p = privileges(balance, PROG)
    assert p["borrow"]["books"] == books
    assert p["borrow"]["loan_days"] == loan_days
    assert p["locker_days"] == locker
    assert p["study_room_hours"] == room


def test_loan_period_wording():
    assert privileges(250, PROG)["borrow"]["loan"] == {"th": "30 วัน", "en": "30 days"}
    assert privileges(550, PROG)["borrow"]["loan"] == {"th": "45 วัน", "en": "45 days"}
    assert privileges(1100, PROG)["borrow"]["loan"] == {"th": "ตลอดภาคการศึกษา", "en": "whole semester"}
    assert privileges(249, PROG)["borrow"]["loan"] == {"th": "10 วัน", "en": "10 days"}


@pytest.mark.parametrize(
    "balance, points, baht",
    [
        (0, 0, 0),
        (24, 0, 0),
        (25, 25, 5),
        (249, 225, 45),
        (250, 250, 50),  # the joining fee: 250 points = 50 baht
        (500, 500, 100),
        (2499, 2475, 495),
        (2500, 2500, 500),
        (2600, 2500, 500),  # capped at 2,500 points = 500 baht
        (-10, 0, 0),
    ],
)
def test_table_3_fine_discount_available(balance, points, baht):
    p = privileges(balance, PROG)
    assert (p["fine_discount_points"], p["fine_discount_baht"]) == (points, baht)
    assert rules.fine_discount(balance, PROG) == (points, baht)


def test_fine_discount_redeemed_in_steps_of_25():
    assert fine_discount_baht(25, PROG) == 5
    assert fine_discount_baht(50, PROG) == 10
    assert fine_discount_baht(2500, PROG) == 500
    for bad in (0, -25, 10, 30, 2499):
        with pytest.raises(RuleError, match="steps of 25 points"):
            fine_discount_baht(bad, PROG)
    with pytest.raises(RuleError, match="at most 2500 points"):
        fine_discount_baht(2525, PROG)


@pytest.mark.parametrize(
    "balance, target, needed",
    [
        (0, 250, 250),
        (249, 250, 1),
        (250, 300, 50),
        (1099, 1100, 1),
        (1100, 1500, 400),
        (1999, 2000, 1),
    ],
)
def test_next_threshold(balance, target, needed):
    nxt = privileges(balance, PROG)["next"]
    assert (nxt["points"], nxt["needed"]) == (target, needed)
    assert nxt["unlocks"]["th"] and nxt["unlocks"]["en"]


def test_next_threshold_names_what_it_unlocks_and_ends_at_the_top():
    nxt = privileges(490, PROG)["next"]
    assert nxt["points"] == 500
    assert nxt["unlocks"]["en"] == "borrow 40 books, locker 7 days, study room 4 h"
    assert privileges(2000, PROG)["next"] is None


def test_privilege_tables_are_configuration():
    prog = load(overrides={"privileges": {"locker": {"normal_days": 2, "levels": [{"points": 100, "days": 5}]}}})
    assert privileges(99, prog)["locker_days"] == 2
    assert privileges(100, prog)["locker_days"] == 5


# --------------------------------------------------------------------------- semesters (Buddhist era)


@pytest.mark.parametrize(
    "day, label, start, end",
    [
        (date(2026, 6, 1), "1/2569", date(2026, 6, 1), date(2026, 10, 31)),
        (date(2026, 10, 31), "1/2569", date(2026, 6, 1), date(2026, 10, 31)),
        (date(2026, 11, 1), "2/2569", date(2026, 11, 1), date(2027, 3, 31)),
        (date(2026, 12, 31), "2/2569", date(2026, 11, 1), date(2027, 3, 31)),
        (date(2027, 1, 1), "2/2569", date(2026, 11, 1), date(2027, 3, 31)),  # wraps the new year
        (date(2027, 3, 31), "2/2569", date(2026, 11, 1), date(2027, 3, 31)),
        (date(2027, 4, 1), "summer/2569", date(2027, 4, 1), date(2027, 5, 31)),  # still academic year 2569
        (date(2027, 5, 31), "summer/2569", date(2027, 4, 1), date(2027, 5, 31)),
        (date(2027, 6, 1), "1/2570", date(2027, 6, 1), date(2027, 10, 31)),
        (date(2016, 1, 21), "2/2558", date(2015, 11, 1), date(2016, 3, 31)),  # the pilot's 21/1/2559
    ],
)
def test_semester_labels_in_buddhist_era(day, label, start, end):
    assert semester_of(day, PROG) == (label, start, end)


def test_without_semesters_the_calendar_year_in_be():
    raw = {"semesters": []}
    prog = load(overrides=raw)
    assert semester_of(date(2026, 11, 22), prog) == ("2569", date(2026, 1, 1), date(2026, 12, 31))


def test_semester_gap_falls_back_to_the_year():
    prog = load(overrides={"semesters": [{"name": "1", "start": "06-01", "end": "10-31"}]})
    assert semester_of(date(2026, 12, 1), prog)[0] == "2569"
    assert semester_of(date(2026, 7, 1), prog)[0] == "1/2569"
