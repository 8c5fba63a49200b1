"""The SSRF guard's pure logic: URLs, numeric host forms, address classes, the allowlist."""

from __future__ import annotations

import asyncio
import ipaddress
import re

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from tasks.settings import Settings
from tasks.webhooks.config import parse_networks, parse_ports
from tasks.webhooks.ssrf import UrlPolicy, UrlRefused, check_url, numeric_host
from worker.webhooks.client import BlockedAddress, GuardedResolver

DEFAULT = UrlPolicy()
LOOPBACK_ALLOWED = UrlPolicy(allowed_networks=parse_networks("127.0.0.0/8"))

# Every form the system resolver accepts for 169.254.169.254 (cloud metadata) and loopback.
REFUSED_LITERALS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",  # decimal
    "http://0xa9fea9fe/",  # hex
    "http://0xA9FEA9FE/",
    "http://0251.0376.0251.0376/",  # octal
    "http://169.254.43518/",  # a.b.c with a 16-bit tail
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64
    "http://[2002:a9fe:a9fe::1]/",  # 6to4
    "http://[::169.254.169.254]/",  # IPv4-compatible
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0x7f.1/",
    "http://0x7f.0.0.0x1/",
    "http://2130706433/",
    "http://017700000001/",
    "http://127.0.0.1./",  # trailing dot
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # CGNAT, which ipaddress does not call private
    "http://192.0.0.1/",
    "http://198.18.0.1/",
    "http://224.0.0.1/",  # multicast, which ipaddress calls global
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
]


@pytest.mark.parametrize("url", REFUSED_LITERALS)
def test_refused_addresses_in_every_form(url: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, DEFAULT)
    assert refused.value.reason == "blocked", refused.value.message
    assert "refused" in refused.value.message


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/job?x=1",
    "http://example.com:8080/path",
    "http://8.8.8.8/",
    "http://134744072/",  # 8.8.8.8 in decimal: a public address in any form is fine
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://[2002:808:808::1]/",  # 6to4 of a public address
    "https://xn--bcher-kva.example/",
    "https://bücher.example/",
    "HTTPS://Hooks.Example.COM/",
])
def test_public_urls_accepted(url: str) -> None:
    checked = check_url(url, DEFAULT)
    assert checked.scheme in ("http", "https")


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.com/", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("http://", "malformed"),
    ("http:///path", "malformed"),
    ("http://exa mple.com/", "malformed"),
    ("http://example.com/\n", "malformed"),
    ("http://a%20b.com/", "malformed"),
    ("http://user:pw@example.com/", "malformed"),
    ("http://example.com@169.254.169.254/", "malformed"),
    ("http://[::1/", "malformed"),
    ("http://example.com:99999/", "malformed"),
    ("http://example.com:0x50/", "malformed"),
    ("http://" + "a" * 3000 + ".com/", "malformed"),
    ("http://-bad-.example/", "malformed"),
    ("http://example.com:22/", "port"),
    ("http://example.com:25/", "port"),
    ("https://example.com:1023/", "port"),
])
def test_bad_urls_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, DEFAULT)
    assert refused.value.reason == reason, refused.value.message


@pytest.mark.parametrize("url", [
    "http://999.1.1.1/", "http://1.2.3.4.5/", "http://256.256.256.256/",
    "http://hooks.example.123/", "http://a.0x1f/", "http://08.8.8.8/",
])
def test_hosts_no_client_sends_to_are_malformed(url: str) -> None:
    """A host whose last label is a number is taken for an IPv4 address by every URL
    parser; when it is not a valid one, the HTTP client never sends to it."""
    with pytest.raises(UrlRefused) as refused:
        check_url(url, DEFAULT)
    assert refused.value.reason == "malformed"
    assert "not a valid IPv4 address" in refused.value.message


@pytest.mark.parametrize(("url", "canonical"), [
    ("http://2130706434:8080/", "http://127.0.0.2:8080/"),  # decimal
    ("http://0x7f.1:8080/", "http://127.0.0.1:8080/"),  # hex, short
    ("http://017700000001:8080/", "http://127.0.0.1:8080/"),  # octal
    ("http://0x7F000001:8080", "http://127.0.0.1:8080/"),
    ("http://127.1:9000/a?b=1#frag", "http://127.0.0.1:9000/a?b=1"),
    ("http://[::ffff:127.0.0.1]:8080/x", "http://[::ffff:7f00:1]:8080/x"),
    ("http://[2606:4700:4700:0:0:0:0:1111]:8080/", "http://[2606:4700:4700::1111]:8080/"),
    ("HTTPS://Hooks.Example.COM:443/Path/?Q=A", "https://hooks.example.com/Path/?Q=A"),
    ("http://hooks.example.com:80", "http://hooks.example.com/"),
    ("https://hooks.example.com.:8443/a%20b", "https://hooks.example.com:8443/a%20b"),
    ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("http://localhost:8080/h", "http://localhost:8080/h"),
])
def test_canonical_form(url: str, canonical: str) -> None:
    """What is stored and sent: one spelling per URL, a numeric host as its address."""
    checked = check_url(url, LOOPBACK_ALLOWED)
    assert checked.canonical == canonical
    assert check_url(canonical, LOOPBACK_ALLOWED).canonical == canonical  # a fixed point


