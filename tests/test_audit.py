"""The dependency audit's verdict on pip-audit's JSON reports."""

from __future__ import annotations

from typing import Any

from tests.audit import verdict

CLEAN: dict[str, Any] = {
    "dependencies": [
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {"name": "ticketflow", "skip_reason": "distribution marked as editable"},
    ],
    "fixes": [],
}
VULNERABLE: dict[str, Any] = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [
                {
                    "id": "GHSA-h5c8-rqwp-cp95",
                    "fix_versions": ["3.1.3"],
                    "aliases": ["CVE-2024-22195"],
                    "description": "xmlattr filter accepts keys containing spaces",
                }
            ],
        },
        *CLEAN["dependencies"],
    ],
    "fixes": [],
}
UNKNOWN: dict[str, Any] = {
    "dependencies": [
        *CLEAN["dependencies"],
        {
            "name": "aiomqtt",
            "skip_reason": "Dependency not found on PyPI and could not be audited: aiomqtt (2.5.1)",
        },
    ],
    "fixes": [],
}


def test_a_clean_report_passes() -> None:
    code, lines = verdict(CLEAN, strict=True)
    assert code == 0
    assert lines == ["pip-audit: 1 dependencies audited, 0 known vulnerabilities"]


def test_a_known_vulnerability_fails_and_names_its_fix() -> None:
    code, lines = verdict(VULNERABLE, strict=False)
    assert code == 1
    assert "VULNERABLE jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in lines


def test_dependencies_not_audited_are_listed_and_fail_only_when_strict() -> None:
    code, lines = verdict(UNKNOWN, strict=False)
    assert code == 0
    assert lines[0].startswith("WARNING: 1 of 3 dependencies could not be audited")
    assert "aiomqtt" in lines[0]
    assert verdict(UNKNOWN, strict=True)[0] == 1
