"""Two sites, A and B, for the tests of staff scoped to sites (issue 16): the programme's
sites, the staff accounts, a member at each site and the console app built on them.

One place for what ``tests/integration/test_sites_scope.py`` and the ``test_site_scope_*``
files share; each test file picks its accounts and devices.
"""

from __future__ import annotations

import copy
from datetime import UTC

from broker.contract import Tap
from server.domain import config
from server.services.sites import Scope
from tests.browser.web_support import ADMIN, sign_in
from tests.helpers import local_time

TWO_SITES = {
    "library": {"default_site": "A"},
    "sites": {
        "A": {"name_th": "หอสมุดกลาง", "name_en": "Central Library", "hours": {"default": "08:00-20:00"}},
        "B": {"name_th": "ห้องสมุดสาขา", "name_en": "Branch Library", "hours": {"default": "08:00-22:00"}},
    },
}
#: site B two hours ahead of A: "which day" differs late in A's evening
TWO_TIME_ZONES = copy.deepcopy(TWO_SITES)
TWO_TIME_ZONES["sites"]["B"]["timezone"] = "Asia/Tokyo"
#: A at UTC-12, B at UTC+14: at any hour of the real clock B is a day (or two) ahead of A
FAR_APART = copy.deepcopy(TWO_SITES)
FAR_APART["sites"]["A"]["timezone"] = "Etc/GMT+12"
FAR_APART["sites"]["B"]["timezone"] = "Etc/GMT-14"

ANNA = ("anna", "anna-password-1")  # admin of site A only
SAM = ("sam", "sam-password-22")  # staff of site A only
BEA = ("bea", "bea-password-333")  # staff of site B only
BEN = ("ben", "ben-password-333")  # admin of site B only
ROLES = {ANNA: ("admin", "A"), SAM: ("staff", "A"), BEA: ("staff", "B"), BEN: ("admin", "B")}
UID_A, UID_B = "04AAAA0000000001", "04BBBB0000000002"
UIDS = {"A": UID_A, "B": UID_B}
A, B = Scope(frozenset({"A"})), Scope(frozenset({"B"}))
#: the device each kind gets at each site: ``in-A``, ``counter-B``, ``kiosk-A``…
DEVICE_NAMES = {"gate": "in", "counter": "counter", "kiosk": "kiosk"}


def two_site_app(
    db_url: str,
    *,
    accounts: tuple = (),
    devices: tuple = (),
    overrides: dict = TWO_SITES,
    contact: bool = False,
    visits: bool = False,
):
    """The console app on two sites: the programme administrator plus ``accounts`` (from :data:`ROLES`),
    ``devices`` kinds at each site, a member at home at each (``app.members``: site → id; with
    ``contact``: an e-mail and patron id), and with ``visits`` an entrance at each site today.
    """
    from server.web import accounts as staff
    from server.web import create_app

    app = create_app(db_url, config.load(overrides=overrides), testing=True)
    app.config["WTF_CSRF_ENABLED"] = True
    staff.add_staff(ADMIN[0], "admin", ADMIN[1])
    for who in accounts:
        role, site = ROLES[who]
        staff.add_staff(who[0], role, who[1], sites=site)
    svc = app.extensions["privcard.service"]
    for site in ("A", "B"):
        for kind in devices:
            extra = {"direction": "in"} if kind == "gate" else {}
            svc.devices.add(f"{DEVICE_NAMES[kind]}-{site}", kind, site=site, **extra)
    app.members = {}
    for site, uid in UIDS.items():
        more = {"email": f"{site.lower()}@example.org", "patron_id": f"P-{site}"} if contact else {}
        app.members[site] = svc.members.add(f"Member {site}", uid, home_site=site, **more).id
    if visits:  # so reports have something per site
        at = local_time(svc.today(), 10)
        for site, uid in UIDS.items():
            r = svc.taps.decide(f"in-{site}", Tap(tap_id=f"t-{site}", uid=uid, at=at.astimezone(UTC), clock_ok=True))
            assert r.outcome in ("credited", "limit_reached")
    return app


def client(app, who):
    """A test client signed in as ``who``."""
    c = app.test_client()
    sign_in(c, who)
    return c


def token(who) -> dict:
    """An API bearer token's header for ``who``."""
    from server.web import accounts

    raw, _row = accounts.issue_token(who[0], "test")
    return {"Authorization": f"Bearer {raw}"}
