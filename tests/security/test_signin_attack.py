"""Staff sign-in under attack, against a real ``privcard server --http`` with MQTT, a real
Mosquitto and a tapping gate (the harness is :mod:`tests.security.signin_attack`).

- 100 wrong passwords for one account in parallel (real threads, real HTTP): the
  account ends locked and at most ``MAX_FAILURES`` of them were checked.
- 60 sign-ins at the same instant: the server's resident memory stays under a bound
  (its memory before + ``HASH_POOL`` Argon2 verifications of 64 MiB + 96 MiB for the
  request threads and the allocator), the sign-ins beyond the pool get 429 with
  ``Retry-After``, and a gate tapping every 200 ms is answered within 1 s at p95.

Before the change (same harness, base tree, 3 runs): 100 of 100 guesses checked; 1.4-1.8 GB
resident and taps at p95 2.5-7.8 s during 60 sign-ins. After: 5 checked; 191 MiB, p95 80-153 ms.
"""

from __future__ import annotations

from server.web import accounts
from tests.security.signin_attack import Console, parallel_guesses, simultaneous_signins

ARGON2_MIB = 64


def test_parallel_wrong_passwords_lock_the_account_after_the_limit(broker, tmp_path):
    with Console(broker.url, tmp_path) as console:
        out = parallel_guesses(console, n=100)
    assert out["locked"], out
    assert 1 <= out["checked"] <= accounts.MAX_FAILURES, out
    # nothing but refusals: 401 for the guesses, 429 once the source failed too often
    assert set(out["statuses"]) <= {"401", "429"} and sum(out["statuses"].values()) == 100, out
    assert out["right_password_after"] in (401, 429), out


def test_sixty_simultaneous_signins_bounded_memory_and_taps_on_time(broker, tmp_path):
    with Console(broker.url, tmp_path) as console:
        out = simultaneous_signins(console, broker.url, n=60)
    bound = out["rss_before_mib"] + accounts.HASH_POOL * ARGON2_MIB + 96
    assert out["rss_peak_mib"] < bound, out
    assert set(out["statuses"]) <= {"302", "429"}, out
    assert out["statuses"].get("302", 0) >= accounts.HASH_POOL, out  # the pool does let sign-ins through
    if "429" in out["statuses"]:
        assert out["retry_after"] and all(int(x) >= 1 for x in out["retry_after"]), out
    assert not out["tap_failures"], out
    assert out["taps_during"] >= 5, out
    assert out["tap_p95_ms"] < 1000, out
