"""Shared pieces of the fuzz tests: how many cases, strategies for bus payloads.

``PRIVCARD_FUZZ_EXAMPLES`` sets the Hypothesis examples per target (default 60: the
fast slice in ``make test``, ~3 s in all; ``make chaos`` sets 15000, which with the
seven parser targets and the CSV import is well over 100,000 cases).
"""

from __future__ import annotations

import json
import os
import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("PRIVCARD_FUZZ_EXAMPLES", "60"))


def fuzz_settings(scale: float = 1.0):
    """Hypothesis settings for a fuzz target (no deadline: the machine is shared)."""
    return settings(
        max_examples=max(10, int(EXAMPLES * scale)),
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "04A1B2C3",
            "04a1b2c3",
            "04A1B2C3D4E5F6A7B8C9",
            "gate-1:1",
            "2026-11-22T10:00:00+07:00",
            "2026-11-22T10:00:00Z",
            "2026-13-45T99:99",
            "online",
            "offline",
            "gate",
            "kiosk",
            "counter",
            "in",
            "out",
            "allowlist",
            "zlib+base64",
            "\u0000",
            "💳",
            "ก" * 5,
            "../../etc",
            "%u",
            "+",
            "#",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=6)),
    max_leaves=20,
)

VALID = {
    "tap": {
        "v": 1,
        "tap_id": "gate-1:17",
        "uid": "04A1B2C3D4E5F6",
        "at": "2026-11-22T10:00:00.000+07:00",
        "clock_ok": True,
    },
    "query": {"v": 1, "query_id": "kiosk-1:3", "uid": "04A1B2C3"},
    "feedback": {
        "v": 1,
        "feedback_id": "kiosk-1:f9",
        "rating": 4,
        "at": "2026-11-22T10:00:00+07:00",
        "uid": "04A1B2C3",
    },
    # a written message (issue 14): category and text, no rating
    "feedback_written": {
        "v": 1,
        "feedback_id": "kiosk-1:w3",
        "rating": None,
        "at": "2026-11-22T10:00:00+07:00",
        "uid": "04A1B2C3",
        "category": "complaint",
        "text": "แอร์เย็นเกินไป <b>",
    },
    "status": {
        "v": 1,
        "state": "online",
        "at": "2026-11-22T10:00:00+07:00",
        "version": "0.1.0",
        "uptime_s": 12.5,
        "outbox": 3,
        "reader": "ok",
        "kind": "gate",
        "clock_ok": True,
    },
    "config": {
        "v": 1,
        "device_id": "gate-1",
        "kind": "gate",
        "direction": "in",
        "activity": "entry",
        "location": "Main",
        "settings": {"open_ms": 3000, "offline_policy": "allowlist", "pins": {"relay": 17}},
        "revision": 4,
    },
}


@st.composite
def mutated(draw, base: dict):
    """A valid payload with fields deleted, replaced by any JSON value, or added."""
    data = dict(base)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["del", "set", "add", "type"]))
        keys = sorted(data)
        if op == "del" and keys:
            data.pop(draw(st.sampled_from(keys)), None)
        elif op == "set" and keys:
            data[draw(st.sampled_from(keys))] = draw(json_values)
        elif op == "add":
            data[draw(st.text(max_size=10))] = draw(json_values)
        elif op == "type" and keys:
            k = draw(st.sampled_from(keys))
            data[k] = draw(st.sampled_from([str(data[k]), [data[k]], {"x": data[k]}, None, 0, True, 1.5]))
    return data


def encodings(payload: dict | list | object):
    """Several byte forms of a JSON value (compact, pretty, with BOM, truncated...)."""
    text = json.dumps(payload, ensure_ascii=False)
    return st.sampled_from(
        [
            text.encode("utf-8"),
            json.dumps(payload, ensure_ascii=True, indent=2).encode(),
            b"\xef\xbb\xbf" + text.encode("utf-8"),
            text.encode("utf-8")[: max(0, len(text) // 2)],
            text.encode("utf-16"),
            text,  # str, not bytes
        ]
    )


def payloads(kind: str):
    """Bytes (or str) a device or server might be sent: garbage, any JSON, near-valid JSON."""
    base = VALID.get(kind, {"v": 1})
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200, alphabet=st.characters()),
        st.text(alphabet=string.printable, max_size=200),
        json_values.flatmap(encodings),
        mutated(base).flatmap(encodings),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.integers(4000, 6000).map(lambda n: b'{"v":1,"tap_id":"' + b"x" * n + b'"}'),
        st.integers(1, 9000).map(lambda n: b'{"v":1,"version":' + b"9" * n + b"}"),
    )
