"""Where `http.request` may call: rules the publish checks and the activity share.

The allow-list (`TICKETFLOW_HTTP_ALLOWED_HOSTS`) holds `host` or `host:port` entries. An entry
without a port allows only the default port of the URL's scheme (80 for http, 443 for https), so
listing a web host does not open its other services. Host names compare case-insensitively,
without a trailing dot, and international names in their ASCII (punycode) form.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud metadata endpoints outside the link-local range (AWS over IPv6, Alibaba Cloud).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)

# Headers a parameter may not set: they would change where the request goes or how it is
# framed (request smuggling), hand credentials to a proxy, or ask for a compressed body that
# would be inflated before its size is bounded.
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "accept-encoding",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
    }
)


class AllowedHost(NamedTuple):
    """One allow-list entry: a host and, when given, the only port allowed on it."""

    host: str
    port: int | None


def normalise_host(host: str) -> str:
    """A host name as the allow-list compares it: lower case, no trailing dot, ASCII form."""
    host = host.strip().rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def parse_allowed_host(entry: str) -> AllowedHost:
    """An allow-list entry (`host`, `host:port`, `[v6]:port`); ValueError for anything else."""
    parts = urlsplit("//" + entry.strip())
    if not parts.hostname or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{entry!r} is not a host or host:port")
    return AllowedHost(normalise_host(parts.hostname), parts.port)


def host_refusal(scheme: str, host: str, port: int | None, allowed: Iterable[str]) -> str | None:
    """Why a call to scheme://host:port is not allowed, or None when the allow-list admits it."""
    if scheme not in DEFAULT_PORTS:
        return f"the scheme must be http or https, not {scheme!r}"
    effective = port if port is not None else DEFAULT_PORTS[scheme]
    name = normalise_host(host)
    for entry in allowed:
        listed = parse_allowed_host(entry)
        if listed.host == name and (listed.port or DEFAULT_PORTS[scheme]) == effective:
            return None
    shown = f"[{name}]" if ":" in name else name
    return f"{shown}:{effective} is not on the allowed hosts (TICKETFLOW_HTTP_ALLOWED_HOSTS)"


def url_refusal(url: str, allowed: Iterable[str]) -> str | None:
    """Why `url` may not be called under the allow-list, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme and parts.scheme.lower() not in DEFAULT_PORTS:
        return f"the scheme must be http or https, not {parts.scheme.lower()!r}"
    if not parts.hostname:
        return "the URL must name a host"
    if parts.username is not None or parts.password is not None:
        return "the URL may not carry credentials; send them in a header"
    return host_refusal(parts.scheme.lower(), parts.hostname, port, allowed)


def address_refusal(address: str) -> str | None:
    """Why a resolved IP address may not be connected to (link-local, metadata...), or None."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (where cloud metadata services answer)"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast host address"
    return None


def header_refusals(headers: Iterable[str]) -> list[str]:
    """The header names of `headers` that a parameter may not set."""
    return [name for name in headers if name.strip().lower() in FORBIDDEN_HEADERS]
