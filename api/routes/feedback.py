"""The customer's feedback link: CSAT and NPS for a closed ticket, no account needed.

The token in the path (services.feedback_tokens) is the only credential, so a client whose
tokens keep failing is refused for a while, like one guessing bearer tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import IdempotencyKeyDep, SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.limits import FailedAuthLimit
from api.problems import ProblemError, reused_idempotency_key
from api.schemas import Strict, redactable
from domain.feedback import CSAT_MAX, CSAT_MIN, MAX_COMMENT, NPS_MAX, NPS_MIN
from services.feedback import IdempotencyKeyReused, Rating, record_feedback
from services.sentiment import submit_quietly
from store.models import FeedbackRow

router = APIRouter(tags=["feedback"])
Token = Annotated[
    str, Path(min_length=1, max_length=512, description="From the link `feedback_url` made.")
]
# One answer for every token that may not rate: which case it was is not said.
NOT_VALID = "this link is not valid or was used already"


class FeedbackRequest(Strict):
    """How satisfied the customer is, how likely to recommend us, and what they want to say."""

    csat: int = Field(ge=CSAT_MIN, le=CSAT_MAX, description="Satisfaction, 1 (low) to 5 (high).")
    nps: int = Field(
        ge=NPS_MIN, le=NPS_MAX, description="How likely to recommend us, 0 (not) to 10."
    )
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class FeedbackRecorded(BaseModel):
    """What was recorded (nothing about the ticket beyond it)."""

    csat: int
    nps: int
    given_at: datetime


class VersionView(BaseModel):
    """A deliverable version by its content hash."""

    version: int
    sha256: str


class SolutionView(BaseModel):
    """What the rating rated: the resolving stage, its team, its deliverables, its playbook."""

    model_config = ConfigDict(json_schema_extra=redactable("deliverables", "playbook"))

    stage: str | None = None
    team: str | None = None
    deliverables: dict[str, VersionView] = Field(default_factory=dict)
    playbook: str | None = None


class RatingView(BaseModel):
    """A ticket's rating, redacted for the caller: the comment only with its clearance."""

    model_config = ConfigDict(json_schema_extra=redactable("csat", "nps", "given_at", "solution"))

    csat: int
    nps: int
    given_at: datetime
    comment: str | None = None
    solution: SolutionView


def rating_view(row: FeedbackRow) -> RatingView:
    """A stored rating as the ticket detail shows it (before redaction)."""
    return RatingView(
        csat=row.csat,
        nps=row.nps,
        given_at=row.given_at,
        comment=row.comment,
        solution=SolutionView(
            stage=row.stage,
            team=row.team,
            deliverables={k: VersionView(**v) for k, v in row.deliverables.items()},
            playbook=row.playbook,
        ),
    )


@router.post(
    "/feedback/{token}", status_code=status.HTTP_201_CREATED, response_model=FeedbackRecorded
)
async def give_feedback(
    token: Token,
    body: FeedbackRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyDep,
) -> FeedbackRecorded:
    """Rate a closed ticket once, with the token of its feedback link.

    A token that is forged, malformed, used before or names a ticket that is not closed is a
    404 that records nothing; a client sending too many of them gets 429 for a while. A retry
    with the same Idempotency-Key and answer returns the first outcome. The comment is the
    customer's message: taken for sentiment analysis if the ticket names a customer who
    consents to it.
    """
    failures: FailedAuthLimit = request.app.state.feedback_failures
    client = request.client.host if request.client else "-"
    wait = await failures.retry_after(client)
    if wait is not None:
        raise ProblemError(
            429,
            "too many invalid feedback links from this client; retry later",
            headers={"Retry-After": str(wait)},
        )
    rating = Rating(csat=body.csat, nps=body.nps, comment=body.comment)
    now = datetime.now(UTC)
    try:
        recorded = await record_feedback(
            session=session,
            settings=settings,
            token=token,
            rating=rating,
            idempotency_key=idempotency_key,
            now=now,
        )
    except IdempotencyKeyReused as exc:
        await session.rollback()
        raise reused_idempotency_key("another answer to this link") from exc
    if recorded is None:
        await session.rollback()
        await failures.failed(client)
        raise ProblemError(404, NOT_VALID)
    await session.commit()
    row = recorded.row
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    elif recorded.customer_id is not None and row.comment:
        await submit_quietly(
            sessions=sessions,
            client=temporal,
            settings=settings,
            customer_id=recorded.customer_id,
            text=row.comment,
            source="feedback",
            now=now,
            ticket_key=row.ticket_key,
        )
    return FeedbackRecorded(csat=row.csat, nps=row.nps, given_at=row.given_at)
