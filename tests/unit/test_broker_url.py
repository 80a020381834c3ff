"""MQTT URL parsing: what operators type on the command line."""

import pytest

from broker.client import BrokerError, BrokerUrlError, BusClient, parse_mqtt_url


def test_full_url_with_credentials_client_id_and_v5():
    s = parse_mqtt_url("mqtt://user:p%40ss@broker.lib:1884?client_id=gate-1&v=5")
    assert (s.host, s.port, s.tls) == ("broker.lib", 1884, False)
    assert (s.username, s.password) == ("user", "p@ss")
    assert s.client_id == "gate-1"
    assert s.protocol == 5


def test_defaults():
    s = parse_mqtt_url("mqtt://127.0.0.1")
    assert (s.port, s.protocol, s.username, s.client_id, s.keepalive) == (1883, 4, None, None, 30)
    assert parse_mqtt_url("mqtts://h").port == 8883


def test_tls_parameters():
    s = parse_mqtt_url("mqtts://h:8883?ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem")
    assert s.tls and (s.ca, s.cert, s.key) == ("/etc/ca.pem", "/etc/c.pem", "/etc/k.pem")


def test_ipv6_and_safe_url_hides_password():
    s = parse_mqtt_url("mqtt://u:secret@[::1]:1999")
    assert s.host == "::1" and s.port == 1999
    assert s.url == "mqtt://u@[::1]:1999"
    assert "secret" not in repr(s)


@pytest.mark.parametrize(
    "url, words",
    [
        ("", "empty"),
        ("127.0.0.1:1883", "no scheme"),
        ("http://h:1883", "scheme must be mqtt or mqtts"),
        ("mqtt://:1883", "no host"),
        ("mqtt://h:99999", "invalid port"),
        ("mqtt://h:abc", "invalid port"),
        ("mqtt://h:0", "port 0"),
        ("mqtt://h/topic", "must not have a path"),
        ("mqtt://h?qos=1", "unknown parameter(s) qos"),
        ("mqtt://h?v=4.5", "v must be"),
        ("mqtt://h?v=5&v=4", "given 2 times"),
        ("mqtt://h?ca=/x.pem", "needs the mqtts:// scheme"),
        ("mqtts://h?cert=/c.pem", "both cert= and key="),
        ("mqtt://h?keepalive=1", "keepalive must be 5-65535"),
        ("mqtt://h?keepalive=x", "whole seconds"),
    ],
)
def test_bad_urls_say_what_is_wrong(url, words):
    with pytest.raises(BrokerUrlError) as info:
        parse_mqtt_url(url)
    assert words in str(info.value)
    assert isinstance(info.value, BrokerError) and isinstance(info.value, ValueError)


def test_shared_subscription_needs_v5():
    client = BusClient("mqtt://127.0.0.1:1", "t")
    with pytest.raises(BrokerError, match="needs MQTT v5"):
        client.subscribe("$share/servers/privcard/dev/+/tap", lambda *a: None)
    v5 = BusClient("mqtt://127.0.0.1:1?v=5", "t5")
    v5.subscribe("$share/servers/privcard/dev/+/tap", lambda *a: None)  # accepted
    with pytest.raises(BrokerError, match="bad shared subscription"):
        v5.subscribe("$share/onlygroup", lambda *a: None)


def test_client_id_from_url_and_persistent_alias():
    c = BusClient("mqtt://127.0.0.1:1?client_id=from-url")
    assert c.client_id == "from-url" and not c.persistent
    assert BusClient("mqtt://127.0.0.1:1", "x", clean_start=False).persistent
