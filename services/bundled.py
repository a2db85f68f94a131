"""The example process definitions shipped with Ticketflow (ticketflow/examples/*.yaml)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import yaml

from domain.outbound import DEFAULT_PORTS


def bundled_definitions() -> list[tuple[str, dict[str, Any]]]:
    """Return (file name, parsed YAML document) for every bundled definition, sorted by name."""
    folder = files("ticketflow") / "examples"
    definitions: list[tuple[str, dict[str, Any]]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        document = yaml.safe_load(entry.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"bundled definition {entry.name} is not a YAML mapping")
        definitions.append((entry.name, document))
    return definitions


def bundled_http_hosts() -> list[str]:
    """The `host:port` of every URL the bundled definitions' `http.request` stages call.

    `ticketflow dev` allows these besides TICKETFLOW_HTTP_ALLOWED_HOSTS, so the examples publish
    on a fresh stack; nothing else adds hosts to the allow-list.
    """
    hosts: list[str] = []
    for _name, document in bundled_definitions():
        for stage in document.get("stages", []):
            service = stage.get("service") or {}
            if service.get("action") != "http.request":
                continue
            parts = urlsplit(service["params"]["url"])
            port = parts.port or DEFAULT_PORTS[parts.scheme]
            host = f"{parts.hostname}:{port}"
            if host not in hosts:
                hosts.append(host)
    return hosts
