"""Registering and importing devices: checked completely, versioned, all or nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.problems import Rejected
from domain.ticket import Actor
from services.devices import import_devices, register_device
from store import devices as store
from tests.domain.test_device_checks import MODBUS, OPCUA
from ticketflow.settings import Settings

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OWNER = Actor(user="owner", department="process-office", role="process_owner")
SETTINGS = Settings(
    database_url="sqlite:///unused.db",
    device_hosts={"local": ["localhost"], "plant-a": ["10.0.0.5"]},
)


async def _register(sessions: Sessions, document: object) -> Any:
    async with sessions() as session, session.begin():
        return await register_device(
            session=session, document=document, actor=OWNER, settings=SETTINGS, now=NOW
        )


async def _versions(sessions: Sessions) -> list[tuple[str, int]]:
    async with sessions() as session:
        rows, _ = await store.list_devices(session=session, limit=100)
        return [(r.device_id, r.version) for r in rows]


async def test_a_change_is_a_new_version_and_the_same_document_is_not(
    session_factory: Sessions,
) -> None:
    first = await _register(session_factory, {**MODBUS, "version": 9})
    again = await _register(session_factory, MODBUS)
    changed = await _register(session_factory, {**MODBUS, "model": "Acme PLC 300"})
    assert [d.version for d in (first, again, changed)] == [1, 1, 2]
    assert changed.model == "Acme PLC 300"
    async with session_factory() as session:
        row = await store.get_device(session=session, device_id="pump-7")
        assert row is not None
        assert (row.version, row.registered_by, row.site, row.protocol) == (
            2,
            "owner",
            "plant-a",
            "modbus-tcp",
        )


async def test_a_refused_device_lists_every_problem_and_writes_nothing(
    session_factory: Sessions,
) -> None:
    bad = {**MODBUS, "endpoint": "tcp://10.0.0.6:502", "unit_id": None}
    with pytest.raises(Rejected) as refused:
        await _register(session_factory, bad)
    assert [p.pointer for p in refused.value.problems] == ["/unit_id", "/endpoint"]
    assert "site 'plant-a'" in refused.value.problems[1].detail
    assert await _versions(session_factory) == []


async def test_an_import_registers_every_device_of_the_list(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        devices = await import_devices(
            session=session, documents=[MODBUS, OPCUA], actor=OWNER, settings=SETTINGS, now=NOW
        )
    assert [(d.id, d.version, d.protocol) for d in devices] == [
        ("pump-7", 1, "modbus-tcp"),
        ("oven-2", 1, "opcua"),
    ]
    assert await _versions(session_factory) == [("oven-2", 1), ("pump-7", 1)]


async def test_an_import_with_one_refused_device_writes_none_and_reports_all_by_index(
    session_factory: Sessions,
) -> None:
    bad_opcua = copy.deepcopy(OPCUA)
    bad_opcua["unit_id"] = 3
    bad_opcua["points"].append({"name": "x", "register": "coil", "address": 1, "type": "bool"})
    documents = [MODBUS, bad_opcua, {**MODBUS, "model": "twice"}, "nonsense"]
    async with session_factory() as session, session.begin():
        with pytest.raises(Rejected) as refused:
            await import_devices(
                session=session, documents=documents, actor=OWNER, settings=SETTINGS, now=NOW
            )
    assert [p.pointer for p in refused.value.problems] == [
        "/1/points/1",
        "/1/unit_id",
        "/2/id",
        "/3",
    ]
    assert await _versions(session_factory) == []


async def test_an_import_is_a_list(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        with pytest.raises(Rejected) as refused:
            await import_devices(
                session=session, documents=MODBUS, actor=OWNER, settings=SETTINGS, now=NOW
            )
    assert [p.pointer for p in refused.value.problems] == [""]


async def test_a_value_no_column_holds_is_refused(session_factory: Sessions) -> None:
    document = {**MODBUS, "thresholds": {"temperature": {"high": float("inf")}}}
    with pytest.raises(Rejected) as refused:
        await _register(session_factory, document)
    assert [p.pointer for p in refused.value.problems] == ["/thresholds/temperature/high"]
    assert await _versions(session_factory) == []
