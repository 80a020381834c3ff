"""Coverage-guided fuzzing of the bus-contract parsers with atheris (libFuzzer).

    python tests/fuzz/atheris_contract.py -runs=100000 -max_len=4096

The first byte picks the parser, the rest is the payload. Anything but a parsed
object or ContractError is a crash (libFuzzer prints it and exits non-zero).
``make chaos`` runs it when atheris is installed (pip install atheris).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import atheris

with atheris.instrument_imports():
    from broker import contract
    from broker.contract import Allowlist, ContractError, DeviceConfig, Feedback, Query, Status, Tap, TapResult

PARSERS = (Tap, Query, Feedback, Status, DeviceConfig, Allowlist, TapResult)


def one_input(data: bytes) -> None:
    if not data:
        return
    cls = PARSERS[data[0] % len(PARSERS)]
    payload = data[1:]
    try:
        obj = cls.parse(payload)
    except ContractError:
        return
    if cls is Allowlist:  # generated_at is filled in on encode when absent
        again = cls.parse(obj.encode())
        assert (again.version, again.uids) == (obj.version, obj.uids)
    elif cls is not TapResult:
        assert cls.parse(obj.encode()) == obj
    if cls is Tap:
        assert contract.UID_RE.match(obj.uid) and contract.TAP_ID_RE.match(obj.tap_id)


def seed_corpus() -> str:
    """A temp directory with one valid payload per parser (libFuzzer mutates from there)."""
    import json
    import tempfile

    from tests.fuzz.fuzzlib import VALID

    d = Path(tempfile.mkdtemp(prefix="privcard-atheris-"))
    seeds = [
        (Tap, VALID["tap"]),
        (Query, VALID["query"]),
        (Feedback, VALID["feedback"]),
        (Status, VALID["status"]),
        (DeviceConfig, VALID["config"]),
        (Allowlist, Allowlist(version=3, uids=frozenset(["04A1B2C3", "04A1B2C3D4E5F6"])).to_dict()),
        (TapResult, contract.invalid_result("g:1", "x").to_dict()),
    ]
    for i, (cls, payload) in enumerate(seeds):
        (d / f"seed{i}").write_bytes(bytes([PARSERS.index(cls)]) + json.dumps(payload).encode())
    return str(d)


def main() -> None:
    argv = list(sys.argv)
    if not [a for a in argv[1:] if not a.startswith("-")]:
        argv.append(seed_corpus())
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
