"""A real Patroni cluster on this machine: etcd, N PostgreSQL 15 nodes each under its own Patroni.

Used by the failover tests (tests/chaos/test_failover.py) and the chaos harness
(``--db patroni``). Everything runs on loopback, on free ports, in one temp directory:

- one ``etcd`` (Debian package ``etcd-server``) as Patroni's DCS (the v3 API);
- N ``patroni`` processes (Debian package ``patroni``), each bootstrapping or cloning a
  PostgreSQL 15 data directory with the machine's binaries (``/usr/lib/postgresql/15/bin``),
  run as the ``postgres`` user (``initdb`` refuses root).

The cluster runs with ``synchronous_mode: true`` — the setting docs/deployment.md asks
for: a commit returns only once the standby has it, and Patroni promotes only that
standby, so a tap the server answered (the gate then drops it from its outbox) survives
the primary's death. Timings are shortened for a test (``ttl`` 20 s — Patroni's minimum —
``loop_wait`` 1 s, ``retry_timeout`` 5 s); production keeps Patroni's defaults (30/10/10).

:meth:`PatroniCluster.kill_primary` is a machine crash: SIGKILL of the leader's Patroni
and then of its postmaster (Patroni starts PostgreSQL in its own session, so it would
outlive Patroni alone). :attr:`PatroniCluster.url` is the multi-host libpq URL the
server uses: ``postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/privcard?target_session_attrs=read-write``.

    python -m tests.chaos.patroni      # start a cluster, print its URL, kill the primary, show the failover
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.brokers import free_port, wait_port

PG_BIN = Path(os.environ.get("PRIVCARD_PG_BIN", "/usr/lib/postgresql/15/bin"))
RUN_AS = os.environ.get("PRIVCARD_PG_USER", "postgres")
DB_NAME = "privcard"


def missing() -> str | None:
    """What this machine lacks to run a cluster (None: nothing); a test's loud skip reason."""
    for tool in ("patroni", "etcd"):
        if not shutil.which(tool):
            return f"{tool} is not installed (apt-get install patroni etcd-server; .ci/bootstrap.sh test installs them)"
    if not (PG_BIN / "postgres").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql-15, or set PRIVCARD_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"no {RUN_AS!r} user to run PostgreSQL as (initdb refuses root)"
    return None


