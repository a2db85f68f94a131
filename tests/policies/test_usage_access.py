"""Who reads which usage: admins anyone's, a system only its own, every other role nobody's."""

from __future__ import annotations

import pytest

from policies.authorization import READ_USAGE, may_call, usage_subject
from policies.roles import ADMIN, AGENT, AUDITOR, PROCESS_OWNER, REQUESTER, SYSTEM


@pytest.mark.parametrize(
    ("role", "asked", "expected"),
    [
        (ADMIN, None, (True, None)),
        (ADMIN, "gateway", (True, "gateway")),
        (SYSTEM, None, (True, "monitor")),
        (SYSTEM, "monitor", (True, "monitor")),
        (SYSTEM, "gateway", (False, "monitor")),
    ],
)
def test_whose_usage_a_caller_gets(
    role: str, asked: str | None, expected: tuple[bool, str | None]
) -> None:
    assert usage_subject(role, "monitor", asked) == expected


@pytest.mark.parametrize(
    ("role", "admitted"),
    [
        (ADMIN, True),
        (SYSTEM, True),
        (AGENT, False),
        (AUDITOR, False),
        (PROCESS_OWNER, False),
        (REQUESTER, False),
    ],
)
def test_only_admins_and_systems_pass_the_usage_gate(role: str, admitted: bool) -> None:
    assert may_call(role, READ_USAGE) is admitted
