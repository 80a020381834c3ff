"""Site brokers bridged to the central broker: the bridge config and the central ACL's site section.

A site (a library building on its own network, docs/deployment.md "Many libraries") may
run its own Mosquitto: its devices connect to it, and a Mosquitto *bridge* carries their
topics to the central broker over TLS with the site's own account ``bridge-<SITE>``.

The topic scheme stays ``privcard/dev/<device id>/<kind>`` (no site prefix: devices,
server and ACL keep one scheme whether a site is bridged or not), so the bridge names its
devices one by one:

- **out** (site → centre): exactly what each device's kind may send
  (:data:`broker.contract.CAPABILITIES`: a gate's ``tap`` and ``status``, …);
- **in** (centre → site): each device's ``result`` and ``config`` (and ``answer`` for a kind
  that may query), and the retained allow-list.

The bridge config only says what the site *forwards*; what the centre *accepts* is its ACL:
:func:`site_rules` gives the bridge account ``topic write`` on its own devices' topics
and nothing else, so a site broker (or whoever holds its password) cannot publish as
another site's device — the central broker drops it and the server never sees it. The
section sits between its own two marker lines at the end of the central ACL
(:func:`write_sites`), next to the device section of :mod:`broker.mosquitto.access`.

Queueing during an outage of the link: the site broker keeps the bridge's messages
(``cleansession false``, ``local_cleansession false``, QoS 1, ``max_queued_messages``), the
central broker keeps the bridge's session for the results, and every gate's outbox resends
until it has its result; the server deduplicates on ``tap_id``.

The staff command is ``privcard admin site bridge SITE --central HOST:PORT``
(:mod:`server.broker_accounts`); with ``--bundle FILE`` it also writes a :class:`Bundle` (the
bridge account, the centre's CA, the site's devices and their passwords) that ``privcard
setup site-broker --bundle FILE`` (:mod:`install.roles`) installs on the site broker's
machine. The site broker publishes its bridge's state on :func:`state_topic`, which its
monitoring account (:data:`MONITOR_USER`, ``privcard doctor``) may read. This module is text
only and imports nothing above ``broker``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from broker import contract
from broker.contract import TemplatedError
from broker.mosquitto import ACL_PATH, access, production_conf

BEGIN = "# BEGIN privcard site bridges: written by `privcard admin site bridge`; edits between these lines are lost"
END = "# END privcard site bridges"
USER_PREFIX = "bridge-"
#: what the site broker calls its connection to the centre
CONNECTION = "privcard-central"
PROTOCOLS = {"mqttv50": "mqttv50", "5": "mqttv50", "mqttv311": "mqttv311", "3.1.1": "mqttv311", "311": "mqttv311"}
SITE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
HOSTPORT_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


class BridgeError(TemplatedError, ValueError):
    """A site code, address or file the bridge cannot use."""


def username(site: str) -> str:
    """The site bridge's MQTT account on the central broker: ``bridge-<SITE>``."""
    if not SITE_RE.match(site or ""):
        raise BridgeError("site code must be 1-16 of A-Z, 0-9, _ starting with a letter, got %(site)r", site=site)
    return USER_PREFIX + site


def site_of(user: str) -> str | None:
    """The site of a bridge account name (None: not a bridge account)."""
    if user.startswith(USER_PREFIX) and SITE_RE.match(user[len(USER_PREFIX) :]):
        return user[len(USER_PREFIX) :]
    return None


def _received(kind: str) -> list[str]:
    """What the centre sends a device of this kind (besides the allow-list)."""
    return ["result", "config"] + (["answer"] if contract.may(kind, "query") else [])


def site_rules(site: str, devices: dict[str, str], prefix: str = contract.DEFAULT_PREFIX) -> list[str]:
    """The central ACL block of a site's bridge account: its own devices' topics only."""
    lines = [f"user {username(site)}"]
    for device_id in sorted(devices):
        contract.check_device_id(device_id)
        kind = devices[device_id]
        if kind not in contract.CAPABILITIES:
            raise BridgeError("device %(id)s: unknown kind %(kind)r", id=device_id, kind=kind)
        lines += [f"topic write {prefix}/dev/{device_id}/{t}" for t in sorted(contract.CAPABILITIES[kind])]
        lines += [f"topic read {prefix}/dev/{device_id}/{t}" for t in _received(kind)]
    return lines


def render_sites(static: str, sites: dict[str, dict[str, str]], prefix: str = contract.DEFAULT_PREFIX) -> str:
    """``static`` (an ACL without a site section) followed by the section for ``sites`` (code -> {id: kind})."""
    return access.with_section(static, BEGIN, END, [site_rules(s, sites[s], prefix) for s in sorted(sites)])


def without_sites(text: str) -> str:
    """An ACL's text without its site section."""
    return access.without_section(text, BEGIN, END, "site", BridgeError)


