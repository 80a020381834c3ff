"""Mosquitto password-file entries and the settings a device needs to use one.

Mosquitto 2.x stores ``username:$7$ITERATIONS$SALT$HASH`` per line: PBKDF2-HMAC-SHA512,
101 iterations, a 12-byte random salt and a 64-byte hash, both base64 — exactly what
``mosquitto_passwd`` writes. We compute it with :func:`hashlib.pbkdf2_hmac` (standard
library), so the password never appears on a command line (``mosquitto_passwd -b``
would show it in ``ps``) and no Mosquitto tools are needed on the admin host; the
tests check that a real Mosquitto accepts these entries and that we verify entries
``mosquitto_passwd`` made.

:func:`make_credentials` writes (or replaces) a device's entry with a fresh random
password and returns the ``--mqtt`` URL and the env file the device's systemd unit
needs. Mosquitto reads the password file at start and on SIGHUP
(``systemctl reload mosquitto``). This module is file format only and imports nothing
above ``broker``; the staff command that checks the device is registered and writes the
audit row, ``privcard admin device credentials ID``, is :mod:`server.broker_accounts`.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from broker import contract
from broker.contract import ContractError, TemplatedError

DEFAULT_PASSWORD_FILE = os.environ.get("PRIVCARD_MQTT_PASSWORD_FILE", "/etc/mosquitto/privcard/passwd")
DEFAULT_BROKER_URL = os.environ.get("PRIVCARD_BROKER_URL", "mqtts://localhost:8883?ca=/etc/privcard/ca.pem")
#: the server's MQTT account (see the ACL); devices may not take this name
SERVER_USERNAME = "privcard-server"
RESERVED = {SERVER_USERNAME}
ITERATIONS = 101  # what mosquitto_passwd uses
SALT_BYTES = 12


class CredentialsError(TemplatedError, ValueError):
    """A password file that cannot be read or written, or a bad username."""


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """Mosquitto's ``$7$`` PBKDF2-SHA512 form of a password."""
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a ``$7$`` (PBKDF2-SHA512) or ``$6$`` (salted SHA512) entry."""
    parts = encoded.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            iterations, salt, want = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
            got = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
            return hmac.compare_digest(got, want)
        if len(parts) == 4 and parts[1] == "6":  # Mosquitto 1.x
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            return hmac.compare_digest(hashlib.sha512(password.encode("utf-8") + salt).digest(), want)
    except (ValueError, TypeError):
        return False
    return False


def check_username(username: str) -> str:
    """A device username is its device id: 1–64 of [A-Za-z0-9_-] (so ``%u`` in the ACL is safe)."""
    try:
        return contract.check_device_id(username)
    except ContractError as exc:
        raise CredentialsError(exc.template, **exc.values) from None


def read_entries(path: str | Path) -> dict[str, str]:
    """username -> encoded password of an existing file ({} if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError("cannot read password file %(path)s: %(error)s", path=path, error=str(exc)) from None
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if ":" not in line:
            raise CredentialsError("%(path)s line %(line)s is not username:hash", path=path, line=n)
        user, encoded = line.split(":", 1)
        out[user] = encoded
    return out


def set_entry(path: str | Path, username: str, password: str) -> bool:
    """Write (or replace) ``username``'s entry atomically; True if it replaced one.

    Keeps the other lines, the file's mode and owner; a new file is 0640 and, when the
    ``mosquitto`` group exists and we may, group ``mosquitto`` (the broker drops root).
    """
    path = Path(path)
    entries = read_entries(path)
    replaced = username in entries
    entries[username] = hash_password(password)
    _write_entries(path, entries)
    return replaced


def remove_entry(path: str | Path, username: str) -> bool:
    """Remove ``username``'s entry atomically (a retired device); True if there was one."""
    path = Path(path)
    if not path.exists():
        return False
    entries = read_entries(path)
    if entries.pop(username, None) is None:
        return False
    _write_entries(path, entries)
    return True


def _write_entries(path: Path, entries: dict[str, str]) -> None:
    """Replace the file's lines, keeping its mode and owner (a new file: 0640, group mosquitto)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        st = path.stat()
        mode, uid, gid = st.st_mode & 0o777, st.st_uid, st.st_gid
    else:
        mode, uid, gid = 0o640, os.getuid(), os.getgid()
        try:
            gid = grp.getgrnam("mosquitto").gr_gid
        except KeyError:
            pass
    body = "".join(f"{user}:{encoded}\n" for user, encoded in entries.items())
    fd, tmp = tempfile.mkstemp(prefix=".passwd-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        try:
            os.chown(tmp, uid, gid)
        except PermissionError:
            pass
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CredentialsError("cannot write password file %(path)s: %(error)s", path=path, error=str(exc)) from None


def new_password() -> str:
    """A random password (URL-safe, 32 characters, ~190 bits)."""
    return secrets.token_urlsafe(24)


def device_url(broker_url: str, username: str, password: str) -> str:
    """The broker URL with the device's username and password in it (query kept)."""
    parts = urlsplit(broker_url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise CredentialsError("broker URL must be mqtt[s]://host[:port][?ca=...], got %(url)r", url=broker_url)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    q = ("?" + urlencode(query, safe="/:")) if query else ""
    return f"{parts.scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{host}{port}{q}"


def make_credentials(
    username: str, password_file: str | Path, broker_url: str, *, server: bool = False, password: str | None = None
) -> dict:
    """Create the entry and return everything the device (or server) needs."""
    username = SERVER_USERNAME if server else check_username(username)
    if not server and username in RESERVED:
        raise CredentialsError("%(user)r is the server's account; a device cannot use it", user=username)
    password = password or new_password()
    replaced = set_entry(password_file, username, password)
    url = device_url(broker_url, username, password)
    # privcard server and privcard gate both read PRIVCARD_MQTT as their --mqtt default; the
    # systemd units (hardware/deploy/) load /etc/privcard/server.env and /etc/privcard/<id>.env.
    env = {"PRIVCARD_MQTT": url}
    env_path = "/etc/privcard/server.env" if server else f"/etc/privcard/{username}.env"
    unit = "privcard-server.service" if server else f"privcard-gate@{username}.service"
    return {
        "username": username,
        "password": password,
        "password_file": str(password_file),
        "replaced": replaced,
        "mqtt_url": url,
        "env": env,
        "env_path": env_path,
        "env_file": f"# {env_path} (mode 0600) for {unit}\n" + "".join(f"{k}={v}\n" for k, v in env.items()),
        "reload": "systemctl reload mosquitto   # or: kill -HUP $(pidof mosquitto)",
    }


__all__ = [
    "DEFAULT_BROKER_URL",
    "DEFAULT_PASSWORD_FILE",
    "SERVER_USERNAME",
    "CredentialsError",
    "check_username",
    "device_url",
    "hash_password",
    "make_credentials",
    "new_password",
    "read_entries",
    "remove_entry",
    "set_entry",
    "verify_password",
]
