"""The one retry policy (server.services.retry): only infrastructure errors are retried, with back-off."""

from __future__ import annotations

import peewee as pw
import pytest

from server.services import retry
from tests.helpers import close_store, open_service


@pytest.fixture(autouse=True)
def bound_store():
    open_service("sqlite:///:memory:")  # retry closes the connection before each wait
    yield
    close_store()


def test_infrastructure_errors_are_retried_with_doubling_back_off_until_they_end():
    failures, waits = iter([pw.OperationalError("unable to open database file")] * 7 + [pw.InterfaceError("gone")]), []

    def operation():
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return "done"

    assert retry.retry(operation, pause=lambda delay: waits.append(delay) and False) == (True, "done")
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]  # capped at 10 s


def test_stopping_during_a_back_off_gives_up_without_a_result():
    def down():
        raise pw.OperationalError("down")

    assert retry.retry(down, pause=lambda delay: True) == (False, None)


def test_any_other_error_is_not_retried():
    calls = []

    def bug():
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        retry.retry(bug, pause=lambda delay: pytest.fail("a bug must not be waited out"))
    assert calls == [1]
    assert retry.is_infrastructure(pw.OperationalError()) and not retry.is_infrastructure(pw.IntegrityError())


def test_a_busy_database_is_tried_again_at_least_every_second_and_logged_once(caplog):
    """Another writer's lock (a staff import) is not an outage: taps resume soon after it goes."""
    failures, waits = iter([pw.OperationalError("database is locked")] * 8), []

    def operation():
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return "done"

    caplog.set_level("INFO", logger="server.services.retry")
    assert retry.retry(operation, pause=lambda delay: waits.append(delay) and False) == (True, "done")
    assert waits == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # when it starts and when it ends, not once per attempt
    assert not any(r.exc_info for r in caplog.records)  # tracebacks only at debug level


def test_a_read_only_server_after_a_failover_is_infrastructure_but_other_internal_errors_are_not():
    """A write that reached a standby or a demoted primary is retried after a reconnect (docs/deployment.md)."""
    psycopg2_errors = pytest.importorskip("psycopg2.errors", reason="psycopg2 is not installed (privcard[postgres])")
    wrapped = pw.InternalError(
        psycopg2_errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")
    )
    assert retry.is_infrastructure(wrapped)
    assert not retry.is_infrastructure(pw.InternalError(psycopg2_errors.DivisionByZero("division by zero")))
    assert not retry.is_infrastructure(pw.IntegrityError("duplicate key"))
    failures, waits = iter([wrapped, pw.InterfaceError("connection already closed")]), []

    def operation():
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return "done"

    assert retry.retry(operation, pause=lambda delay: waits.append(delay) and False) == (True, "done")
    assert waits == [0.2, 0.4]
