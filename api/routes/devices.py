"""The device registry: process owners register devices; agents and auditors read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.deps import SessionDep, SettingsDep, require_roles
from api.problems import ProblemError
from api.routes.definitions import _document
from api.schemas import redactable
from domain.devices import ID_PATTERN, SITE_PATTERN, ModbusPoint, OpcuaPoint, Threshold
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from policies.authorization import READ_DEVICES, REGISTER_DEVICES
from policies.devices import redact_device
from services.devices import register_device, stored_device
from store import devices as store
from store.models import DeviceRow
from store.tickets import BadCursor

router = APIRouter(tags=["devices"])
Registrar = Annotated[Actor, Depends(require_roles(*REGISTER_DEVICES))]
Reader = Annotated[Actor, Depends(require_roles(*READ_DEVICES))]
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="The device's id.")]


class SecurityView(BaseModel):
    """An OPC UA device's security; the file paths are shown to admins only."""

    model_config = ConfigDict(json_schema_extra=redactable("mode", "policy"))

    mode: str
    policy: str
    certificate: str
    private_key: str
    server_certificate: str | None = None


class DeviceView(BaseModel):
    """A registered device version, redacted for the caller."""

    id: str
    version: int
    site: str
    model: str
    protocol: str
    endpoint: str
    unit_id: int | None
    security: SecurityView | None
    points: list[ModbusPoint] | list[OpcuaPoint]
    window_minutes: int
    poll_seconds: float
    thresholds: dict[str, Threshold]
    registered_at: datetime
    registered_by: str


class DevicePage(BaseModel):
    """One page of devices by id; pass `next_cursor` as `cursor` for the next."""

    items: list[DeviceView]
    next_cursor: str | None


DEVICE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "id": "pump-7",
                    "site": "local",
                    "model": "Acme PLC 200",
                    "protocol": "modbus-tcp",
                    "endpoint": "tcp://127.0.0.1:502",
                    "unit_id": 1,
                    "points": [{"name": "temperature", "register": "holding", "address": 0}],
                },
            },
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _view(row: DeviceRow, actor: Actor) -> dict[str, Any]:
    entry = {
        **stored_device(row).model_dump(mode="json"),
        "registered_at": row.registered_at,
        "registered_by": row.registered_by,
    }
    return redact_device(jsonable_encoder(entry), actor.role)


@router.post(
    "/devices",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceView,
    responses={200: {"model": DeviceView, "description": "The latest version was the same."}},
    openapi_extra=DEVICE_BODY,
)
async def register(
    request: Request, session: SessionDep, actor: Registrar, settings: SettingsDep
) -> JSONResponse:
    """Check a device (JSON or YAML) completely and register it as its id's next version.

    A 422 lists every problem; a document the latest version already holds is a 200 that
    registers nothing.
    """
    document = await _document(request)
    now = datetime.now(UTC)
    try:
        device = await register_device(
            session=session, document=document, actor=actor, settings=settings, now=now
        )
    except Rejected as exc:
        raise ProblemError(422, "the device is not valid", problems=exc.problems) from exc
    row = await store.get_device(session=session, device_id=device.id, version=device.version)
    assert row is not None  # stored or read just now, in this transaction
    await session.commit()
    created = row.registered_at == now
    return JSONResponse(
        _view(row, actor), status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


@router.get("/devices", response_model=DevicePage)
async def list_devices(
    session: SessionDep,
    actor: Reader,
    site: Annotated[str | None, Query(pattern=SITE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    """The latest version of every device (of one site), by id; follow `next_cursor`."""
    try:
        rows, next_cursor = await store.list_devices(
            session=session, limit=limit, cursor=cursor, site=site
        )
    except BadCursor as exc:
        raise ProblemError(
            422,
            "the cursor is not valid",
            problems=[Problem(pointer="query:/cursor", detail=str(exc))],
        ) from exc
    items = [_view(row, actor) for row in rows]
    return JSONResponse({"items": items, "next_cursor": next_cursor})


@router.get("/devices/{device_id}", response_model=DeviceView)
async def get_device(device_id: DeviceId, session: SessionDep, actor: Reader) -> JSONResponse:
    """The latest version of a device."""
    row = await store.get_device(session=session, device_id=device_id)
    if row is None:
        raise ProblemError(404, f"no device {device_id}")
    return JSONResponse(_view(row, actor))
