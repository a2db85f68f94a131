"""Audit the installed dependencies for known vulnerabilities: `python -m tests.audit`.

Runs pip-audit on this environment (ticketflow itself, an editable install, is skipped) against
PyPI's vulnerability data. Any known vulnerability fails the run, unless its id is in IGNORED
with the reason. pip-audit has no retry of its own: a run that fails to reach the service is
tried again, up to ATTEMPTS times, each request bounded by --timeout. A dependency the
service has no record of (PyPI's per-release JSON answered 404: a package not from PyPI, or an
index that serves no per-release JSON) cannot be audited: it is listed, and fails the run only
under TICKETFLOW_AUDIT_STRICT=1, since a mirror without that API would otherwise fail every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Vulnerability id -> why it does not apply to Ticketflow; empty while none needs ignoring.
IGNORED: dict[str, str] = {}
ATTEMPTS = 3
REQUEST_TIMEOUT_SECONDS = 20
RUN_TIMEOUT_SECONDS = 600
NOT_AUDITED = "could not be audited"


def _run_pip_audit(output: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--local",
        "--skip-editable",
        "--progress-spinner",
        "off",
        "--timeout",
        str(REQUEST_TIMEOUT_SECONDS),
        "--format",
        "json",
        "--output",
        str(output),
    ]
    for vuln_id in IGNORED:
        command += ["--ignore-vuln", vuln_id]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )


def audit() -> dict[str, Any]:
    """pip-audit's JSON report, retried while the service cannot be reached."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "audit.json"
        for attempt in range(1, ATTEMPTS + 1):
            output.unlink(missing_ok=True)
            done = _run_pip_audit(output)
            # Exit 0 (clean) or 1 (vulnerabilities) with a report; without one, it failed.
            if done.returncode in (0, 1) and output.exists():
                report: dict[str, Any] = json.loads(output.read_text())
                return report
            sys.stderr.write(f"pip-audit attempt {attempt} failed:\n{done.stderr[-2000:]}\n")
            if attempt < ATTEMPTS:
                time.sleep(5 * attempt)
    raise SystemExit(f"pip-audit could not reach its vulnerability service in {ATTEMPTS} tries")


def verdict(report: dict[str, Any], *, strict: bool) -> tuple[int, list[str]]:
    """The exit code and the lines to print for one pip-audit JSON report."""
    lines = []
    vulnerable = [
        (dep["name"], dep["version"], vuln)
        for dep in report["dependencies"]
        for vuln in dep.get("vulns", [])
    ]
    for name, version, vuln in vulnerable:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
        lines.append(f"VULNERABLE {name} {version}: {vuln['id']} (fixed in {fixes})")
    audited = [dep for dep in report["dependencies"] if "vulns" in dep]
    unknown = [
        dep["name"] for dep in report["dependencies"] if NOT_AUDITED in dep.get("skip_reason", "")
    ]
    if unknown:
        lines.append(
            f"{'ERROR' if strict else 'WARNING'}: {len(unknown)} of "
            f"{len(report['dependencies'])} dependencies could not be audited (the vulnerability "
            f"service has no record of them): {', '.join(sorted(unknown))}"
        )
    lines.append(
        f"pip-audit: {len(audited)} dependencies audited, {len(vulnerable)} known vulnerabilities"
        + (f", {len(IGNORED)} ignored: {', '.join(IGNORED)}" if IGNORED else "")
    )
    failed = bool(vulnerable) or (strict and bool(unknown))
    return (1 if failed else 0), lines


def main() -> int:
    """Audit, print the verdict, and exit non-zero on a known vulnerability."""
    code, lines = verdict(audit(), strict=os.environ.get("TICKETFLOW_AUDIT_STRICT") == "1")
    sys.stdout.write("\n".join(lines) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
