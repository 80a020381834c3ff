"""Mosquitto production files: ``mosquitto.conf``, ``acl``, device credentials, a dev CA.

- ``mosquitto.conf`` / ``acl`` — the production broker config (no anonymous access,
  passwords, per-device ACL, persistence, TLS on 8883); see docs/deployment.md.
- :mod:`broker.mosquitto.credentials` — Mosquitto password-file entries and the
  settings a device needs to use one (the staff command that issues them,
  ``privcard admin device credentials ID``, is :mod:`server.broker_accounts`).
- :mod:`broker.mosquitto.certs` — a development CA and server certificate (openssl).

:func:`render_conf` rewrites the production config for another place (tests run it
on free ports in a temp directory; packagers can point it at other paths).
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF_PATH = HERE / "mosquitto.conf"
ACL_PATH = HERE / "acl"

#: production paths in mosquitto.conf, by directive
PRODUCTION_PATHS = {
    "password_file": "/etc/mosquitto/privcard/passwd",
    "acl_file": "/etc/mosquitto/privcard/acl",
    "persistence_location": "/var/lib/mosquitto/",
    "cafile": "/etc/mosquitto/privcard/ca.pem",
    "certfile": "/etc/mosquitto/privcard/server.pem",
    "keyfile": "/etc/mosquitto/privcard/server.key",
}


def production_conf() -> str:
    """The production mosquitto.conf text."""
    return CONF_PATH.read_text()


def production_acl() -> str:
    """The production ACL text."""
    return ACL_PATH.read_text()


def render_conf(
    text: str | None = None,
    *,
    plain_port: int | None = None,
    plain_host: str | None = None,
    tls_port: int | None = None,
    tls_host: str | None = None,
    paths: dict | None = None,
    log_dest: str | None = None,
    extra: str = "",
) -> str:
    """The production config with other ports, listener addresses, file paths or log destination.

    Only the values of existing directives change (and ``extra`` is appended), so what
    runs is the production config, not a look-alike. Raises ValueError if a directive to
    change is missing.
    """
    text = production_conf() if text is None else text
    lines = text.splitlines()
    seen = set()
    out = []
    for line in lines:
        words = line.split()
        if words and not line.lstrip().startswith("#"):
            key = words[0]
            if key == "listener" and len(words) >= 2:
                if words[1] == "1883" and (plain_port or plain_host):
                    line = (
                        f"listener {plain_port or 1883} {plain_host or (words[2] if len(words) > 2 else '')}".rstrip()
                    )
                    seen.add("plain")
                elif words[1] == "8883" and (tls_port or tls_host):
                    line = f"listener {tls_port or 8883} {tls_host or (words[2] if len(words) > 2 else '')}".rstrip()
                    seen.add("tls")
            elif paths and key in paths:
                line = f"{key} {paths[key]}"
                seen.add(key)
            elif log_dest and key == "log_dest":
                line = f"log_dest {log_dest}"
                seen.add("log_dest")
        out.append(line)
    wanted = (
        set(paths or ())
        | ({"plain"} if plain_port or plain_host else set())
        | ({"tls"} if tls_port or tls_host else set())
        | ({"log_dest"} if log_dest else set())
    )
    missing = wanted - seen
    if missing:
        raise ValueError(f"mosquitto.conf has no directive(s) {', '.join(sorted(missing))} to change")
    return "\n".join(out) + "\n" + (extra if extra.endswith("\n") or not extra else extra + "\n")


def directives(text: str) -> list[tuple[str, str]]:
    """(directive, value) pairs of a config, comments dropped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        out.append((key, re.sub(r"\s+", " ", value.strip())))
    return out


__all__ = [
    "ACL_PATH",
    "CONF_PATH",
    "PRODUCTION_PATHS",
    "directives",
    "production_acl",
    "production_conf",
    "render_conf",
]
