"""Pushed git commits: signatures, the keys a message names, the signal plan, and the ticket
taking a commit as the deliverable of the stages that expect one (pure domain)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.deliverables import CommitAuthor, GitCommit, unmet
from domain.git_commits import (
    MAX_KEYS_PER_COMMIT,
    PushedCommit,
    github_signature,
    github_signature_valid,
    gitlab_token_valid,
    plan_signals,
    pushed_commit,
    referenced_keys,
    signal_id,
)
from domain.ticket import GIT, TaskStatus, TicketState, TicketStatus
from policies.event_shapes import EVENT_SHAPES
from tests.domain.processes import DESK, OPS, process, stage, start
from tests.domain.tickets import NOW

SECRET = b"s3cret-webhook-key-0123"
BODY = b'{"ref":"refs/heads/main","commits":[]}'
SHA = "9f1c2ab" + "0" * 33
OTHER = "1" * 40


def _hmac(secret: bytes, body: bytes) -> str:
    # Written out here as GitHub documents it, independently of the code under test.
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (_hmac(SECRET, BODY), True),
        (_hmac(b"another-secret-entirely", BODY), False),
        (_hmac(SECRET, BODY + b" "), False),  # the body changed after signing
        (_hmac(SECRET, BODY).removeprefix("sha256="), False),
        (_hmac(SECRET, BODY).upper(), False),
        ("sha1=" + hmac.new(SECRET, BODY, hashlib.sha1).hexdigest(), False),
        ("", False),
        (None, False),
        ("sha256=é" + "0" * 63, False),  # not ASCII: refused, never an error
    ],
)
def test_a_github_signature_is_the_hmac_of_the_raw_body(header: str | None, valid: bool) -> None:
    assert github_signature_valid(SECRET, BODY, header) is valid


def test_the_signature_computed_is_githubs() -> None:
    assert github_signature(SECRET, BODY) == _hmac(SECRET, BODY)


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (SECRET.decode(), True),
        (SECRET.decode() + " ", False),
        (SECRET.decode()[:-1], False),
        ("", False),
        (None, False),
    ],
)
def test_a_gitlab_token_is_the_secret(header: str | None, valid: bool) -> None:
    assert gitlab_token_valid(SECRET, header) is valid


@pytest.mark.parametrize(
    ("message", "keys"),
    [
        ("IT-000042: restore the health check path", ["IT-000042"]),
        ("Fix LB path (IT-000042, INC-000007)\n\nRefs IT-000042", ["IT-000042", "INC-000007"]),
        ("Merge branch 'fix/IT-000042'", ["IT-000042"]),
        ("[TAB12CD34-000001] bump", ["TAB12CD34-000001"]),
        ("IT-1234567 counts past six digits", ["IT-1234567"]),
        ("it-000042 is not a key (lower case)", []),
        ("IT-42 is too short", []),
        ("XIT-000042x glued to a word", []),
        ("IT-000042-2 continues", []),
        ("ABCDEFGHIJK-000001 has an eleven-letter prefix", []),
        ("path/IT-000042.txt", ["IT-000042"]),
        ("", []),
    ],
)
def test_the_keys_a_message_names(message: str, keys: list[str]) -> None:
    assert referenced_keys(message) == (keys, 0)


def test_a_message_names_at_most_twenty_keys_the_rest_counted() -> None:
    message = " ".join(f"IT-{n:06d}" for n in range(1, 26))
    keys, dropped = referenced_keys(message)
    assert len(keys) == MAX_KEYS_PER_COMMIT
    assert keys[0] == "IT-000001"
    assert dropped == 25 - MAX_KEYS_PER_COMMIT


PREFIX = st.from_regex(r"\A[A-Z][A-Z0-9]{0,9}\Z")
NUMBER = st.integers(min_value=1, max_value=10**9)


@given(
    prefix=PREFIX,
    number=NUMBER,
    before=st.sampled_from(["", " ", "(", "[", "/", "\n", "fix: "]),
    after=st.sampled_from(["", " ", ")", "]", ".", ",", ":", "\n"]),
)
def test_any_key_handed_out_is_found_between_separators(
    prefix: str, number: int, before: str, after: str
) -> None:
    key = f"{prefix}-{number:06d}"  # as store/keys.py formats it
    assert referenced_keys(f"{before}{key}{after}") == ([key], 0)


@given(
    prefix=PREFIX,
    number=NUMBER,
    # An upper-case letter before it, or a digit after it, would make another key.
    before=st.sampled_from(["a", "7", "_", "-"]),
    after=st.sampled_from(["a", "Z", "_", "-"]),
)
def test_a_key_glued_to_a_word_is_not_one(
    prefix: str, number: int, before: str, after: str
) -> None:
    key = f"{prefix}-{number:06d}"
    assert referenced_keys(f"{before}{key}") == ([], 0)
    assert referenced_keys(f"{key}{after}") == ([], 0)


def commit(sha: str = SHA, message: str = "IT-000001: fix") -> PushedCommit:
    return pushed_commit(
        repository="ops/lb",
        repository_url="https://git.test/ops/lb",
        sha=sha,
        url=f"https://git.test/ops/lb/commit/{sha}",
        author=CommitAuthor(name="Devi", email="devi@example.com"),
        message=message,
    )


def test_a_long_message_is_kept_short_but_searched_whole() -> None:
    pushed = commit(message="x" * 10_000 + " IT-000009")
    assert len(pushed.commit.message) == 4000
    assert pushed.keys == ["IT-000009"]


@pytest.mark.parametrize(
    ("commits", "open_keys", "signalled", "ignored"),
    [
        ([commit()], {"IT-000001"}, [("IT-000001", SHA)], 0),
        ([commit()], set(), [], 1),
        (
            [commit(message="IT-000001 IT-000002 IT-000003"), commit(OTHER, "IT-000002")],
            {"IT-000001", "IT-000002"},
            [("IT-000001", SHA), ("IT-000002", SHA), ("IT-000002", OTHER)],
            1,
        ),
        # The same commit listed twice in one push is signalled once.
        ([commit(), commit()], {"IT-000001"}, [("IT-000001", SHA)], 0),
        ([commit(message="no key here")], {"IT-000001"}, [], 0),
        (
            [commit(message=" ".join(f"IT-{n:06d}" for n in range(1, 23)))],
            {"IT-000001"},
            [("IT-000001", SHA)],
            21,
        ),
    ],
)
def test_the_plan_signals_each_open_ticket_once_per_commit(
    commits: list[PushedCommit],
    open_keys: set[str],
    signalled: list[tuple[str, str]],
    ignored: int,
) -> None:
    plan = plan_signals("github", "d-1", commits, open_keys)
    assert [(s.ticket, s.signal.commit.sha) for s in plan.signals] == signalled
    assert plan.ignored == ignored
    for planned in plan.signals:
        assert planned.signal.signal_id == signal_id("github", "d-1", planned.signal.commit.sha)


def test_a_signal_id_is_stable_per_delivery_and_commit() -> None:
    first = signal_id("github", "d-1", SHA)
    assert first == signal_id("github", "d-1", SHA)
    others = {signal_id("github", "d-2", SHA), signal_id("github", "d-1", OTHER)}
    others.add(signal_id("gitlab", "d-1", SHA))
    assert first not in others
    assert len(others) == 3


COMMIT_SPEC = {"key": "commit", "kind": "git_commit"}


def ticket(*stages: dict[str, Any]) -> TicketState:
    return start(process(*stages))


def pushed(sha: str = SHA) -> GitCommit:
    return commit(sha).commit


def test_a_commit_is_the_version_of_each_open_stage_expecting_one() -> None:
    state = ticket(
        stage("fix", deliverables=[COMMIT_SPEC]),
        stage("deploy", group="ops", deliverables=[{**COMMIT_SPEC, "key": "release"}]),
        stage("verify", depends_on=["fix"], deliverables=[COMMIT_SPEC]),
    )
    state.claim("fix", DESK, NOW)
    events = state.attach_commit(pushed(), "sig-1", NOW)
    assert [(e.type, e.data["stage"], e.data["deliverable"]) for e in events] == [
        ("deliverable_attached", "fix", "commit"),
        ("deliverable_attached", "deploy", "release"),
    ]
    assert {e.actor for e in events} == {GIT}
    [version] = state.deliverables["fix"]["commit"]
    assert (version.value, version.author, version.version) == (SHA, GIT, 1)
    assert version.commit == pushed()
    described = events[0].data["attached"]["commit"]
    assert described["value"] == SHA
    assert described["commit"]["author"] == {"name": "Devi", "email": "devi@example.com"}
    # The version meets the contract: the stage may complete.
    assert unmet(state.contract("fix"), state.deliverables["fix"]) == []
    assert "verify" not in state.deliverables  # still pending: nothing attached
    assert state.tasks["fix"].status == TaskStatus.CLAIMED  # attaching completes nothing


def test_a_redelivery_changes_nothing_and_a_commit_is_never_attached_twice() -> None:
    state = ticket(stage("fix", deliverables=[COMMIT_SPEC]))
    first = state.attach_commit(pushed(), "sig-1", NOW)
    assert [e.type for e in first] == ["deliverable_attached"]
    seq = state.last_seq
    assert state.attach_commit(pushed(), "sig-1", NOW) == []
    assert state.last_seq == seq
    # The same commit in another delivery (pushed again elsewhere) is recorded, not attached.
    again = state.attach_commit(pushed(), "sig-2", NOW)
    assert [e.type for e in again] == ["commit_referenced"]
    assert len(state.deliverables["fix"]["commit"]) == 1
    # Another commit is the next version.
    later = state.attach_commit(pushed(OTHER), "sig-3", NOW)
    assert [e.data["version"] for e in later] == [2]


@pytest.mark.parametrize(
    "stages",
    [
        [stage("fix")],  # no contract at all
        [stage("fix", deliverables=[{"key": "capture", "kind": "file"}])],
        [stage("triage"), stage("fix", depends_on=["triage"], deliverables=[COMMIT_SPEC])],
    ],
    ids=["no-contract", "no-git-commit", "stage-not-open"],
)
def test_a_commit_no_open_stage_expects_is_recorded_and_attaches_nothing(
    stages: list[dict[str, Any]],
) -> None:
    state = ticket(*stages)
    [event] = state.attach_commit(pushed(), "sig-1", NOW)
    assert event.type == "commit_referenced"
    assert event.actor == GIT
    assert event.data["sha"] == SHA
    assert event.data["message"] == "IT-000001: fix"
    assert state.deliverables == {}
    assert set(event.data) <= set(EVENT_SHAPES["commit_referenced"].data)


def test_a_done_stage_takes_no_commit() -> None:
    state = ticket(
        stage("fix", deliverables=[{**COMMIT_SPEC, "required": False}]), stage("check", group="ops")
    )
    state.claim("fix", DESK, NOW)
    state.complete("fix", DESK, {}, NOW)
    state.open_ready_tasks(NOW)
    assert [e.type for e in state.attach_commit(pushed(), "sig-1", NOW)] == ["commit_referenced"]


def test_a_commit_attaches_whoever_holds_the_task() -> None:
    state = ticket(stage("fix", group="ops", deliverables=[COMMIT_SPEC]))
    state.claim("fix", OPS, NOW)
    assert [e.type for e in state.attach_commit(pushed(), "sig-1", NOW)] == ["deliverable_attached"]


def test_an_amended_contract_is_the_one_that_counts() -> None:
    state = ticket(stage("fix", deliverables=[COMMIT_SPEC]))
    state.amend_contract("fix", DESK, [], "no code change needed", NOW)
    assert [e.type for e in state.attach_commit(pushed(), "sig-1", NOW)] == ["commit_referenced"]


def test_a_closed_ticket_takes_nothing() -> None:
    state = ticket(stage("fix", deliverables=[COMMIT_SPEC]))
    state.cancel(DESK, "filed twice", NOW)
    assert state.status == TicketStatus.CANCELLED
    assert state.attach_commit(pushed(), "sig-1", NOW) == []
    assert state.commit_signals == []
