"""Shared fixtures: brokers on free ports, database URLs, and the loud-skip summary.

Fixtures:
- ``mosquitto`` — a Mosquitto process on a free port (fails, never skips, when the
  binary is missing); ``embedded_broker`` — the amqtt broker, same interface;
  ``bus`` — parametrized over both. Each has ``.url .host .port .start() .stop() .kill()``.
- ``tmp_db_url`` — ``sqlite:///<tmp>/privcard.db``.
- ``pg_url`` — PostgreSQL from ``PRIVCARD_TEST_PG`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``); skips loudly when unreachable and
  the terminal summary counts those skips.
- ``pg_template`` — the name of a migrated PostgreSQL database made once per session, for
  ``tests.helpers.fresh_pg_database(pg_url, template=pg_template)`` to copy; None when no
  PostgreSQL is reachable (``pg_url`` then skips).
- ``free_port`` is importable from ``tests.brokers``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The repo root on sys.path: the packages when privcard is not installed, and the
# ``tests`` namespace (tests.brokers) either way.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.brokers import EmbeddedTestBroker, running_mosquitto  # noqa: E402

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_SKIP_PREFIX = "PostgreSQL not reachable at"


@pytest.fixture
def mosquitto():
    """A Mosquitto broker of our own on a free port; stopped and removed afterwards."""
    with running_mosquitto() as broker:
        yield broker


@pytest.fixture(scope="module")
def broker():
    """A Mosquitto of the module's own, shared by its tests (the UI and browser modules)."""
    with running_mosquitto() as b:
        yield b


@pytest.fixture
def embedded_broker():
    """The embedded amqtt broker on a free port."""
    broker = EmbeddedTestBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(params=["mosquitto", "embedded"])
def bus(request):
    """Each broker in turn (the test runs once per broker)."""
    return request.getfixturevalue("mosquitto" if request.param == "mosquitto" else "embedded_broker")


@pytest.fixture
def tmp_db_url(tmp_path) -> str:
    """A fresh SQLite database file URL."""
    return f"sqlite:///{tmp_path / 'privcard.db'}"


def _pg_reachable(url: str) -> str | None:
    """None if we can connect, else why not."""
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (pip install 'privcard[postgres]')"
    try:
        conn = psycopg2.connect(url, connect_timeout=3)
        conn.close()
        return None
    except Exception as exc:  # any driver error means "not usable here"
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@pytest.fixture(scope="session")
def _pg_status():
    url = os.environ.get("PRIVCARD_TEST_PG", PG_DEFAULT)
    return url, _pg_reachable(url)


@pytest.fixture
def pg_url(_pg_status) -> str:
    """A reachable PostgreSQL URL, or a LOUD skip saying the multi-server tests did not run."""
    url, problem = _pg_status
    if problem:
        pytest.skip(
            f"{PG_SKIP_PREFIX} {url} ({problem}): the multi-server tests did not run. "
            "Set PRIVCARD_TEST_PG=postgresql://user@host:port/db to run them."
        )
    return url


@pytest.fixture(scope="session")
def pg_template(_pg_status):
    """A migrated database to copy for each test's own (``CREATE DATABASE … TEMPLATE``), dropped at the end."""
    url, problem = _pg_status
    if problem:
        yield None  # the test's pg_url skips, loudly
        return
    from tests.helpers import migrated_pg_template

    template = migrated_pg_template(url)
    try:
        yield template.create()
    finally:
        template.drop()


#: what a skip for a missing library says (``pytest.importorskip``'s own reason, or ours)
IMPORT_SKIP = ("could not import", "is not installed")
#: skips of tests whose library is not installed (``pytest.importorskip``), by node id
_import_skips: dict[str, str] = {}


def _note_import_skip(report) -> None:
    if report.skipped and any(words in str(getattr(report, "longrepr", "")) for words in IMPORT_SKIP):
        _import_skips[report.nodeid] = str(report.longrepr)


def pytest_collectreport(report):
    """A module skipped whole at collection (``importorskip`` at its top)."""
    _note_import_skip(report)


def pytest_runtest_logreport(report):
    _note_import_skip(report)


def pytest_sessionfinish(session, exitstatus):
    """Under ``make test`` (``PRIVCARD_TEST_STRICT=1``) a test skipped for a missing library fails the run:
    every library the tests import is installed by the test command (``.ci/bootstrap.sh``), so such a
    skip is a missing install step, never a reason to pass."""
    ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if _import_skips and os.environ.get("PRIVCARD_TEST_STRICT") == "1" and session.exitstatus in ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Make skipped PostgreSQL tests, and tests skipped for a missing library, impossible to miss."""
    if _import_skips:
        strict = os.environ.get("PRIVCARD_TEST_STRICT") == "1"
        terminalreporter.write_sep(
            "!",
            f"{len(_import_skips)} test(s) SKIPPED for a library that is not installed"
            + (": the run FAILS (PRIVCARD_TEST_STRICT=1, make test installs every one)" if strict else ""),
            red=True,
            bold=True,
        )
        for nodeid, why in sorted(_import_skips.items()):
            terminalreporter.write_line(f"  {nodeid}: {why[-200:]}", red=True)
    skipped = terminalreporter.stats.get("skipped", [])
    pg = [r for r in skipped if PG_SKIP_PREFIX in str(getattr(r, "longrepr", ""))]
    if pg:
        terminalreporter.write_sep(
            "!",
            f"{len(pg)} PostgreSQL test(s) SKIPPED: {PG_SKIP_PREFIX} {os.environ.get('PRIVCARD_TEST_PG', PG_DEFAULT)}",
            red=True,
            bold=True,
        )
