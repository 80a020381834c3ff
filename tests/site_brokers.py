"""The central side of bridged sites, and the site brokers the tests start (real processes).

:class:`Centre` is what a central server holds: a Mosquitto with the production config
(``tests.security.prodbroker.ProductionMosquitto``), a library TOML with its sites, a
SQLite database, ``privcard admin site bridge SITE`` run on the broker's own password file
and ACL, and a ``privcard server`` on the broker. It also starts the site brokers (the
config ``site bridge --out`` wrote, :meth:`Centre.site_broker`, or the one ``privcard
setup site-broker --root`` wrote, :meth:`Centre.site_broker_from_setup`) and stops
everything it started, in reverse order::

    with Centre(tmp_path, SITES_TOML) as centre:
        centre.add_devices({"n1": ("gate", "NORTH")})
        out = centre.bridge("NORTH")
        north = centre.site_broker(out)
        centre.start_server()

Used by tests/security/test_site_bridge.py, test_site_broker_setup.py,
tests/chaos/bridge_bench.py and tests/system/test_booted_site_broker.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

from broker.mosquitto import render_conf
from broker.mosquitto.certs import make_pki
from tests.helpers import ServerProcess, close_store, open_service, run_admin

#: two sites of one library (the site-broker tests bridge NORTH; SOUTH's devices must stay off it)
TWO_SITES_TOML = """
[library]
default_site = "NORTH"
[sites.NORTH]
name_th = "หอสมุดเหนือ"
name_en = "North Library"
[sites.SOUTH]
name_th = "หอสมุดใต้"
name_en = "South Library"
"""


class Centre:
    """The central broker, the library's sites and database, the server, and the site brokers started from it.

    ``names``: the host names and addresses the central broker's certificate names (default
    localhost and 127.0.0.1; a booted site broker reaches it by a name of its own).
    """

    def __init__(self, workdir: Path, sites_toml: str, *, host: str = "127.0.0.1", names: list[str] | None = None):
        from tests.security.prodbroker import ProductionMosquitto

        self.workdir = Path(workdir)
        self.lib = self.workdir / "library.toml"
        self.lib.write_text(sites_toml)
        self.db = f"sqlite:///{self.workdir / 'privcard.db'}"
        self.broker = ProductionMosquitto(host=host)
        if names:
            # the server certificate again, naming them (the CA is kept)
            make_pki(Path(self.broker._dir) / "certs", names, client="probe")
            self.broker._own()
        self.server: ServerProcess | None = None
        self.sites: list = []

    # -- the central server's side
    def start(self) -> Centre:
        self.broker.start()
        return self

    def admin(self, *args: str):
        """``privcard admin --db DB --config library.toml ARGS``: its JSON (or text); AssertionError if it fails."""
        code, out = run_admin(self.db, "--config", str(self.lib), *args)
        assert code == 0, f"privcard admin {' '.join(args)}: {out}"
        return out

    def add_devices(self, devices: dict[str, tuple[str, str]]) -> None:
        """Register devices: id -> (kind, site)."""
        for device_id, (kind, site) in devices.items():
            self.admin("device", "add", device_id, "--kind", kind, "--site", site)

    def add_members(self, cards: dict[str, str]) -> None:
        """Members by card UID -> name (one store session)."""
        svc = open_service(self.db)
        try:
            for uid, name in cards.items():
                svc.members.add(name, card=uid)
        finally:
            close_store()

    def bridge(
        self,
        site: str,
        *,
        central: str | None = None,
        bundle: Path | None = None,
        reload: bool = True,
    ) -> Path:
        """``privcard admin site bridge SITE`` on the central broker's files; the ``--out`` directory.

        ``central``: the address the site broker dials (default the central TLS listener on
        127.0.0.1); ``bundle``: also write the bundle ``setup site-broker`` reads. The broker
        re-reads its accounts and ACL unless ``reload=False`` (many sites: :meth:`reload` once).
        """
        out = self.workdir / f"site-{site.lower()}"
        args = ["site", "bridge", site, "--central", central or f"127.0.0.1:{self.broker.tls_port}"]
        args += ["--out", str(out), "--password-file", str(self.broker.passwd), "--acl-file", str(self.broker.acl)]
        if bundle:
            args += ["--bundle", str(bundle), "--central-ca", str(self.broker.pki.ca_cert)]
        else:
            args += ["--cafile", str(self.broker.pki.ca_cert)]
        self.admin(*args)
        if reload:
            self.reload()
        return out

    def reload(self) -> None:
        """The central broker re-reads the password file and ACL the admin command wrote."""
        self.broker._own()
        if self.broker.running:
            self.broker.reload()

    def start_server(self, timeout: float = 30.0) -> ServerProcess:
        self.server = ServerProcess(self.db, self.broker.server_url, config=self.lib, log_dir=self.workdir)
        self.server.start(timeout=timeout)
        return self.server

    def parts(self, **more) -> dict:
        """What a fixture hands its tests: the central broker, the server, the database URL, the TOML, and ``more``."""
        return {"central": self.broker, "server": self.server, "db": self.db, "lib": self.lib, **more}

    # -- site brokers
    def site_broker(self, out: Path):
        """A site broker running the config ``site bridge --out`` wrote, started (stopped by :meth:`close`)."""
        from tests.security.prodbroker import site_broker

        return self._started(site_broker(out))

    def site_broker_from_setup(self, root: Path):
        """A site broker running the config ``privcard setup site-broker --root root`` wrote, started.

        :meth:`site_broker` on it (only the ports, the file paths and the log destination
        change), with setup's certificates instead of the dev ones, and the centre's CA.
        """
        from tests.security.prodbroker import site_broker

        etc = root / "etc/mosquitto/privcard"
        out = self.workdir / f"setup-{len(self.sites)}"
        out.mkdir()
        shutil.copy(root / "etc/mosquitto/conf.d/privcard.conf", out / "mosquitto.conf")
        for name in ("passwd", "acl"):
            shutil.copy(etc / name, out / name)
        site = site_broker(out)
        d = Path(site._dir)
        for name in ("ca.pem", "server.pem", "server.key"):  # over site_broker's own dev certificates
            shutil.copy(etc / name, d / "site-certs" / name)
        shutil.copy(etc / "central-ca.pem", d / "central-ca.pem")
        site.conf.write_text(render_conf(site.conf.read_text(), paths={"bridge_cafile": str(d / "central-ca.pem")}))
        site._own()
        return self._started(site)

    def _started(self, site):
        self.sites.append(site)
        return site.start()

    # -- teardown
    def close(self) -> None:
        """Stop the server, the site brokers and the central broker (whatever was started)."""
        if self.server is not None:
            self.server.kill()
            self.server = None
        for site in reversed(self.sites):
            site.close()
        self.sites.clear()
        self.broker.close()

    def __enter__(self) -> Centre:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def device_url(out: Path, device_id: str, site) -> str:
    """A device's URL from the env file ``site bridge --out`` wrote, pointed at ``site``'s plain listener."""
    env = (out / "devices" / f"{device_id}.env").read_text()
    url = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("PRIVCARD_MQTT="))
    parts = urlsplit(url)
    return f"mqtt://{parts.username}:{parts.password}@{site.host}:{site.port}"
