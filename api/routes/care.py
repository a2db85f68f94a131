"""Care strategies: process owners publish them as versions; the care of tickets reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel

from api.deps import SessionDep, require_roles
from api.params import Version
from api.problems import ProblemError
from api.routes.definitions import _document
from domain.care import KEY_PATTERN
from domain.problems import Rejected
from domain.ticket import Actor
from policies.authorization import PUBLISH, READ_CARE_STRATEGIES
from services.care import publish_strategy
from store import care as store
from store.models import CareStrategyRow

router = APIRouter(tags=["care"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]
Reader = Annotated[Actor, Depends(require_roles(*READ_CARE_STRATEGIES))]
StrategyKey = Annotated[str, Path(pattern=KEY_PATTERN, description="The strategy's key.")]


class StrategyDetail(BaseModel):
    """A published strategy version with its full document (calendars inline)."""

    key: str
    version: int
    title: str
    published_at: datetime
    published_by: str
    document: dict[str, Any]


STRATEGY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "key": "after-repair",
                    "title": "After a repair",
                    "rules": [
                        {
                            "name": "vip",
                            "when": {"tiers": ["vip"]},
                            "actions": [
                                {"action": "survey", "delay": "P1D"},
                                {"action": "supervisor_call", "delay": "PT0S", "mode": "confirm"},
                            ],
                        },
                        {"name": "everyone", "actions": [{"action": "survey", "delay": "P3D"}]},
                    ],
                },
            },
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _detail(row: CareStrategyRow) -> StrategyDetail:
    return StrategyDetail(
        key=row.key,
        version=row.version,
        title=row.title,
        published_at=row.published_at,
        published_by=row.published_by,
        document=row.document,
    )


@router.post(
    "/care/strategies",
    status_code=status.HTTP_201_CREATED,
    response_model=StrategyDetail,
    openapi_extra=STRATEGY_BODY,
)
async def create_strategy(
    request: Request, session: SessionDep, actor: Publisher
) -> StrategyDetail:
    """Check a care strategy (JSON or YAML) completely and publish its next version.

    A 422 lists every problem with its pointer; nothing is stored.
    """
    document = await _document(request)
    try:
        row = await publish_strategy(session=session, document=document, published_by=actor.user)
    except Rejected as exc:
        raise ProblemError(422, "the care strategy is not valid", problems=exc.problems) from exc
    await session.commit()
    return _detail(row)


@router.get("/care/strategies/{key}", response_model=StrategyDetail)
async def latest_strategy(key: StrategyKey, session: SessionDep, _actor: Reader) -> StrategyDetail:
    """The latest version of a strategy."""
    row = await store.get_strategy(session=session, key=key)
    if row is None:
        raise ProblemError(404, f"no care strategy {key}")
    return _detail(row)


@router.get("/care/strategies/{key}/versions/{version}", response_model=StrategyDetail)
async def strategy_version(
    key: StrategyKey, version: Version, session: SessionDep, _actor: Reader
) -> StrategyDetail:
    """One version of a strategy (published versions never change)."""
    row = await store.get_strategy(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no care strategy {key}@{version}")
    return _detail(row)
