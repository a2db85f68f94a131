"""Feedback arithmetic (CSAT, NPS at the 6/7/8/9 boundaries) and the solution a rating rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.feedback import (
    CSAT_MAX,
    CSAT_MIN,
    NPS_MAX,
    NPS_MIN,
    DeliverableRef,
    Solution,
    csat_summary,
    nps_summary,
    solution_of,
    tally,
)
from domain.ticket import TicketEvent

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# (nps answers, promoters, passives, detractors, score)
NPS_TABLE = [
    ([6], 0, 0, 1, -100.0),
    ([7], 0, 1, 0, 0.0),
    ([8], 0, 1, 0, 0.0),
    ([9], 1, 0, 0, 100.0),
    ([6, 7, 8, 9], 1, 2, 1, 0.0),
    ([0, 10, 10], 2, 0, 1, 33.33),
    ([9, 9, 9, 6], 3, 0, 1, 50.0),
    ([7, 8, 7, 8, 7], 0, 5, 0, 0.0),
    ([0, 1, 2, 3, 4, 5, 6], 0, 0, 7, -100.0),
    ([6, 9, 9], 2, 0, 1, 33.33),
    ([6, 6, 9], 1, 0, 2, -33.33),
]


@pytest.mark.parametrize(("answers", "promoters", "passives", "detractors", "score"), NPS_TABLE)
def test_nps_counts_promoters_from_9_and_detractors_up_to_6(
    answers: list[int], promoters: int, passives: int, detractors: int, score: float
) -> None:
    summary = nps_summary(tally((5, nps) for nps in answers))
    assert (summary.promoters, summary.passives, summary.detractors) == (
        promoters,
        passives,
        detractors,
    )
    assert summary.score == score
    assert summary.count == len(answers)


# (csat answers, mean, % satisfied)
CSAT_TABLE = [
    ([5], 5.0, 100.0),
    ([4], 4.0, 100.0),
    ([3], 3.0, 0.0),
    ([1], 1.0, 0.0),
    ([3, 4], 3.5, 50.0),
    ([1, 2, 3, 4, 5], 3.0, 40.0),
    ([5, 5, 4], 4.667, 100.0),
    ([2, 3, 3], 2.667, 0.0),
    ([4, 3, 3], 3.333, 33.33),
]


@pytest.mark.parametrize(("answers", "mean", "satisfied"), CSAT_TABLE)
def test_csat_is_the_mean_and_the_share_answering_4_or_5(
    answers: list[int], mean: float, satisfied: float
) -> None:
    summary = csat_summary(tally((csat, 8) for csat in answers))
    assert (summary.count, summary.mean, summary.satisfied_pct) == (len(answers), mean, satisfied)


def test_no_answers_have_no_scores() -> None:
    empty = tally([])
    assert csat_summary(empty).model_dump() == {"count": 0, "mean": None, "satisfied_pct": None}
    assert nps_summary(empty).model_dump() == {
        "count": 0,
        "score": None,
        "promoters": 0,
        "passives": 0,
        "detractors": 0,
    }


ratings = st.lists(
    st.tuples(st.integers(CSAT_MIN, CSAT_MAX), st.integers(NPS_MIN, NPS_MAX)), min_size=1
)


@given(ratings)
def test_scores_stay_within_their_scales(answers: list[tuple[int, int]]) -> None:
    counts = tally(answers)
    nps, csat = nps_summary(counts), csat_summary(counts)
    assert nps.promoters + nps.passives + nps.detractors == len(answers)
    assert nps.score is not None
    assert -100 <= nps.score <= 100
    assert csat.mean is not None
    assert CSAT_MIN <= csat.mean <= CSAT_MAX
    assert csat.satisfied_pct is not None
    assert 0 <= csat.satisfied_pct <= 100


@given(ratings)
def test_adding_a_promoter_never_lowers_the_score(answers: list[tuple[int, int]]) -> None:
    before = nps_summary(tally(answers)).score
    after = nps_summary(tally([*answers, (5, NPS_MAX)])).score
    assert before is not None
    assert after is not None
    assert after >= before


def _event(seq: int, type_: str, **data: Any) -> TicketEvent:
    return TicketEvent(seq=seq, type=type_, at=T0 + timedelta(minutes=seq), actor="dana", data=data)


def _done(seq: int, stage: str, group: str, type_: str = "task_completed") -> TicketEvent:
    return _event(seq, type_, task=f"K:{stage}:1", stage=stage, group=group, assignee="dana")


def _attached(seq: int, stage: str, name: str, version: int, sha: str) -> TicketEvent:
    described = {"version": version, "sha256": sha, "size": 3, "media_type": "text/plain"}
    return _event(
        seq,
        "deliverable_attached",
        stage=stage,
        group="ops",
        deliverable=name,
        version=version,
        attached={name: described},
    )


FOLLOWUP_DONE = _event(
    7, "task_completed", task="K:F1:1", stage="F1", group="cto-office", kind="followup"
)

# (events, the solution they bind to)
SOLUTIONS: list[tuple[str, list[TicketEvent], Solution]] = [
    (
        "the last stage done before resolving, with its latest versions",
        [
            _done(1, "triage", "service-desk"),
            _attached(2, "fix", "patch", 1, "a" * 64),
            _attached(3, "fix", "patch", 2, "b" * 64),
            _attached(4, "fix", "log", 1, "c" * 64),
            _attached(5, "diagnose", "trace", 1, "d" * 64),
            _done(6, "fix", "dev"),
            _event(8, "resolved"),
            _event(9, "closed"),
        ],
        Solution(
            stage="fix",
            team="dev",
            deliverables={
                "log": DeliverableRef(version=1, sha256="c" * 64),
                "patch": DeliverableRef(version=2, sha256="b" * 64),
            },
        ),
    ),
    (
        "a follow-up done last is not a stage",
        [_done(1, "fix", "dev"), FOLLOWUP_DONE, _event(8, "resolved")],
        Solution(stage="fix", team="dev"),
    ),
    (
        "after a reopen, the stage that resolved it the second time",
        [
            _done(1, "fix", "dev"),
            _event(2, "resolved"),
            _event(3, "reopened", reason="still broken", stages=["diagnose"]),
            _attached(4, "diagnose", "trace", 1, "e" * 64),
            _done(5, "diagnose", "ops"),
            _event(6, "resolved"),
            _event(7, "closed"),
        ],
        Solution(
            stage="diagnose",
            team="ops",
            deliverables={"trace": DeliverableRef(version=1, sha256="e" * 64)},
        ),
    ),
    (
        "versions attached after the resolution are not part of it",
        [
            _attached(1, "fix", "patch", 1, "a" * 64),
            _done(2, "fix", "dev"),
            _event(3, "resolved"),
            _attached(4, "fix", "patch", 2, "f" * 64),
        ],
        Solution(
            stage="fix",
            team="dev",
            deliverables={"patch": DeliverableRef(version=1, sha256="a" * 64)},
        ),
    ),
    (
        "an automated stage resolves like any",
        [
            _done(1, "fix", "dev"),
            _done(2, "notify", "ops", "service_completed"),
            _event(3, "resolved"),
        ],
        Solution(stage="notify", team="ops"),
    ),
    ("never resolved", [_done(1, "fix", "dev"), _event(2, "closed")], Solution()),
    ("resolved with every stage skipped", [_event(1, "resolved")], Solution()),
]


@pytest.mark.parametrize(
    ("events", "solution"), [(e, s) for _, e, s in SOLUTIONS], ids=[n for n, _, _ in SOLUTIONS]
)
def test_a_rating_is_bound_to_the_resolving_stage_and_its_versions(
    events: list[TicketEvent], solution: Solution
) -> None:
    assert solution_of(events) == solution
    assert solution_of(list(reversed(events))) == solution  # by sequence, not list order
