"""The publisher logs a config or the allow-list as published only once the broker confirmed it.

Before, ``published allow-list version N (M cards)`` was logged even when the broker never
acknowledged that publish (the server had its connection, the broker did not answer): the log
said the devices had the new list while they did not, and ``privcard bench`` reads that line as
"the allow-list is out". Now a publish the broker did not confirm is said once, at INFO, as not
published yet (the next round sends it again, and says nothing more), and ``published …`` comes
when a round's publish is confirmed.

Real Mosquitto, frozen with SIGSTOP for a few publisher rounds: the server keeps its connection
(the keep-alive is 30 s), its publishes get no PUBACK. Real SQLite file.
"""

from __future__ import annotations

import logging
import re
import signal
import time

import pytest

from server import app, store
from server.app import PointsServer
from server.domain.config import load
from tests.helpers import close_store, open_service, until

pytestmark = pytest.mark.timeout(90)


def test_a_publish_the_broker_did_not_confirm_is_not_logged_as_published_and_said_once(
    mosquitto, tmp_db_url, monkeypatch, caplog
):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.devices.add("kiosk-1", "kiosk")
    svc.members.add("Somsak Frozen", "04C0FFEE31")
    close_store()
    monkeypatch.setattr(app, "PUBLISH_TIMEOUT_S", 0.5)  # the broker's answer is waited for half a second
    caplog.set_level(logging.DEBUG, logger="server.app")
    srv = PointsServer(tmp_db_url, mosquitto.url, load(None), client_id="privcard-unconfirmed", poll_s=0.05)
    srv.start()

    def said(text: str, since: float = 0.0) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "server.app" and r.levelno >= logging.INFO and r.created >= since and text in r.getMessage()
        ]

    def kiosk() -> tuple[int, int]:
        row = store.Device.get_by_id("kiosk-1")
        return row.revision, row.published_revision

    try:
        until(lambda: said("(1 cards)"), what="the first allow-list")
        until(lambda: len(set(kiosk())) == 1, what="the kiosk's first config")
        mosquitto.proc.send_signal(signal.SIGSTOP)  # the broker answers nothing; the connection stays up
        frozen = time.time()
        try:
            # on this thread's own connection to the server's database: a new card, a changed kiosk
            srv.service.members.add("Malee Waiting", "04C0FFEE32")
            store.Device.update(settings={}, revision=store.Device.revision + 1).where(
                store.Device.id == "kiosk-1"
            ).execute()
            revision = kiosk()[0]
            time.sleep(3.5)  # three rounds or so, each sending both and getting no answer
            assert srv.bus.connected.is_set()  # the server never saw the broker go: it just did not answer
            assert not [m for m in said("published allow-list version") if "(2 cards)" in m], said("allow-list")
            assert not said(f"published config of kiosk-1 (revision {revision})"), said("kiosk-1")
            (line,) = said("(2 cards) not published yet")
            version = int(re.match(r"allow-list version (\d+) ", line).group(1))
            assert kiosk() == (revision, revision - 1)
            # said once each, not once a round (each round sent both again: DEBUG); in either order (a round may
            # have started between the two changes)
            assert sorted(said("not published yet")) == [
                f"allow-list version {version} (2 cards) not published yet: the broker did not confirm it "
                "(the connection dropped, or no answer within 0.5 s); the next round sends it again",
                f"config of kiosk-1 (revision {revision}) not published yet: the broker did not confirm it "
                "(the connection dropped, or no answer within 0.5 s); the next round sends it again",
            ], said("not published")
            repeats = [r for r in caplog.records if "still not confirmed" in r.getMessage()]
            assert repeats and all(r.levelno == logging.DEBUG for r in repeats)
        finally:
            thawed = time.time()  # before the broker runs again: its first confirmations come right after
            mosquitto.proc.send_signal(signal.SIGCONT)
        until(lambda: said(f"published allow-list version {version} (2 cards)"), what="the list confirmed at last")
        until(lambda: kiosk() == (revision, revision), what="the kiosk's config confirmed at last")
        assert len(said(f"published allow-list version {version}", since=frozen)) == 1
        assert all(
            r.created >= thawed for r in caplog.records if f"published allow-list version {version}" in r.getMessage()
        )
        assert said(f"published config of kiosk-1 (revision {revision})", since=thawed)
    finally:
        if mosquitto.running:
            mosquitto.proc.send_signal(signal.SIGCONT)
        store.db.close()  # this thread's connection
        srv.stop()
