"""Workflows never pull scikit-learn (or numpy) in: inference stays in activities."""

from __future__ import annotations

import subprocess
import sys


def test_workflow_modules_import_no_ml_library() -> None:
    probe = (
        "import sys, workflows.ticket, workflows.triage_retrain, domain.triage_routing;"
        "print(sorted(m for m in ('sklearn', 'numpy', 'scipy', 'joblib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