class Node:
    """One Patroni + PostgreSQL member."""

    def __init__(self, name: str, root: Path, pg_port: int, api_port: int):
        self.name = name
        self.dir = root / name
        self.pg_port = pg_port
        self.api_port = api_port
        self.proc: subprocess.Popen | None = None
        self.log_path = root / f"{name}.log"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def api(self, path: str = "patroni", timeout: float = 2.0) -> dict | None:
        """The node's REST API answer (None when it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/{path}", timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:  # 503 on a replica's /primary, still JSON
            try:
                return json.loads(exc.read())
            except ValueError:
                return None
        except (OSError, ValueError):
            return None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


class PatroniCluster:
    """etcd and ``nodes`` Patroni members; ``.url`` the server's multi-host URL."""

    def __init__(
        self, nodes: int = 2, *, scope: str = "privcard", ttl: int = 20, loop_wait: int = 1, retry_timeout: int = 5
    ):
        problem = missing()
        if problem:
            raise RuntimeError(problem)
        self.root = Path(tempfile.mkdtemp(prefix="privcard-patroni-"))
        self.scope = scope
        self.ttl, self.loop_wait, self.retry_timeout = ttl, loop_wait, retry_timeout
        self.etcd_port, self.etcd_peer = free_port(), free_port()
        self.etcd: subprocess.Popen | None = None
        self.nodes = [Node(f"pg{i}", self.root, free_port(), free_port()) for i in range(nodes)]
        self.killed: list[str] = []

    # ------------------------------------------------------------------ URLs

    @property
    def url(self) -> str:
        """The server's database URL: every node, and only a read-write session will do."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)
        return f"postgresql://postgres@{hosts}/{DB_NAME}?target_session_attrs=read-write&connect_timeout=3"

    def node_url(self, node: Node, db: str = DB_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{node.pg_port}/{db}"

    # ------------------------------------------------------------------ start

    def _chown(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam(RUN_AS)
        for root, dirs, files in os.walk(path):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for f in dirs + files:
                os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def _config(self, node: Node) -> str:
        sock = self.root / "sock"
        return json.dumps(  # JSON is YAML
            {
                "scope": self.scope,
                "name": node.name,
                "log": {"level": "INFO"},
                "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
                "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
                "bootstrap": {
                    "dcs": {
                        "ttl": self.ttl,
                        "loop_wait": self.loop_wait,
                        "retry_timeout": self.retry_timeout,
                        "maximum_lag_on_failover": 1048576,
                        # a commit waits for the standby; only the synchronous standby is promoted
                        "synchronous_mode": True,
                        "postgresql": {
                            "use_pg_rewind": True,
                            "parameters": {
                                "max_connections": 100,
                                "wal_level": "replica",
                                "hot_standby": "on",
                                "max_wal_senders": 5,
                                "max_replication_slots": 5,
                                "wal_keep_size": "128MB",
                                "synchronous_commit": "on",
                            },
                        },
                    },
                    "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
                    "pg_hba": [
                        "local all all trust",
                        "host all all 127.0.0.1/32 trust",
                        "host replication replicator 127.0.0.1/32 trust",
                    ],
                },
                "postgresql": {
                    "listen": f"127.0.0.1:{node.pg_port}",
                    "connect_address": f"127.0.0.1:{node.pg_port}",
                    "data_dir": str(node.data_dir),
                    "bin_dir": str(PG_BIN),
                    "pgpass": str(node.dir / "pgpass"),
                    # a replica is cloned at once, not after a spread checkpoint
                    "basebackup": [{"checkpoint": "fast"}],
                    "authentication": {
                        "superuser": {"username": "postgres", "password": "postgres"},
                        "replication": {"username": "replicator", "password": "replicator"},
                    },
                    "parameters": {
                        "unix_socket_directories": str(sock),
                        "shared_buffers": "64MB",
                        "fsync": "on",
                    },
                },
                "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
            },
            indent=1,
        )

    def start(self, timeout: float = 90.0) -> PatroniCluster:
        (self.root / "sock").mkdir()
        (self.root / "etcd").mkdir()
        self.etcd = subprocess.Popen(
            [
                "etcd",
                "--name",
                "dcs",
                "--data-dir",
                str(self.root / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{self.etcd_peer}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{self.etcd_peer}",
                "--initial-cluster",
                f"dcs=http://127.0.0.1:{self.etcd_peer}",
            ],
            stdout=open(self.root / "etcd.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_port("127.0.0.1", self.etcd_port, 20):
            raise RuntimeError(f"etcd did not open {self.etcd_port}:\n{self.log('etcd')}")
        for node in self.nodes:
            node.dir.mkdir()
            (node.dir / "patroni.yml").write_text(self._config(node))
        self._chown(self.root)
        # the first node bootstraps (initdb); the others clone it with pg_basebackup
        self._start_node(self.nodes[0])
        self.wait_leader(timeout)
        with_db = self._psql(self.nodes[0], f"CREATE DATABASE {DB_NAME}")
        if with_db.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE failed: {with_db.stderr}")
        for node in self.nodes[1:]:
            self._start_node(node)
        self.wait_healthy(timeout)
        return self

    def _start_node(self, node: Node) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(node.dir),
            "LANG": "C.UTF-8",
            "PGHOST": str(self.root / "sock"),
        }
        kw = {"user": RUN_AS} if os.geteuid() == 0 else {}
        node.proc = subprocess.Popen(
            ["patroni", str(node.dir / "patroni.yml")],
            stdout=open(node.log_path, "ab"),
            stderr=subprocess.STDOUT,
            cwd=str(node.dir),
            env=env,
            start_new_session=True,
            **kw,
        )

    def _psql(self, node: Node, sql: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(node.pg_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    # ------------------------------------------------------------------ state

    def members(self) -> list[dict]:
        """``/cluster`` from any live node: name, role (leader, sync_standby, replica), state, lag."""
        for node in self.nodes:
            if node.alive:
                info = node.api("cluster")
                if info and "members" in info:
                    return info["members"]
        return []

    def leader(self) -> Node | None:
        for m in self.members():
            if m.get("role") == "leader" and m.get("state") == "running":
                return next((n for n in self.nodes if n.name == m["name"]), None)
        return None

    def wait_leader(self, timeout: float = 60.0, *, not_: str | None = None) -> Node:
        """Wait until a node (other than ``not_``) leads and accepts writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.leader()
            if node is not None and node.name != not_ and node.alive:
                r = self._psql(node, "SELECT NOT pg_is_in_recovery()")
                if r.returncode == 0 and r.stdout.strip() == "t":
                    return node
            time.sleep(0.2)
        raise RuntimeError(f"no leader after {timeout:.0f} s; members {self.members()}\n{self.logs()}")

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Wait until every live node runs and one is the synchronous standby (commits are replicated)."""
        deadline = time.monotonic() + timeout
        live = {n.name for n in self.nodes if n.alive}
        while time.monotonic() < deadline:
            ms = {m["name"]: m for m in self.members()}
            if (
                set(ms) >= live
                and all(ms[n].get("state") in ("running", "streaming") for n in live)
                and (len(live) == 1 or any(m.get("role") == "sync_standby" for m in ms.values()))
            ):
                return
            time.sleep(0.3)
        raise RuntimeError(f"cluster not healthy after {timeout:.0f} s: {self.members()}\n{self.logs()}")

    # ------------------------------------------------------------------ faults

    def kill_primary(self) -> Node:
        """SIGKILL the leader's Patroni, then its postmaster (a machine crash); the node killed."""
        node = self.leader()
        if node is None:
            raise RuntimeError(f"no leader to kill: {self.members()}")
        pid = node.postmaster_pid()
        os.killpg(node.proc.pid, signal.SIGKILL)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node.proc.wait(10)
        self.killed.append(node.name)
        return node

    # ------------------------------------------------------------------ logs and stop

    def log(self, name: str, tail: int = 40) -> str:
        path = self.root / f"{name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])
        except OSError:
            return ""

    def logs(self, tail: int = 25) -> str:
        return "\n".join(f"--- {n.name}\n{self.log(n.name, tail)}" for n in self.nodes)

    def close(self) -> None:
        for node in self.nodes:
            if node.alive:
                try:
                    os.killpg(node.proc.pid, signal.SIGTERM)
                    node.proc.wait(20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(node.proc.pid, signal.SIGKILL)
            pid = node.postmaster_pid()
            if pid:
                try:
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown of a postmaster left behind
                except ProcessLookupError:
                    pass
        if self.etcd and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(10)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
        time.sleep(0.5)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PatroniCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def main() -> int:
    with PatroniCluster() as c:
        print("members:", json.dumps(c.members(), indent=1))
        print("url:", c.url)
        t0 = time.monotonic()
        old = c.kill_primary()
        new = c.wait_leader(120, not_=old.name)
        print(f"killed {old.name}; {new.name} leads after {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
