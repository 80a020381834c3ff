"""The console's draw form offers the member groups by their names in the staff's language
(``[terms.groups.CODE]``: ปริญญาตรี / Undergraduate for ``U1``), not their codes, and a draw's
page says the group it counts by its name. Flask's test client, real SQLite.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.browser.web_support import ADMIN, post_form, sign_in

NAMES = {
    "en": ["Undergraduate", "Graduate student", "Academic staff", "Support staff", "External member"],
    "th": ["ปริญญาตรี", "บัณฑิตศึกษา", "สายวิชาการ", "สายสนับสนุน", "สมาชิกภายนอก"],
}
ALL = {"en": "all", "th": "ทั้งหมด"}


def _group_options(html: str) -> list[tuple[str, str]]:
    """The draw form's group choices as (value sent, text shown); an option without a value sends its text."""
    form = re.search(r'<form[^>]*id="draw-form".*?</form>', html, re.S).group(0)
    select = re.search(r'<select name="group">(.*?)</select>', form, re.S).group(1)
    out = []
    for attrs, text in re.findall(r"<option([^>]*)>(.*?)</option>", select, re.S):
        text = unescape(text).strip()
        value = re.search(r'value="([^"]*)"', attrs)
        out.append((value.group(1) if value else text, text))
    return out


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_draw_form_offers_groups_by_their_names_and_the_draw_says_its_group_by_name(app, lang):
    client = app.test_client()
    sign_in(client, ADMIN, lang)
    options = _group_options(client.get("/draws").text)
    codes = ["U1", "U2", "U3", "U4", "U5"]
    assert options == [("", ALL[lang]), *zip(codes, NAMES[lang], strict=True)]
    assert not any(re.fullmatch(r"U\d", text) for _value, text in options)
    # the form sends the code; the draw's page names the group it counts
    page = post_form(client, "/draws", "/draws", {"name": "Graduate prize", "winners": "1", "group": "U2"})
    criteria = re.search(r'<dd id="draw-criteria">(.*?)</dd>', page.text, re.S).group(1)
    text = unescape(re.sub(r"<[^>]+>", "", criteria))
    assert NAMES[lang][1] in text and "U2" not in text, text
    [draw] = app.extensions["privcard.service"].draws.list()
    assert draw["filters"]["group"] == "U2"
