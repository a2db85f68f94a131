"""Customer feedback on a closed ticket: the score arithmetic and the solution it rates.

CSAT is 1 to 5, satisfied from 4; NPS is 0 to 10, promoters from 9, detractors up to 6, and the
score is promoters minus detractors in percent of all answers. A rating is bound to the
ticket's solution: the stage whose completion last came before the ticket resolved, that
stage's team, and the latest version of each deliverable it handed over by then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from domain.ticket import TicketEvent

CSAT_MIN, CSAT_MAX = 1, 5
NPS_MIN, NPS_MAX = 0, 10
SATISFIED_FROM = 4
PROMOTER_FROM = 9
DETRACTOR_UP_TO = 6
MAX_COMMENT = 2000

RESOLVED = "resolved"
ATTACHED = "deliverable_attached"
# The events that mark a stage done, whatever its kind (a person's task, an action, a wait, a
# timer, a child ticket). A follow-up's completion names no stage: it is not one.
STAGE_DONE = (
    "task_completed",
    "service_completed",
    "wait_matched",
    "wait_timed_out",
    "timer_fired",
    "subprocess_closed",
)
# What `solution_of` reads of a ticket's events.
SOLUTION_EVENTS = (RESOLVED, ATTACHED, *STAGE_DONE)


class DeliverableRef(BaseModel):
    """One version of a deliverable, by its content hash."""

    version: int
    sha256: str


class Solution(BaseModel):
    """What a rating rates: the resolving stage, its team, its deliverables, its playbook."""

    stage: str | None = None
    team: str | None = None
    deliverables: dict[str, DeliverableRef] = Field(default_factory=dict)
    playbook: str | None = None


def _last_resolution(events: Sequence[TicketEvent]) -> int | None:
    return max((e.seq for e in events if e.type == RESOLVED), default=None)


def resolving_stage(events: Sequence[TicketEvent]) -> TicketEvent | None:
    """The last stage completion before the ticket's last resolution (a reopen resolves again)."""
    resolved = _last_resolution(events)
    if resolved is None:
        return None
    done = [
        e
        for e in events
        if e.seq < resolved and e.type in STAGE_DONE and "kind" not in e.data and "stage" in e.data
    ]
    return max(done, key=lambda e: e.seq, default=None)


def stage_versions(
    events: Sequence[TicketEvent], stage: str, before_seq: int
) -> dict[str, DeliverableRef]:
    """The latest version of each deliverable `stage` attached before `before_seq`, by name."""
    latest: dict[str, DeliverableRef] = {}
    for event in sorted(events, key=lambda e: e.seq):
        if event.type != ATTACHED or event.seq >= before_seq or event.data.get("stage") != stage:
            continue
        name = event.data.get("deliverable")
        described = event.data.get("attached", {}).get(name)
        if isinstance(name, str) and isinstance(described, dict):
            latest[name] = DeliverableRef(version=described["version"], sha256=described["sha256"])
    return {name: latest[name] for name in sorted(latest)}


def solution_of(events: Sequence[TicketEvent]) -> Solution:
    """The solution a closed ticket's rating is bound to (empty when no stage was completed)."""
    done = resolving_stage(events)
    resolved = _last_resolution(events)
    if done is None or resolved is None:
        return Solution()
    stage = str(done.data["stage"])
    return Solution(
        stage=stage,
        team=done.data.get("group"),
        deliverables=stage_versions(events, stage, resolved),
    )


@dataclass(frozen=True)
class Tally:
    """Counts that CSAT and NPS are computed from (SQL sums them the same way)."""

    count: int = 0
    csat_total: int = 0
    satisfied: int = 0
    promoters: int = 0
    detractors: int = 0


def tally(ratings: Iterable[tuple[int, int]]) -> Tally:
    """The counts of these (csat, nps) answers."""
    answers = list(ratings)
    return Tally(
        count=len(answers),
        csat_total=sum(csat for csat, _ in answers),
        satisfied=sum(1 for csat, _ in answers if csat >= SATISFIED_FROM),
        promoters=sum(1 for _, nps in answers if nps >= PROMOTER_FROM),
        detractors=sum(1 for _, nps in answers if nps <= DETRACTOR_UP_TO),
    )


class CsatSummary(BaseModel):
    """Customer satisfaction: the mean score (1-5) and the share answering 4 or 5."""

    count: int
    mean: float | None
    satisfied_pct: float | None


class NpsSummary(BaseModel):
    """Net promoter score: promoters (9-10) minus detractors (0-6), in percent of answers."""

    count: int
    score: float | None
    promoters: int
    passives: int
    detractors: int


def csat_summary(counts: Tally) -> CsatSummary:
    """CSAT of these counts (None values without answers)."""
    if not counts.count:
        return CsatSummary(count=0, mean=None, satisfied_pct=None)
    return CsatSummary(
        count=counts.count,
        mean=round(counts.csat_total / counts.count, 3),
        satisfied_pct=round(100 * counts.satisfied / counts.count, 2),
    )


def nps_summary(counts: Tally) -> NpsSummary:
    """NPS of these counts (a None score without answers)."""
    passives = counts.count - counts.promoters - counts.detractors
    score = (
        round(100 * (counts.promoters - counts.detractors) / counts.count, 2)
        if counts.count
        else None
    )
    return NpsSummary(
        count=counts.count,
        score=score,
        promoters=counts.promoters,
        passives=passives,
        detractors=counts.detractors,
    )
