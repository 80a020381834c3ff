"""A PostgreSQL failover as the server sees it, on a real PostgreSQL (docs/deployment.md "Many libraries").

The whole failover (a two-node Patroni cluster, the primary SIGKILLed under load) is
tests/chaos/test_failover.py; these are its two building blocks on the test database:

- a multi-host URL (``postgresql://h1:p1,h2:p2/db?target_session_attrs=read-write``)
  is accepted and libpq skips a host that is down;
- a write that reaches a server that cannot write (SQLSTATE 25006, what a standby or a
  demoted primary answers) is an infrastructure error: retried after a reconnect, not
  given up on as a bug.
"""

from __future__ import annotations

import peewee as pw
import pytest

from server import store
from server.services import retry
from tests.brokers import free_port
from tests.helpers import close_store, fresh_pg_database, open_service

pytestmark = pytest.mark.postgres


def _hostport(url: str) -> tuple[str, int]:
    host, port = store.pg_hosts(url)
    return host or "127.0.0.1", int(port)


def test_a_multi_host_url_skips_a_host_that_is_down_and_finds_the_writable_one(pg_url, pg_template):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        host, port = _hostport(url)
        user = store.make_database(url).connect_params["user"] or "postgres"
        dbname = url.rsplit("/", 1)[1].split("?")[0]
        dead = free_port()  # nothing listens there: connection refused, libpq tries the next host
        multi = f"postgresql://{user}@127.0.0.1:{dead},{host}:{port}/{dbname}?target_session_attrs=read-write"
        svc = open_service(multi)
        try:
            member = svc.members.add("Failover Test", card="04AA55CC0011")
            assert store.db.connect_params["host"] == f"127.0.0.1,{host}"
            assert store.db.execute_sql("SELECT NOT pg_is_in_recovery()").fetchone()[0] is True
            assert svc.members.find(member.id).name == "Failover Test"
        finally:
            close_store()


def test_a_write_refused_as_read_only_is_retried_not_given_up_on(pg_url, pg_template):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        open_service(url)
        try:
            store.db.close()
            # the session a standby gives: every transaction read-only
            store.db.connect()
            store.db.execute_sql("SET default_transaction_read_only = on")
            with pytest.raises(pw.DatabaseError) as refused:
                with retry.unit_of_work():
                    store.Counter.insert(key="failover-probe", value=1).execute()
            assert retry.is_read_only(refused.value) and retry.is_infrastructure(refused.value)
            # the retry closes the connection; the next attempt's session can write again
            attempts = []

            def write():
                attempts.append(1)
                if len(attempts) == 1:
                    store.db.execute_sql("SET default_transaction_read_only = on")
                with retry.unit_of_work():
                    store.Counter.insert(key="failover-probe", value=1).execute()
                return store.counter("failover-probe")

            assert retry.retry(write, pause=lambda delay: False) == (True, 1)
            assert len(attempts) == 2
        finally:
            close_store()


def test_the_documented_unix_socket_url_opens_the_service(pg_url, pg_template):
    """docs/deployment.md's same-host URL (``postgresql://privcard@/privcard?host=/var/run/postgresql``): the
    host in the query, none in the netloc. It raised a TypeError before the service opened."""
    with fresh_pg_database(pg_url, template=pg_template) as url:
        host, port = _hostport(url)
        user = store.make_database(url).connect_params["user"] or "postgres"
        dbname = url.rsplit("/", 1)[1].split("?")[0]
        probe = store.make_database(url)
        sockets = probe.execute_sql("SHOW unix_socket_directories").fetchone()[0]
        probe.close()
        if not sockets or host not in ("127.0.0.1", "localhost"):
            pytest.skip(f"the PostgreSQL at {host}:{port} is not on this machine or has no Unix socket: not tried")
        socket_dir = sockets.split(",")[0].strip()
        svc = open_service(f"postgresql://{user}@/{dbname}?host={socket_dir}&port={port}")
        try:
            member = svc.members.add("Socket Test", card="04AA55CC0022")
            assert store.db.connect_params["host"] == socket_dir
            # a Unix-socket session: PostgreSQL sees no client address
            assert store.db.execute_sql("SELECT inet_client_addr()").fetchone()[0] is None
            assert svc.members.find(member.id).name == "Socket Test"
        finally:
            close_store()
