"""A small private CA and a broker certificate for Mosquitto's TLS listener (openssl CLI).

    python -m broker.mosquitto.certs /etc/mosquitto/privcard --host broker.library.example --host 10.0.0.5

writes ``ca.pem``/``ca.key`` (keep ``ca.key`` offline), ``server.pem``/``server.key``
(the broker's, with the hosts as subjectAltNames) and, with ``--client NAME``, a
client certificate pair. Devices pin ``ca.pem`` (``mqtts://...?ca=/etc/privcard/ca.pem``).
Tests use it to make throwaway certificates; a library with its own PKI uses that
instead (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from broker.contract import TemplatedError


class CertError(TemplatedError, RuntimeError):
    """openssl is missing or failed (its Thai: :mod:`broker.mosquitto.thai`)."""


@dataclass(frozen=True)
class Pki:
    """Paths of the files :func:`make_pki` wrote."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path | None = None
    client_key: Path | None = None


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if not exe:
        raise CertError("the openssl command is needed to make certificates (apt-get install openssl)")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CertError(
            "openssl %(command)s failed: %(error)s", command=" ".join(args[:2]), error=proc.stderr.strip()[-500:]
        )


def _san(hosts) -> str:
    out = []
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            out.append(f"IP:{h}")
        except ValueError:
            out.append(f"DNS:{h}")
    return ",".join(out)


def _leaf(outdir: Path, name: str, cn: str, ca: Path, ca_key: Path, days: int, ext: str) -> tuple[Path, Path]:
    key, csr, cert = outdir / f"{name}.key", outdir / f"{name}.csr", outdir / f"{name}.pem"
    _openssl(
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={cn}",
        cwd=outdir,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".ext", dir=outdir, delete=False) as f:
        f.write(ext)
        extfile = f.name
    try:
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            str(days),
            "-sha256",
            "-extfile",
            extfile,
            cwd=outdir,
        )
    finally:
        os.unlink(extfile)
        csr.unlink(missing_ok=True)
    os.chmod(key, 0o600)
    return cert, key


def make_pki(
    outdir: str | Path,
    hosts=("localhost", "127.0.0.1"),
    *,
    days: int = 825,
    client: str | None = None,
    ca_name: str = "privcard broker CA",
) -> Pki:
    """Make a CA (reused if ``ca.pem``/``ca.key`` exist) and a server certificate for ``hosts``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    hosts = list(hosts)
    if not hosts:
        raise CertError("give at least one host name or address for the broker certificate")
    ca, ca_key = outdir / "ca.pem", outdir / "ca.key"
    if not (ca.exists() and ca_key.exists()):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(ca_key),
            "-out",
            str(ca),
            "-days",
            str(days * 2),
            "-sha256",
            "-subj",
            f"/CN={ca_name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            cwd=outdir,
        )
        os.chmod(ca_key, 0o600)
    server_cert, server_key = _leaf(
        outdir,
        "server",
        hosts[0],
        ca,
        ca_key,
        days,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={_san(hosts)}\n",
    )
    client_cert = client_key = None
    if client:
        client_cert, client_key = _leaf(
            outdir,
            f"client-{client}",
            client,
            ca,
            ca_key,
            days,
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
    (outdir / "ca.srl").unlink(missing_ok=True)
    return Pki(ca, ca_key, server_cert, server_key, client_cert, client_key)


def main(argv: list[str] | None = None) -> int:
    """``python -m broker.mosquitto.certs OUTDIR --host NAME ...``."""
    p = argparse.ArgumentParser(
        prog="python -m broker.mosquitto.certs", description="Make a private CA and a Mosquitto server certificate."
    )
    p.add_argument("outdir")
    p.add_argument("--host", action="append", default=[], help="broker DNS name or IP (repeat); default localhost")
    p.add_argument("--days", type=int, default=825)
    p.add_argument("--client", help="also make a client certificate with this common name")
    args = p.parse_args(argv)
    try:
        pki = make_pki(args.outdir, args.host or ["localhost", "127.0.0.1"], days=args.days, client=args.client)
    except CertError as exc:
        print(f"certs: {exc}", file=sys.stderr)
        return 1
    for name, path in vars(pki).items():
        if path:
            print(f"{name:<12} {path}")
    print("install ca.pem on every device; keep ca.key offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
