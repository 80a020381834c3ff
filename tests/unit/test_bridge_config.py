"""The site bridge's files (broker.mosquitto.bridge): the central ACL's site section and the bridge block.

The bridge itself runs in tests/security/test_site_bridge.py (two real Mosquittos); these
check the text: each site's account gets only its own devices' topics, the site section and
the device section survive each other's rewrites, and bad input is refused.
"""

from __future__ import annotations

import pytest

from broker.mosquitto import access, bridge, directives


def test_a_site_block_grants_only_its_devices_topics_by_kind():
    lines = bridge.site_rules("NORTH", {"k1": "kiosk", "g1": "gate"})
    assert lines[0] == "user bridge-NORTH"
    assert "topic write privcard/dev/g1/tap" in lines and "topic write privcard/dev/k1/query" in lines
    assert "topic write privcard/dev/g1/query" not in lines  # a gate may not query
    assert "topic read privcard/dev/k1/answer" in lines and "topic read privcard/dev/g1/answer" not in lines
    assert not [x for x in lines if "+" in x or "#" in x]  # no wildcard: nothing beyond its devices


def test_the_site_section_and_the_device_section_survive_each_others_rewrites(tmp_path):
    acl = tmp_path / "acl"
    access.write_devices(acl, {"g1": "gate", "s1": "gate"})
    bridge.write_sites(acl, {"NORTH": {"g1": "gate"}, "SOUTH": {"s1": "gate"}})
    access.write_devices(acl, {"g1": "gate", "s1": "gate", "g2": "gate"})
    bridge.write_sites(acl, {"NORTH": {"g1": "gate", "g2": "gate"}, "SOUTH": {"s1": "gate"}})
    assert set(access.read_devices(acl)) == {"g1", "g2", "s1"}
    assert bridge.read_sites(acl)["bridge-NORTH"] == [
        "privcard/dev/g1/status",
        "privcard/dev/g1/tap",
        "privcard/dev/g2/status",
        "privcard/dev/g2/tap",
    ]
    text = acl.read_text()
    assert text.count(bridge.BEGIN) == 1 and text.count(access.BEGIN) == 1
    assert "user privcard-server" in text  # the shipped static part is kept


def test_the_bridge_block_carries_its_devices_out_and_their_answers_in():
    block = bridge.connection_block(
        "NORTH", {"g1": "gate"}, central="central.example:8883", password="pw", cafile="/etc/ca.pem"
    )
    d = dict(directives(block))
    assert d["address"] == "central.example:8883" and d["bridge_insecure"] == "false"
    assert d["remote_username"] == "bridge-NORTH" and d["cleansession"] == "false"
    topics = [v for k, v in directives(block) if k == "topic"]
    assert topics == [
        "privcard/dev/g1/status out 1",
        "privcard/dev/g1/tap out 1",
        "privcard/dev/g1/result in 1",
        "privcard/dev/g1/config in 1",
        "privcard/allowlist in 1",
    ]
    conf = bridge.site_conf(block)
    assert "allow_anonymous false" in conf and "connection privcard-central" in conf
    assert bridge.remote_password(conf) == "pw"


@pytest.mark.parametrize(
    "site, central",
    [("north", "h:8883"), ("NORTH SITE", "h:8883"), ("NORTH", "h"), ("NORTH", "h:99999"), ("NORTH", "h:8883 x")],
)
def test_bad_site_codes_and_addresses_are_refused(site, central):
    with pytest.raises(bridge.BridgeError):
        bridge.connection_block(site, {}, central=central, password="pw", cafile="/c.pem")
