"""Customers and their consent: care agents record them; readers see what the policy allows.

Every answer goes through the one redaction (policies.customers): contact fields and consent
are confidential, so outside the care department they are absent. A customer's revocation link
needs no account.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from temporalio.service import RPCError

from api.deps import AccessDep, SessionDep, SettingsDep, TemporalDep, require_roles
from api.problems import ProblemError
from api.routes.definitions import _document
from api.schemas import redactable
from domain.customers import CUSTOMER_ID_PATTERN, REGION_PATTERN, Purpose
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from policies.access import AccessControl
from policies.authorization import READ_CUSTOMERS, WRITE_CUSTOMERS, Write, refused_writes
from policies.customers import (
    customer_domain,
    customer_view,
    customer_writes,
    redact_customer,
    redact_history,
)
from policies.redaction import FieldView
from services.customers import (
    CustomerExists,
    check_customer,
    consent_document,
    create_customer,
    customer_document,
    record_consent,
    revoke_by_link,
    revoke_consent,
    tell_care_of_revocation,
)
from store import care as care_store
from store import customers as store
from store.models import CustomerRow
from store.tickets import BadCursor
from ticketflow.settings import Settings

router = APIRouter(tags=["customers"])
Writer = Annotated[Actor, Depends(require_roles(*WRITE_CUSTOMERS))]
Reader = Annotated[Actor, Depends(require_roles(*READ_CUSTOMERS))]
CustomerId = Annotated[str, Path(pattern=CUSTOMER_ID_PATTERN, description="The customer's id.")]
Token = Annotated[str, Path(min_length=1, max_length=200, description="From the consent link.")]


class ProductView(BaseModel):
    """A product the customer owns."""

    product_id: str
    name: str
    purchased_on: date


class ConsentView(BaseModel):
    """A consent given, and its revocation if it has one."""

    id: int
    purpose: str
    channel: str
    text: str
    given_at: datetime
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoked_via: str | None


class CustomerView(BaseModel):
    """A customer, redacted for the caller: fields they may not read are absent."""

    model_config = ConfigDict(json_schema_extra=redactable())

    id: str
    name: str
    email: str | None
    phone: str | None
    address: str | None
    tier: str
    lifetime_value: float | None
    region: str
    products: list[ProductView]
    created_at: datetime
    created_by: str
    consents: list[ConsentView]
    consenting_to: list[str]


class CustomerPage(BaseModel):
    """One page of customers by id; pass `next_cursor` as `cursor` for the next."""

    items: list[CustomerView]
    next_cursor: str | None


class ConsentRecorded(ConsentView):
    """The consent recorded, and the customer's one-time revocation link (shown only now)."""

    revocation_token: str
    revocation_path: str


class Revocation(BaseModel):
    """A revocation added to the customer's consent ledger."""

    customer_id: str
    purpose: str
    revoked_at: datetime
    via: str


class CareRecordView(BaseModel):
    """One step of the customer's care: on which ticket, what, when, by whom."""

    ticket_key: str
    care_seq: int
    ticket_seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any]


class CareHistoryView(BaseModel):
    """The care a customer got, newest first; without `care_history` access, no steps."""

    model_config = ConfigDict(json_schema_extra=redactable())

    customer_id: str
    items: list[CareRecordView]


class LinkRevocation(BaseModel):
    """What the customer's link revoked (nothing about the customer beyond it)."""

    purpose: str
    revoked_at: datetime


CUSTOMER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "id": "C-1001",
                    "name": "Li Wei",
                    "email": "li.wei@example.com",
                    "phone": "+86 138 0000 5678",
                    "lifetime_value": 12500,
                    "region": "east",
                    "products": [
                        {
                            "product_id": "AC-200",
                            "name": "Air conditioner",
                            "purchased_on": "2025-06-01",
                        }
                    ],
                },
            },
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
CONSENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "purpose": "care_messages",
                    "channel": "phone",
                    "text": "May we send you tips and offers about your purchase?",
                },
            }
        },
    }
}


def _view(access: AccessControl, actor: Actor, settings: Settings, region: str) -> FieldView:
    return customer_view(
        access,
        user=actor.user,
        role=actor.role,
        home=actor.department,
        domain=customer_domain(settings.care_department, region),
    )