def read_sites(path: str | Path) -> dict[str, list[str]]:
    """The site section of an ACL: bridge account -> the topics it may write."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    out: dict[str, list[str]] = {}
    user = None
    for line in text.partition(BEGIN)[2].partition(END)[0].splitlines():
        words = line.split()
        if words[:1] == ["user"] and len(words) == 2:
            user = words[1]
            out[user] = []
        elif user and words[:2] == ["topic", "write"]:
            out[user].append(words[2])
    return out


def write_sites(path: str | Path, sites: dict[str, dict[str, str]], prefix: str = contract.DEFAULT_PREFIX) -> None:
    """Rewrite the central ACL's site section atomically (a missing file starts from the shipped ``acl``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ACL_PATH.read_text(encoding="utf-8")
        _atomic_write(path, render_sites(without_sites(text), sites, prefix), 0o640)
    except OSError as exc:
        raise BridgeError("cannot write ACL file %(path)s: %(error)s", path=path, error=str(exc)) from None


def _atomic_write(path: Path, body: str, new_mode: int) -> None:
    st = path.stat() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, st.st_mode & 0o777 if st else new_mode)
        if st:
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_central(address: str) -> str:
    """``HOST:PORT`` of the central broker's TLS listener."""
    if not HOSTPORT_RE.match(address or "") or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise BridgeError(
            "--central must be HOST:PORT (the central broker's TLS listener), got %(address)r", address=address
        )
    return address


def connection_block(
    site: str,
    devices: dict[str, str],
    *,
    central: str,
    password: str,
    cafile: str,
    protocol: str = "mqttv50",
    prefix: str = contract.DEFAULT_PREFIX,
) -> str:
    """The ``connection`` block of a site broker's config (mosquitto.conf(5), "Bridges")."""
    central = check_central(central)
    if protocol not in PROTOCOLS:
        raise BridgeError(
            "protocol must be one of %(known)s, got %(protocol)r",
            known=", ".join(sorted(set(PROTOCOLS.values()))),
            protocol=protocol,
        )
    if any(c.isspace() for c in password) or not password:
        raise BridgeError("the bridge password must be non-empty and without spaces")
    user = username(site)
    lines = [
        f"# The bridge of site {site} to the central broker (privcard admin site bridge {site}).",
        "# It carries this site's devices' topics out and their answers in, nothing else; the",
        f"# central ACL confines the account {user} to the same topics (docs/deployment.md).",
        f"connection {CONNECTION}",
        f"address {central}",
        f"bridge_protocol_version {PROTOCOLS[protocol]}",
        f"remote_clientid {user}",
        f"local_clientid {user}-local",
        f"remote_username {user}",
        f"remote_password {password}",
        "# TLS to the centre, its certificate checked against this CA (and its host name)",
        f"bridge_cafile {cafile}",
        "bridge_insecure false",
        "bridge_tls_version tlsv1.2",
        "# Keep the sessions on both sides across an outage: what the devices sent while the",
        "# link was down is queued here (QoS 1, up to max_queued_messages) and sent on reconnect.",
        "cleansession false",
        "local_cleansession false",
        "start_type automatic",
        "# reconnect after 2 s, backing off to 60 s",
        "restart_timeout 2 60",
        "keepalive_interval 30",
        "# the bridge's state ($SYS/broker/connection/...) for local monitoring only",
        "notifications true",
        "notifications_local_only true",
        "try_private false",
        "",
    ]
    for device_id in sorted(devices):
        kind = devices[device_id]
        contract.check_device_id(device_id)
        lines += [f"topic {prefix}/dev/{device_id}/{t} out 1" for t in sorted(contract.CAPABILITIES[kind])]
        lines += [f"topic {prefix}/dev/{device_id}/{t} in 1" for t in _received(kind)]
    lines.append(f"topic {contract.allowlist_topic(prefix)} in 1")
    return "\n".join(lines) + "\n"


def site_conf(block: str) -> str:
    """The site broker's whole config: the production one (passwords, ACL, TLS for the devices,
    persistence, queue sizes) followed by the bridge."""
    head = production_conf().replace(
        "# privcard production broker: Mosquitto 2.x.",
        "# privcard SITE broker: Mosquitto 2.x, the production config plus a bridge to the central broker.\n"
        "# Contains the bridge's password: keep this file 0640 root:mosquitto.",
        1,
    )
    return head.rstrip("\n") + "\n\n" + block


def state_topic(site: str) -> str:
    """Where the site broker publishes its bridge's state, retained: ``1`` connected, ``0`` not.

    Mosquitto names the topic after the bridge's ``remote_clientid`` (``bridge-<SITE>``),
    not after the ``connection``; ``notifications_local_only`` keeps it on the site broker.
    """
    return f"$SYS/broker/connection/{username(site)}/state"


