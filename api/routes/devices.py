"""The device registry: process owners register devices; agents and auditors read them and
their snapshots; agents take snapshots on demand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from temporalio.service import RPCError

from api.deps import SessionDep, SettingsDep, TemporalDep, require_roles
from api.problems import ProblemDocument, ProblemError
from api.routes.definitions import _document
from api.schemas import redactable
from domain.devices import (
    ID_PATTERN,
    SITE_PATTERN,
    ModbusPoint,
    OpcuaPoint,
    Snapshot,
    Threshold,
)
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from policies.authorization import READ_DEVICES, REGISTER_DEVICES, TAKE_SNAPSHOTS
from policies.devices import redact_device, redact_snapshot
from services.device_snapshots import SnapshotFailed, SnapshotTimeout, take_snapshot
from services.devices import register_device, stored_device
from store import devices as store
from store.models import DeviceRow, DeviceSnapshotRow
from store.tickets import BadCursor

router = APIRouter(tags=["devices"])
Registrar = Annotated[Actor, Depends(require_roles(*REGISTER_DEVICES))]
Reader = Annotated[Actor, Depends(require_roles(*READ_DEVICES))]
Snapshotter = Annotated[Actor, Depends(require_roles(*TAKE_SNAPSHOTS))]
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


class SnapshotList(BaseModel):
    """A device's latest snapshots, newest first."""

    items: list[Snapshot]


def _problem_answer(description: str) -> dict[str, Any]:
    return {"model": ProblemDocument, "description": description}


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
    return JSONResponse(_view(await _known_device(session, device_id), actor))


async def _known_device(session: SessionDep, device_id: str) -> DeviceRow:
    row = await store.get_device(session=session, device_id=device_id)
    if row is None:
        raise ProblemError(404, f"no device {device_id}")
    return row


def _snapshot_view(row: DeviceSnapshotRow, actor: Actor) -> dict[str, Any]:
    return redact_snapshot(row.document, actor.role)


@router.post(
    "/devices/{device_id}/snapshot",
    status_code=status.HTTP_201_CREATED,
    response_model=Snapshot,
    responses={
        502: _problem_answer("The snapshot workflow failed; nothing was stored."),
        503: _problem_answer("Temporal is unavailable; nothing was started or stored."),
        504: _problem_answer("No snapshot came back within the wait; nothing was stored."),
    },
)
async def snapshot_device(
    device_id: DeviceId,
    session: SessionDep,
    actor: Snapshotter,
    settings: SettingsDep,
    temporal: TemporalDep,
    with_curves: Annotated[bool, Query(description="Add the edge's recent curves.")] = False,
) -> JSONResponse:
    """Read the device now on its site's edge worker and store the snapshot.

    A device that cannot be read still gives one: every reading bad, with the reason.
    """
    device = stored_device(await _known_device(session, device_id))
    # No transaction (and no pooled connection) is held while the edge reads the device.
    await session.rollback()
    try:
        row = await take_snapshot(
            session=session,
            client=temporal,
            device=device,
            task_queue=settings.task_queue,
            wait=settings.snapshot_wait_seconds,
            with_curves=with_curves,
            taken_by=actor.user,
            department=actor.department,
        )
    except SnapshotTimeout as exc:
        raise ProblemError(504, str(exc)) from exc
    except SnapshotFailed as exc:
        raise ProblemError(502, str(exc)) from exc
    except RPCError as exc:
        raise ProblemError(
            503, f"the workflow service is unavailable: {exc.message}", headers={"Retry-After": "2"}
        ) from exc
    await session.commit()
    return JSONResponse(_snapshot_view(row, actor), status_code=status.HTTP_201_CREATED)


@router.get("/devices/{device_id}/snapshots", response_model=SnapshotList)
async def list_snapshots(
    device_id: DeviceId,
    session: SessionDep,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> JSONResponse:
    """The device's latest snapshots, newest first (those taken for tickets too)."""
    await _known_device(session, device_id)
    rows = await store.list_snapshots(session=session, device_id=device_id, limit=limit)
    return JSONResponse({"items": [_snapshot_view(row, actor) for row in rows]})
