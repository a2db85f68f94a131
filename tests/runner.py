"""Run the test suite: `python -m tests.runner [pytest args]`."""

from __future__ import annotations

import os
import sys

import pytest


def main(args: list[str]) -> int:
    """Run pytest with `args` and return its exit code, explaining a run that collected nothing."""
    code = int(pytest.main(args))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        sys.stderr.write("tests.runner: pytest collected no tests (exit code 5); check the args\n")
    return code


if __name__ == "__main__":
    exit_code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's native runtime can abort in PyGILState_Release during interpreter
    # finalization; skipping finalization keeps the real exit code (the SDK's tests do the same).
    os._exit(exit_code)
