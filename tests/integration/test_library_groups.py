"""A library's own member groups (``[terms.groups]``) everywhere the console, the API and the CLI
name groups: the "Members by segment" report, segment messages, campaigns' stored groups and the
forms that offer groups. Real SQLite; the console through Flask's test client; the CLI in this
process.

Before: the segments report counted only U1–U5 (a library's STU members vanished from it, named
by a fixed table that disagreed with the programme's names); a segment message to a typo'd group
was queued for nobody without a word; a campaign added by the CLI stored its groups as the text
typed ("STU,FAC") and the console's list showed it letter by letter; the member, campaign and
message forms offered bare codes.
"""

from __future__ import annotations

import re
from html import unescape

from server.web import reports
from tests.browser.web_support import ADMIN, sign_in
from tests.helpers import new_uid

#: a library that replaced the shipped groups with its own two
OWN_GROUPS = """\
[terms]
default = "none"
renewal_fee_baht = 50
on_expiry = "keep"

[terms.groups.STU]
th = "นักศึกษา"
en = "Student"
term = "semester"

[terms.groups.FAC]
th = "คณาจารย์"
en = "Faculty"
term = "date"
"""


def _csv(client, path: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(client.get(path).data.decode("utf-8-sig"))))


def test_the_segments_report_counts_and_names_the_programmes_own_groups_and_keeps_old_ones(app):
    svc = app.extensions["privcard.service"]
    # enrolled while U1-U5 were the groups: U3 stays on the member after the library's own replace them
    svc.members.add("Old lecturer", new_uid(), group="U3", valid_until="2030-01-01")
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    svc.members.add("Student A", new_uid(), group="STU")
    svc.members.add("Student B", new_uid(), group="STU", tier="gold")
    svc.members.add("Lecturer", new_uid(), group="FAC", valid_until="2030-01-01")
    svc.members.add("Nobody's", new_uid())
    day = svc.sites.today()
    rows = reports.build("segments", svc, day, day).rows
    shown = [(r["group"], r["label"]["en"], r["label"]["th"], r["silver"], r["gold"], r["total"]) for r in rows]
    assert shown == [
        ("STU", "Student", "นักศึกษา", 1, 1, 2),
        ("FAC", "Faculty", "คณาจารย์", 1, 0, 1),
        ("U3", "No longer in the programme", "ไม่มีในโปรแกรมแล้ว", 1, 0, 1),
        ("-", "Not set", "ไม่ระบุ", 1, 0, 1),
    ], shown
    assert sum(r["total"] for r in rows) == 5  # every member counted once

    client = app.test_client()
    sign_in(client, ADMIN, "th")
    table = _csv(client, "/reports/segments.csv")
    assert table[0] == ["กลุ่ม", "คำอธิบาย", "บัตรเงิน", "บัตรทอง", "ใช้งานได้", "รวม"]
    assert [row[:2] + row[-1:] for row in table[1:]] == [
        ["STU", "นักศึกษา", "2"],
        ["FAC", "คณาจารย์", "1"],
        ["U3", "ไม่มีในโปรแกรมแล้ว", "1"],
        ["'-", "ไม่ระบุ", "1"],  # the CSV guard's quote (a cell starting with - could be a formula)
    ]
    page = unescape(re.sub(r"<[^>]+>", " ", client.get("/reports").text))
    assert "นักศึกษา" in page and "คณาจารย์" in page
