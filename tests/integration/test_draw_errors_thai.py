"""A draw's own input errors (``server.domain.draws.DrawError``) keep their English template and
values apart and carry their Thai: ``privcard admin draw create`` prints the Thai line under the
English one and ``--json`` gives ``error_th``; the console says it in the staff's language.
Real entry points, real SQLite.
"""

from __future__ import annotations

import pytest

from server import catalogue
from server.domain import draws
from tests.browser.web_support import ADMIN, flashes, post_form, sign_in
from tests.helpers import admin_here

SEED = "ab" * 32


@pytest.mark.parametrize(
    ("call", "english", "thai"),
    [
        (
            lambda: draws.canonical([(1, 2), (1, 3)]),
            "member 1 is listed twice",
            "สมาชิก 1 อยู่ในรายชื่อสองครั้ง",
        ),
        (
            lambda: draws.canonical([(1, -1)]),
            "bad eligible entry (1, -1)",
            "รายชื่อผู้มีสิทธิ์มีรายการไม่ถูกต้อง (1, -1)",
        ),
        (
            lambda: draws.draw("AB" * 32, [(1, 1)], 1),
            "the seed must be 64 lower-case hex digits",
            "seed ต้องเป็นเลขฐานสิบหก (อักษรตัวเล็ก) 64 หลัก",
        ),
        (
            lambda: draws.draw(SEED, [(1, 1)], 0),
            "winners must be a whole number >= 1, got 0",
            "จำนวนผู้ได้รับรางวัลต้องเป็นจำนวนเต็มตั้งแต่ 1 ขึ้นไป (ได้รับ 0)",
        ),
        (
            lambda: draws.tickets_for(10, "per_points:0"),
            "tickets must be 'one' or 'per_points:N', got 'per_points:0'",
            "tickets ต้องเป็น 'one' (คนละหนึ่งสิทธิ์) หรือ 'per_points:N' (หนึ่งสิทธิ์ต่อ N คะแนน) (ได้รับ 'per_points:0')",
        ),
    ],
)
def test_each_draw_error_keeps_its_english_and_gives_its_thai(call, english, thai):
    with pytest.raises(draws.DrawError) as err:
        call()
    assert str(err.value) == english
    assert catalogue.thai_of(err.value) == thai


def test_privcard_admin_draw_create_prints_a_bad_tickets_rule_in_english_then_thai(tmp_path):
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--json", "draw", "create", "Prize", "--winners", "2"]
    argv += ["--tickets", "per_book:3", "--prize-points", "10"]
    code, data, lines = admin_here(*argv)
    assert code == 1
    english = "tickets must be 'one' or 'per_points:N', got 'per_book:3'"
    thai = "tickets ต้องเป็น 'one' (คนละหนึ่งสิทธิ์) หรือ 'per_points:N' (หนึ่งสิทธิ์ต่อ N คะแนน) (ได้รับ 'per_book:3')"
    assert data == {"error": english, "error_th": thai}
    assert lines == [f"privcard admin: {english}", f"privcard admin: {thai}"]


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("th", "tickets ต้องเป็น 'one' (คนละหนึ่งสิทธิ์) หรือ 'per_points:N' (หนึ่งสิทธิ์ต่อ N คะแนน) (ได้รับ 'lots')"),
        ("en", "tickets must be 'one' or 'per_points:N', got 'lots'"),
    ],
)
def test_the_console_says_a_bad_tickets_rule_in_the_staffs_language(app, lang, said):
    client = app.test_client()
    sign_in(client, ADMIN, lang)
    form = {"name": "Prize", "winners": "2", "tickets": "lots", "prize_points": "10"}
    assert flashes(post_form(client, "/draws", "/draws", form).text) == [said]
    assert app.extensions["privcard.service"].draws.list() == []
