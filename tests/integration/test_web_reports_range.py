"""Reports: a date range out of bounds is a clear 400 in Thai and English (issue 11's
``/reports?from=9999-12-31`` gave a 500), and the clock-anomaly report lists devices whose
taps' own times were doubtful (the back-dating policy, docs/rules.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from broker.contract import Tap, now_utc
from server.domain.config import load
from server.services import bootstrap
from tests.browser.web_support import ADMIN, sign_in, text


@pytest.mark.parametrize(
    "query", ["from=9999-12-31", "to=9999-12-31", "from=0001-01-01", "from=1999-12-31&to=2026-01-01"]
)
def test_a_report_range_out_of_bounds_is_a_400_in_english_and_thai(app, query):
    c = app.test_client()
    sign_in(c, ADMIN)
    page = c.get(f"/reports?{query}")
    assert page.status_code == 400
    assert "report dates must lie between 2000-01-01 and 2099-12-31" in text(page.text)
    csv = c.get(f"/reports/entries_daily.csv?{query}")
    assert csv.status_code == 400 and "must lie between" in csv.text
    c.get("/lang/th")
    page = c.get(f"/reports?{query}")
    assert page.status_code == 400
    assert "วันที่ของรายงานต้องอยู่ระหว่าง 2000-01-01 ถึง 2099-12-31" in text(page.text)


def test_a_malformed_date_is_a_400_too_and_a_good_range_still_works(app):
    c = app.test_client()
    sign_in(c, ADMIN)
    assert c.get("/reports?from=yesterday").status_code == 400
    assert c.get("/reports?from=2026-01-01&to=2026-01-31").status_code == 200
    assert c.get("/reports?from=2026-01-31&to=2026-01-01").status_code == 200  # swapped, as before


def test_the_api_refuses_the_same_range_with_a_400(app):
    from server.web import accounts

    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(ADMIN[0], 'tests')}"
    r = c.get("/api/reports/entries_daily?from=9999-12-31")
    assert r.status_code == 400 and "must lie between" in r.get_json()["error"]


def test_the_clock_anomaly_report_lists_devices_with_doubtful_tap_times(app):
    svc = bootstrap(load())
    svc.devices.add("gate-odd", "gate", direction="in")
    svc.devices.add("gate-fine", "gate", direction="in")
    uid = "04A1B2C3D4E5F6"
    svc.members.add("Somchai", uid)
    for n in range(1, 6):  # a gate that keeps dating taps days back
        svc.taps.decide("gate-odd", Tap(f"odd:{n}", uid, now_utc() - timedelta(days=n), True))
    svc.taps.decide("gate-odd", Tap("odd:u", uid, now_utc(), False))
    svc.taps.decide("gate-fine", Tap("fine:1", uid, now_utc(), True))
    c = app.test_client()
    sign_in(c, ADMIN)
    page = c.get("/reports")
    assert page.status_code == 200
    section = text(page.text).split("Devices with doubtful tap times", 1)[1]
    assert "gate-odd" in section and "gate-fine" not in section
    rows = c.get("/reports/clock_anomalies.csv").data.decode("utf-8-sig").splitlines()
    assert rows[0] == "Device,Kind,Taps,Back-dated,Clock not synchronised,Dated ahead,Buffered offline,Doubtful share"
    assert rows[1:] == ["gate-odd,gate,6,5,1,0,0,100%"]
    c.get("/lang/th")
    assert "อุปกรณ์ที่เวลาการแตะบัตรน่าสงสัย" in text(c.get("/reports").text)
