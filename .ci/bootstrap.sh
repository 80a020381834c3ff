#!/usr/bin/env bash
# Set up what `make demo` / `make test` need on a fresh Debian / Raspberry Pi OS machine:
# system packages (with apt-get, when root and missing) and the project's virtualenv.
#   .ci/bootstrap.sh demo   -> python venv + privcard[all]
#   .ci/bootstrap.sh test   -> the above + Mosquitto, Xvfb, Mesa, Chromium for the tests
set -euo pipefail
cd "$(dirname "$0")/.."
role="${1:-demo}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for p in "$@"; do have_pkg "$p" || need+=("$p"); done; }

if command -v dpkg-query >/dev/null 2>&1; then
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || want python3-venv
  want libgl1 libmtdev1 libusb-1.0-0
  # evdev (USB keyboard-wedge readers) ships no wheels: it compiles against Python.h and linux/input.h
  command -v gcc >/dev/null 2>&1 || want gcc
  "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || want python3-dev
  [ -e /usr/include/linux/input.h ] || want linux-libc-dev
  if [ "$role" = test ]; then
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || want mosquitto
    want xvfb xauth libgl1-mesa-dri xdotool openssl
    command -v chromium >/dev/null 2>&1 || want chromium
    command -v systemd-analyze >/dev/null 2>&1 || want systemd   # verifies the shipped unit files
    # the failover tests (tests/chaos/test_failover.py) start etcd and a two-node Patroni
    # cluster on PostgreSQL 15's binaries; their packages' own services are not used
    command -v patroni >/dev/null 2>&1 || want patroni
    command -v etcd >/dev/null 2>&1 || want etcd-server
    [ -x /usr/lib/postgresql/15/bin/postgres ] || want postgresql-15
    # the booted-system tests (tests/system/): a bookworm root file system booted with systemd-nspawn
    command -v debootstrap >/dev/null 2>&1 || want debootstrap
    command -v systemd-nspawn >/dev/null 2>&1 || want systemd-container
  fi
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing system packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages: ${need[*]}" >&2
    echo "bootstrap: run as root, or: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
# mosquitto's package starts a system broker on 1883; the tests start their own on free ports
# and never depend on it.

stamp="$VENV/.privcard-$role"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  extra=all
  [ "$role" = test ] && extra=dev
  "$VENV/bin/python" -m pip install -q -e ".[$extra]"
  touch "$stamp"
fi