def _care_unreachable(exc: RPCError) -> ProblemError:
    """A revocation the customer's care could not be told of: nothing is recorded."""
    return ProblemError(
        503,
        f"the revocation could not reach the customer's care ({exc.message}); nothing was "
        "recorded, retry",
        headers={"Retry-After": "2"},
    )


def _require_writes(view: FieldView, writes: tuple[Write, ...]) -> None:
    refused = refused_writes(view, writes)
    if refused:
        raise ProblemError(
            403,
            f"you may not write {', '.join(w.field for w in refused)}",
            problems=[
                Problem(pointer=w.pointer, detail=f"may not write customer.{w.field}")
                for w in refused
            ],
        )


def _require_consents(view: FieldView) -> None:
    """Consent changes answer with consent: they need reading `consents` as well as writing."""
    _require_writes(view, (Write("consents", "/consents"),))
    if not view.readable("consents"):
        raise ProblemError(
            403,
            "you may not read consents",
            problems=[Problem(pointer="/consents", detail="may not read customer.consents")],
        )


async def _shown(
    session: SessionDep, rows: list[tuple[CustomerRow, FieldView]], now: datetime
) -> list[dict[str, Any]]:
    """Each customer as its view shows it; ledgers are read only for callers who see them."""
    wanted = [row.id for row, view in rows if view.readable("consents")]
    ledgers = await store.consents_of_each(session=session, customer_ids=wanted)
    return [
        redact_customer(jsonable_encoder(customer_document(row, ledgers.get(row.id), now)), view)
        for row, view in rows
    ]


async def _readable(
    session: SessionDep, customer_id: str, actor: Actor, access: AccessControl, settings: Settings
) -> tuple[CustomerRow, FieldView]:
    """The customer and the caller's view of it, if they may see it; else 404."""
    row = await store.get_customer(session=session, customer_id=customer_id)
    if row is not None:
        view = _view(access, actor, settings, row.region)
        if view.visible():
            return row, view
    raise ProblemError(404, f"no customer {customer_id}")


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerView,
    openapi_extra=CUSTOMER_BODY,
)
async def create(
    request: Request,
    session: SessionDep,
    actor: Writer,
    settings: SettingsDep,
    access: AccessDep,
) -> JSONResponse:
    """Check a customer (JSON or YAML) completely and store it.

    A 422 lists every problem with its pointer; a field the caller may not write is a 403 naming
    each; an id that exists is a 409. Nothing is stored unless all is well.
    """
    document = await _document(request)
    try:
        customer = check_customer(document=document, settings=settings)
    except Rejected as exc:
        raise ProblemError(422, "the customer is not valid", problems=exc.problems) from exc
    assert isinstance(document, dict)  # check_customer refuses anything else
    view = _view(access, actor, settings, customer.region)
    _require_writes(view, customer_writes(document))
    now = datetime.now(UTC)
    try:
        row = await create_customer(
            session=session, document=document, actor=actor, settings=settings, now=now
        )
    except CustomerExists as exc:
        raise ProblemError(
            409,
            f"customer {exc} exists already",
            problems=[Problem(pointer="/id", detail=f"customer {exc} exists already")],
        ) from exc
    [shown] = await _shown(session, [(row, view)], now)
    await session.commit()
    return JSONResponse(shown, status_code=status.HTTP_201_CREATED)