def test_allowlist_lets_a_network_in_and_only_that() -> None:
    assert check_url("http://127.0.0.1:8080/", LOOPBACK_ALLOWED).port == 8080
    assert check_url("http://localhost:8080/", LOOPBACK_ALLOWED).host == "localhost"
    assert check_url("http://127.1:9000/", LOOPBACK_ALLOWED).literal == ipaddress.ip_address(
        "127.0.0.1")
    # The IPv4-mapped form is the same address on the wire, so the allowlist covers it.
    check_url("http://[::ffff:127.0.0.1]:8080/", LOOPBACK_ALLOWED)
    for url in ("http://[::1]:8080/", "http://10.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(UrlRefused):
            check_url(url, LOOPBACK_ALLOWED)


def test_port_policy() -> None:
    policy = UrlPolicy(allowed_ports=parse_ports("443, 8000-8009"))
    check_url("https://example.com/", policy)
    check_url("http://example.com:8005/", policy)
    for url in ("http://example.com/", "http://example.com:8010/"):
        with pytest.raises(UrlRefused, match="not allowed"):
            check_url(url, policy)


def test_numeric_host_normalises_without_dns() -> None:
    expected = ipaddress.ip_address("169.254.169.254")
    for form in ("2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.169.254"):
        assert numeric_host(form) == expected
    assert numeric_host("example.com") is None
    assert numeric_host("localhost") is None  # a name, even though it means loopback


def test_every_address_must_pass() -> None:
    public, private = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")
    DEFAULT.check_addresses([public])
    with pytest.raises(UrlRefused, match=r"10\.0\.0\.1"):
        DEFAULT.check_addresses([public, private])


@pytest.mark.parametrize(("text", "error"), [
    ("80,x", "not a port"), ("0", "within"), ("70000", "within"), ("90-80", "within"),
    ("", "at least one"),
])
def test_parse_ports_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_ports(text)


def test_parse_networks() -> None:
    assert parse_networks("") == ()
    assert [str(n) for n in parse_networks("127.0.0.1/8, ::1/128")] == ["127.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match="CIDR"):
        parse_networks("10.0.0.0/33")


def test_resolver_refuses_a_name_that_resolves_to_a_refused_address() -> None:
    async def resolve(policy: UrlPolicy) -> list[str]:
        resolver = GuardedResolver(policy)
        try:
            return [r["host"] for r in await resolver.resolve("localhost", 80)]
        finally:
            await resolver.close()

    with pytest.raises(BlockedAddress, match="loopback"):
        asyncio.run(resolve(DEFAULT))
    assert "127.0.0.1" in asyncio.run(resolve(LOOPBACK_ALLOWED))


SETTING_NAMED = re.compile(r"\(in development, WEBHOOK_ALLOWED_NETWORKS=(\S+) allows it\)")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def refusal(url: str, policy: UrlPolicy) -> str:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, policy)
    return refused.value.message


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://127.1:8000/", "http://localhost:8000/",
    "http://[::ffff:127.0.0.1]:8000/", "http://[::1]:8000/", "http://10.1.2.3/",
    "http://192.168.0.5:8080/", "http://[fd00::1]/",
])
def test_in_development_a_refusal_names_the_setting_that_allows_it(url: str) -> None:
    """A loopback or private callback_url is refused in development too, with the
    allowlist entry that lets it in; and that entry really does."""
    policy = UrlPolicy.from_settings(Settings(_env_file=None, environment="development"))
    named = SETTING_NAMED.search(refusal(url, policy))
    assert named, refusal(url, policy)
    allowing = UrlPolicy(allowed_networks=parse_networks(named.group(1)))
    checked = check_url(url, allowing)  # no refusal now
    if checked.literal is not None:  # the dispatcher's check of the address, at send time
        allowing.check_addresses([checked.literal])
        with pytest.raises(UrlRefused, match="WEBHOOK_ALLOWED_NETWORKS="):
            policy.check_addresses([checked.literal])


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://100.64.0.1/", "http://[64:ff9b::7f00:1]/"])
def test_no_setting_is_named_for_metadata_or_other_special_addresses(url: str) -> None:
    policy = UrlPolicy.from_settings(Settings(_env_file=None, environment="development"))
    assert "WEBHOOK_ALLOWED_NETWORKS" not in refusal(url, policy)


@pytest.mark.parametrize("settings", [
    Settings(_env_file=None, environment="test"),
    Settings(_env_file=None, environment="production", webhook_secret=SECRET,
             webhook_encryption_key=SecretStr(Fernet.generate_key().decode()),
             api_keys="acme:k8Jw2N5qT7rV1xZ4bC6dF9gH3jL0mP2s"),
], ids=["test", "production"])
def test_outside_development_no_setting_is_named(settings: Settings) -> None:
    """The refusal reaches API clients: outside development it names no internal knob."""
    message = refusal("http://127.0.0.1:8000/", UrlPolicy.from_settings(settings))
    assert message == "the address 127.0.0.1 is refused: loopback"
