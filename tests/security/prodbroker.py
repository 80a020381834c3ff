"""A real Mosquitto running the *production* config (broker/mosquitto/mosquitto.conf + acl).

Only ports, file paths and the log destination are changed (``render_conf``): the
same auth, ACL, persistence, TCP_NODELAY and TLS settings as in production. The temp
directory holds generated certificates, the password file (written with
``broker.mosquitto.credentials``) and the persistence database. Used by the security
tests and by the chaos harness.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from broker.mosquitto import ACL_PATH, render_conf
from broker.mosquitto.access import write_devices
from broker.mosquitto.certs import make_pki
from broker.mosquitto.credentials import SERVER_USERNAME, new_password, set_entry
from tests.brokers import MosquittoBroker, free_port, wait_port


class ProductionMosquitto(MosquittoBroker):
    """``.url`` is the plain loopback listener, ``.tls_url`` the TLS one; ``.add_user()`` adds accounts."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        tls_port: int | None = None,
        port: int | None = None,
        autosave_interval: int | None = None,
    ):
        super().__init__(port=port, host=host)
        d = Path(self._dir)
        self.tls_port = tls_port or free_port(host)
        self.pki = make_pki(d / "certs", ["localhost", "127.0.0.1"], client="probe")
        self.passwd = d / "passwd"
        self.acl = d / "acl"
        shutil.copy(ACL_PATH, self.acl)
        (d / "data").mkdir()
        self.passwords: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        extra = f"autosave_interval {autosave_interval}\n" if autosave_interval is not None else ""
        self.conf.write_text(
            render_conf(
                plain_port=self.port,
                plain_host=host,
                tls_port=self.tls_port,
                tls_host=host,
                paths={
                    "password_file": str(self.passwd),
                    "acl_file": str(self.acl),
                    "persistence_location": f"{d / 'data'}/",
                    "cafile": str(self.pki.ca_cert),
                    "certfile": str(self.pki.server_cert),
                    "keyfile": str(self.pki.server_key),
                },
                log_dest="stderr",
                extra=extra,
            )
        )
        self.server_password = self.add_user(SERVER_USERNAME)
        self._own()

    def _own(self) -> None:
        """Mosquitto started as root drops to the mosquitto user: let it read and write the dir."""
        if os.geteuid() != 0:
            return
        try:
            pw = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for root, _dirs, files in os.walk(self._dir):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)

    def add_user(
        self, username: str, password: str | None = None, *, kind: str | None = None, reload: bool = True
    ) -> str:
        """Write a password entry and the device's ACL block (the production code paths); SIGHUP a running broker.

        ``kind`` is the device's kind (default: ``kiosk`` for names starting with ``kiosk``,
        else ``gate``); the server's account has no device block.
        """
        password = password or new_password()
        set_entry(self.passwd, username, password)
        self.passwords[username] = password
        if username != SERVER_USERNAME:
            self.kinds[username] = kind or ("kiosk" if username.startswith("kiosk") else "gate")
            write_devices(self.acl, self.kinds)
        self._own()
        if reload and self.running:
            self.reload()
        return password

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads the password file and ACL."""
        import signal
        import time

        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    def start(self, timeout: float = 10.0) -> ProductionMosquitto:
        super().start(timeout)
        if not wait_port(self.host, self.tls_port, timeout):
            raise RuntimeError(f"mosquitto TLS listener did not open on {self.tls_port}; log:\n{self.log()}")
        return self

    def user_url(self, username: str, *, tls: bool = False, v5: bool = False) -> str:
        """``mqtt[s]://user:pass@host:port`` for an account added with :meth:`add_user`."""
        pw = self.passwords[username]
        if tls:
            url = f"mqtts://{username}:{pw}@localhost:{self.tls_port}?ca={self.pki.ca_cert}"
            return url + ("&v=5" if v5 else "")
        return f"mqtt://{username}:{pw}@{self.host}:{self.port}" + ("?v=5" if v5 else "")

    @property
    def server_url(self) -> str:
        """The server account on the plain loopback listener."""
        return self.user_url(SERVER_USERNAME)


def site_broker(out: Path) -> ProductionMosquitto:
    """A site broker: ``out/mosquitto.conf``, ``acl`` and ``passwd`` as ``privcard admin site bridge`` wrote them,
    on free ports with its own dev certificates (only ports, paths and the log destination change)."""
    site = ProductionMosquitto()
    d = Path(site._dir)
    pki = make_pki(d / "site-certs", ["localhost", "127.0.0.1"], client="probe")
    shutil.copy(out / "passwd", site.passwd)
    shutil.copy(out / "acl", site.acl)
    site.conf.write_text(
        render_conf(
            (out / "mosquitto.conf").read_text(),
            plain_port=site.port,
            plain_host=site.host,
            tls_port=site.tls_port,
            tls_host=site.host,
            paths={
                "password_file": str(site.passwd),
                "acl_file": str(site.acl),
                "persistence_location": f"{d / 'data'}/",
                "cafile": str(pki.ca_cert),
                "certfile": str(pki.server_cert),
                "keyfile": str(pki.server_key),
            },
            log_dest="stderr",
        )
    )
    site._own()
    return site
