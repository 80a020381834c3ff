"""The kiosk shows what the real server says about the library: name, today's hours, language.

A real ``privcard server`` (Mosquitto, fresh SQLite) runs a programme whose
``[library]`` names and ``[hours]`` are found nowhere else, with the kiosk registered
with ``lang = "en"``; the kiosk, started in Thai under Xvfb, must take all three from
its retained config (read with ``broker.settings.parse``). Writes
kiosk-config-from-server.png (docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs).
"""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from broker.settings import WEEKDAYS
from tests.helpers import ServerProcess, close_store, open_service
from tests.ui.harness import KioskProcess

pytestmark = pytest.mark.ui

DEVICE = "kiosk-config"
ZONE = "Asia/Bangkok"
NAME_TH, NAME_EN = "หอสมุดป่าตองทดสอบ", "Patong Test Library"
#: a different span every weekday, so the one shown can only be today's
HOURS = {day: f"07:{10 + i}-19:{40 + i}" for i, day in enumerate(WEEKDAYS)}

PROGRAMME = f"""
[library]
name_th = "{NAME_TH}"
name_en = "{NAME_EN}"
timezone = "{ZONE}"

[hours]
{chr(10).join(f'{day} = "{span}"' for day, span in HOURS.items())}
"""


def todays_hours() -> str:
    """What the idle screen should say in English today (in the library's time zone)."""
    opens, closes = HOURS[WEEKDAYS[datetime.now(ZoneInfo(ZONE)).weekday()]].split("-")
    return f"Open today {opens}–{closes}"


@pytest.fixture(scope="module")
def server(broker, tmp_path_factory):
    work = tmp_path_factory.mktemp("kiosk-config")
    programme = work / "programme.toml"
    programme.write_text(PROGRAMME, encoding="utf-8")
    db = f"sqlite:///{work / 'privcard.db'}"
    from server.domain.config import load

    svc = open_service(db, prog=load(programme))
    svc.devices.add(DEVICE, "kiosk", location="Lobby", settings={"lang": "en"})
    close_store()
    srv = ServerProcess(db, broker.url, config=programme, log_dir=work)
    srv.start()
    yield srv
    srv.stop()


def test_idle_screen_shows_the_servers_library_name_todays_hours_and_language(xvfb, broker, server):
    kiosk = KioskProcess(xvfb.display, broker.url, device_id=DEVICE, lang="th")
    kiosk.start()
    try:
        deadline = time.monotonic() + 15
        t = kiosk.wait_for("idle")
        while time.monotonic() < deadline and t["ids"].get("idle_library") != NAME_EN:
            time.sleep(0.1)
            t = kiosk.texts()
        before, after = todays_hours(), None
        assert t["lang"] == "en", f"the kiosk did not switch to English from its config: {t}\n{kiosk.stderr()}"
        assert t["ids"]["idle_library"] == NAME_EN and t["ids"]["top_library"] == NAME_EN, t["ids"]
        after = todays_hours()
        assert t["ids"]["idle_hours"] in (before, after), (t["ids"]["idle_hours"], before)
        assert t["ids"]["idle_prompt"] == "Tap your card"
        assert kiosk.layout_problems() == []
        kiosk.screenshot("kiosk-config-from-server")
        kiosk.press("btn_lang")  # the Thai name came with it too
        th = kiosk.texts()
        assert th["lang"] == "th" and th["ids"]["idle_library"] == NAME_TH, th["ids"]
    finally:
        code = kiosk.stop()
    assert code == 0, f"the kiosk exited with {code}:\n{kiosk.stderr()}"