#: the site broker's local account that may read the bridge's state (``privcard doctor``)
MONITOR_USER = "privcard-monitor"


def monitor_rules(site: str) -> list[str]:
    """The site broker's ACL block of :data:`MONITOR_USER`: its bridge's state, nothing else."""
    return [f"user {MONITOR_USER}", f"topic read {state_topic(site)}"]


# --------------------------------------------------------------------------- the bundle

#: ``privcard admin site bridge --bundle FILE`` writes it on the centre; ``privcard setup
#: site-broker --bundle FILE`` reads it on the site broker's machine
BUNDLE_FORMAT = "privcard-site-bridge-bundle"
BUNDLE_VERSION = 1
_PEM = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class Bundle:
    """What a site broker needs from the centre: the bridge account, the centre's CA, its devices.

    ``devices``: device id -> (kind, password on the site broker). It holds passwords:
    the file is written 0600 and is for the site broker's installer only.
    """

    site: str
    central: str
    protocol: str
    password: str
    central_ca: str
    devices: dict[str, tuple[str, str]]

    @property
    def kinds(self) -> dict[str, str]:
        """device id -> kind (what the bridge's topics and the site's ACL are made from)."""
        return {d: kind for d, (kind, _) in self.devices.items()}

    def to_json(self) -> str:
        """The bundle file's text."""
        return (
            json.dumps(
                {
                    "format": BUNDLE_FORMAT,
                    "version": BUNDLE_VERSION,
                    "site": self.site,
                    "central": self.central,
                    "protocol": self.protocol,
                    "account": username(self.site),
                    "password": self.password,
                    "central_ca": self.central_ca,
                    "devices": {d: {"kind": k, "password": p} for d, (k, p) in sorted(self.devices.items())},
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )


def _checked_password(password, what: str) -> str:
    if not isinstance(password, str) or not password or any(c.isspace() for c in password):
        raise BridgeError("%(what)s: the password must be a non-empty string without spaces", what=what)
    return password


def read_bundle(text: str) -> Bundle:
    """Parse and check a bundle file's text (BridgeError naming what is wrong)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BridgeError("not a site bridge bundle (not JSON: %(error)s)", error=str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BridgeError('not a site bridge bundle (no "format": "%(format)s")', format=BUNDLE_FORMAT)
    if data.get("version") != BUNDLE_VERSION:
        raise BridgeError(
            "bundle version %(version)r: this privcard reads version %(reads)s",
            version=data.get("version"),
            reads=BUNDLE_VERSION,
        )
    site = str(data.get("site") or "")
    username(site)
    central = check_central(str(data.get("central") or ""))
    protocol = data.get("protocol") or "mqttv50"
    if protocol not in PROTOCOLS:
        raise BridgeError(
            "bundle: protocol %(protocol)r is not one of %(known)s",
            protocol=protocol,
            known=", ".join(sorted(set(PROTOCOLS.values()))),
        )
    password = _checked_password(data.get("password"), "bundle: the bridge account")
    ca = data.get("central_ca")
    if not isinstance(ca, str) or _PEM not in ca:
        raise BridgeError("bundle: central_ca is not a PEM certificate (the CA of the central broker)")
    devices = data.get("devices")
    if not isinstance(devices, dict):
        raise BridgeError("bundle: devices must be an object (device id -> kind and password)")
    out = {}
    for device_id, entry in devices.items():
        try:
            contract.check_device_id(device_id)
        except contract.ContractError as exc:
            raise BridgeError("bundle: %(why)s", why=exc) from None
        if device_id.lower().startswith(USER_PREFIX) or device_id == MONITOR_USER:
            raise BridgeError("bundle: device id %(id)s is reserved", id=device_id)
        if not isinstance(entry, dict) or entry.get("kind") not in contract.CAPABILITIES:
            raise BridgeError(
                "bundle: device %(id)s has no known kind (%(known)s)",
                id=device_id,
                known=", ".join(contract.DEVICE_KINDS),
            )
        out[device_id] = (entry["kind"], _checked_password(entry.get("password"), f"bundle: device {device_id}"))
    return Bundle(site, central, PROTOCOLS[protocol], password, ca if ca.endswith("\n") else ca + "\n", out)


def remote_password(conf_text: str) -> str | None:
    """The ``remote_password`` of an existing site config (to keep it when the command runs again)."""
    for line in conf_text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "remote_password":
            return words[1]
    return None


__all__ = [
    "BEGIN",
    "BUNDLE_FORMAT",
    "CONNECTION",
    "END",
    "MONITOR_USER",
    "BridgeError",
    "Bundle",
    "check_central",
    "connection_block",
    "monitor_rules",
    "read_bundle",
    "read_sites",
    "remote_password",
    "render_sites",
    "site_conf",
    "site_of",
    "site_rules",
    "state_topic",
    "username",
    "without_sites",
    "write_sites",
]
