"""The allow-list and address rules `http.request` is held to, at publish and at run time."""

from __future__ import annotations

import pytest

from domain.outbound import (
    address_refusal,
    header_refusals,
    host_refusal,
    parse_allowed_host,
    url_refusal,
)

ALLOWED = ["crm.example.com", "api.example.com:8443", "127.0.0.1:8080", "[::1]:9000", "bücher.de"]


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/api",
        "http://crm.example.com/api",
        "https://CRM.Example.COM./api?q=1",
        "https://crm.example.com:443/",
        "https://api.example.com:8443/v1",
        "http://api.example.com:8443/v1",
        "http://127.0.0.1:8080/hook",
        "http://[::1]:9000/",
        "https://bücher.de/",
        "https://xn--bcher-kva.de/",
    ],
)
def test_listed_hosts_are_allowed(url: str) -> None:
    assert url_refusal(url, ALLOWED) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://crm.example.com:8443/", "crm.example.com:8443 is not on"),
        ("http://crm.example.com:6379/", "crm.example.com:6379 is not on"),
        ("https://api.example.com/v1", "api.example.com:443 is not on"),
        ("https://evil.example.com/", "evil.example.com:443 is not on"),
        ("https://crm.example.com.evil.net/", "crm.example.com.evil.net:443 is not on"),
        ("http://127.0.0.1/", "127.0.0.1:80 is not on"),
        ("http://[::1]:9001/", "[::1]:9001 is not on"),
        ("ftp://crm.example.com/", "the scheme must be http or https"),
        ("gopher://127.0.0.1:8080/", "the scheme must be http or https"),
        ("https://user:pw@crm.example.com/", "may not carry credentials"),
        ("https://crm.example.com:99999/", "not a valid URL"),
        ("/relative/path", "must name a host"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    refusal = url_refusal(url, ALLOWED)
    assert refusal is not None
    assert reason in refusal


def test_an_empty_allow_list_refuses_everything() -> None:
    assert url_refusal("https://crm.example.com/", []) is not None


def test_host_refusal_takes_parts_as_a_client_parsed_them() -> None:
    assert host_refusal("https", "crm.example.com", None, ALLOWED) is None
    assert host_refusal("http", "api.example.com", 8443, ALLOWED) is None
    assert host_refusal("https", "api.example.com", None, ALLOWED) is not None


@pytest.mark.parametrize(
    ("entry", "host", "port"),
    [
        ("crm.example.com", "crm.example.com", None),
        (" CRM.example.com:8443 ", "crm.example.com", 8443),
        ("[::1]:9000", "::1", 9000),
        ("10.0.0.5", "10.0.0.5", None),
    ],
)
def test_allow_list_entries_parse(entry: str, host: str, port: int | None) -> None:
    assert tuple(parse_allowed_host(entry)) == (host, port)


@pytest.mark.parametrize(
    "entry", ["https://crm.example.com", "crm.example.com/api", "user@crm.example.com", "", ":80"]
)
def test_allow_list_entries_that_are_not_hosts_are_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="not a host"):
        parse_allowed_host(entry)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
        "::",
        "224.0.0.1",
    ],
)
def test_link_local_metadata_and_non_unicast_addresses_are_refused(address: str) -> None:
    assert address_refusal(address) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "93.184.215.14", "::1", "2001:db8::1"]
)
def test_ordinary_addresses_pass(address: str) -> None:
    assert address_refusal(address) is None


def test_headers_that_reroute_or_reframe_a_request_are_named() -> None:
    names = ["Authorization", "Host", "X-Api-Key", "Transfer-Encoding", "content-length"]
    assert header_refusals(names) == ["Host", "Transfer-Encoding", "content-length"]
