"""The per-device part of the Mosquitto ACL, made from :data:`broker.contract.CAPABILITIES`.

The shipped ``acl`` file holds what is the same for every account (each device reads its
own ``result`` and ``config`` and the allow-list; the server's account). What a device may
*write* depends on its kind, which Mosquitto cannot know: this module writes one
``user`` block per registered, active device at the end of the ACL file, between two
marker lines, with exactly the topics its kind may send (and ``answer`` for a kind that
may query). A gate's account therefore cannot even publish a query or feedback; the
server refuses them as well (``server.services.devices.Devices.authorise``).

``privcard admin device credentials|retire|acl`` (:mod:`server.broker_accounts`) call
:func:`write_devices`; Mosquitto reads the file at start and on SIGHUP.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from broker import contract
from broker.contract import TemplatedError
from broker.mosquitto import ACL_PATH

DEFAULT_ACL_FILE = os.environ.get("PRIVCARD_MQTT_ACL_FILE", "/etc/mosquitto/privcard/acl")
BEGIN = "# BEGIN privcard devices: written by `privcard admin device acl`; edits between these lines are lost"
END = "# END privcard devices"


class AccessError(TemplatedError, ValueError):
    """An ACL file that cannot be read or written, or a device the table does not know."""


def device_rules(device_id: str, kind: str, prefix: str = contract.DEFAULT_PREFIX) -> list[str]:
    """The ACL lines of one device: what its kind may send, and the answers if it may query."""
    contract.check_device_id(device_id)
    if kind not in contract.CAPABILITIES:
        raise AccessError(
            "unknown device kind %(kind)r; known: %(known)s", kind=kind, known=", ".join(contract.DEVICE_KINDS)
        )
    lines = [f"user {device_id}"]
    lines += [f"topic write {prefix}/dev/{device_id}/{t}" for t in sorted(contract.CAPABILITIES[kind])]
    if contract.may(kind, "query"):
        lines.append(f"topic read {prefix}/dev/{device_id}/answer")
    return lines


def with_section(static: str, begin: str, end: str, blocks: list[list[str]]) -> str:
    """``static`` followed by a generated section: ``begin``, each block's lines, ``end``."""
    body = static.rstrip("\n") + "\n\n" + begin + "\n"
    for lines in blocks:
        body += "\n".join(lines) + "\n"
    return body + end + "\n"


def without_section(text: str, begin: str, end: str, what: str, error: type[Exception]) -> str:
    """``text`` without the generated section between ``begin`` and ``end`` (``error`` if it has no end)."""
    head, sep, rest = text.partition(begin)
    if not sep:
        return text
    _, sep, tail = rest.partition(end)
    if not sep:
        raise error("the ACL file has the BEGIN marker of the %(what)s section but no END marker", what=what)
    return head.rstrip("\n") + "\n" + tail.lstrip("\n")


def render(static: str, devices: dict[str, str], prefix: str = contract.DEFAULT_PREFIX) -> str:
    """``static`` (the ACL without a device section) followed by the section for ``devices`` (id -> kind)."""
    return with_section(static, BEGIN, END, [device_rules(d, devices[d], prefix) for d in sorted(devices)])


def static_part(text: str) -> str:
    """An ACL's text without its device section."""
    return without_section(text, BEGIN, END, "device", AccessError)


def read_devices(path: str | Path) -> dict[str, str]:
    """The device ids that have a block in the ACL's device section (-> the topics they may write)."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    _, _, rest = text.partition(BEGIN)
    out: dict[str, str] = {}
    user = None
    for line in rest.partition(END)[0].splitlines():
        words = line.split()
        if words[:1] == ["user"] and len(words) == 2:
            user = words[1]
            out[user] = ""
        elif user and words[:2] == ["topic", "write"]:
            out[user] = (out[user] + " " + words[2].rsplit("/", 1)[-1]).strip()
    return out


def write_devices(path: str | Path, devices: dict[str, str], prefix: str = contract.DEFAULT_PREFIX) -> None:
    """Rewrite the ACL's device section atomically (a missing file starts from the shipped ``acl``).

    Keeps the static part, the file's mode and owner.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ACL_PATH.read_text(encoding="utf-8")
        body = render(static_part(text), devices, prefix)
        st = path.stat() if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".acl-", dir=str(path.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, st.st_mode & 0o777 if st else 0o640)
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
    except OSError as exc:
        raise AccessError("cannot write ACL file %(path)s: %(error)s", path=path, error=str(exc)) from None


__all__ = ["BEGIN", "DEFAULT_ACL_FILE", "END", "AccessError", "device_rules", "read_devices", "render", "write_devices"]