@router.get("/customers", response_model=CustomerPage)
async def list_customers(
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
    access: AccessDep,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    """Customers (of one region) by id, each redacted for the caller; follow `next_cursor`.

    A customer the caller may read nothing of is left out, so a page can be short.
    """
    try:
        rows, next_cursor = await store.list_customers(
            session=session, limit=limit, cursor=cursor, region=region
        )
    except BadCursor as exc:
        raise ProblemError(
            422,
            "the cursor is not valid",
            problems=[Problem(pointer="query:/cursor", detail=str(exc))],
        ) from exc
    views = [(row, _view(access, actor, settings, row.region)) for row in rows]
    items = await _shown(session, [(r, v) for r, v in views if v.visible()], datetime.now(UTC))
    return JSONResponse({"items": items, "next_cursor": next_cursor})


@router.get("/customers/{customer_id}", response_model=CustomerView)
async def get_customer(
    customer_id: CustomerId,
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
    access: AccessDep,
) -> JSONResponse:
    """One customer, redacted for the caller; 404 if there is none they may see."""
    row, view = await _readable(session, customer_id, actor, access, settings)
    [shown] = await _shown(session, [(row, view)], datetime.now(UTC))
    return JSONResponse(shown)


@router.get("/customers/{customer_id}/history", response_model=CareHistoryView)
async def care_history(
    customer_id: CustomerId,
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """The steps of the customer's care over all their tickets (newest first), redacted.

    Each step is shown whole to callers who may read `customer.care_history` (confidential);
    others get no steps. 404 if there is no customer the caller may see.
    """
    row, view = await _readable(session, customer_id, actor, access, settings)
    records = []
    if view.readable("care_history"):
        found = await care_store.care_history(session=session, customer_id=row.id, limit=limit)
        records = [
            {
                "ticket_key": r.ticket_key,
                "care_seq": r.care_seq,
                "ticket_seq": r.ticket_seq,
                "type": r.type,
                "at": r.at,
                "actor": r.actor,
                "data": r.data,
            }
            for r in found
        ]
    document = {"customer_id": row.id, "items": records}
    return JSONResponse(jsonable_encoder(redact_history(document, view)))


@router.post(
    "/customers/{customer_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentRecorded,
    openapi_extra=CONSENT_BODY,
)
async def give_consent(
    customer_id: CustomerId,
    request: Request,
    session: SessionDep,
    actor: Writer,
    settings: SettingsDep,
    access: AccessDep,
) -> ConsentRecorded:
    """Record a customer's consent to a purpose: the channel, the text shown and when.

    The answer carries the customer's one-time revocation link; only its hash is kept.
    """
    row, view = await _readable(session, customer_id, actor, access, settings)
    _require_consents(view)
    document = await _document(request)
    now = datetime.now(UTC)
    try:
        grant, token = await record_consent(
            session=session, customer_id=row.id, document=document, actor=actor, now=now
        )
    except Rejected as exc:
        raise ProblemError(422, "the consent is not valid", problems=exc.problems) from exc
    answer = ConsentRecorded(
        **consent_document(grant, None),
        revocation_token=token,
        revocation_path=f"/consents/revoke/{token}",
    )
    await session.commit()
    return answer


@router.delete("/customers/{customer_id}/consents/{purpose}", response_model=Revocation)
async def withdraw_consent(
    customer_id: CustomerId,
    purpose: Purpose,
    session: SessionDep,
    actor: Writer,
    settings: SettingsDep,
    access: AccessDep,
    temporal: TemporalDep,
) -> Revocation:
    """Revoke a purpose: a revocation is added; the consent it ends stays on record.

    404 when no consent to the purpose is open.
    """
    row, view = await _readable(session, customer_id, actor, access, settings)
    _require_consents(view)
    try:
        revoked = await revoke_consent(
            session=session,
            customer_id=row.id,
            purpose=purpose,
            actor=actor,
            now=datetime.now(UTC),
            client=temporal,
            settings=settings,
        )
    except RPCError as exc:
        raise _care_unreachable(exc) from exc
    if revoked is None:
        raise ProblemError(404, f"customer {customer_id} has no open consent to {purpose}")
    await session.commit()
    await tell_care_of_revocation(session=session, temporal=temporal, revoked=revoked)
    return Revocation(
        customer_id=revoked.customer_id,
        purpose=revoked.purpose,
        revoked_at=revoked.at,
        via=revoked.via,
    )


@router.post("/consents/revoke/{token}", response_model=LinkRevocation)
async def revoke_with_link(
    token: Token, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> LinkRevocation:
    """The customer's one-time link: revokes the purpose it was given for, no account needed.

    A token used before, or never issued, is a 404 and records nothing.
    """
    try:
        revoked = await revoke_by_link(
            session=session, token=token, now=datetime.now(UTC), client=temporal, settings=settings
        )
    except RPCError as exc:
        raise _care_unreachable(exc) from exc
    if revoked is None:
        await session.rollback()
        raise ProblemError(404, "this link is not valid or was used already")
    await session.commit()
    await tell_care_of_revocation(session=session, temporal=temporal, revoked=revoked)
    return LinkRevocation(purpose=revoked.purpose, revoked_at=revoked.at)
