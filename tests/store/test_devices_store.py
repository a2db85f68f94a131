"""The device registry's tables: versions per id, latest-first lookups, pages, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.devices import Device, Reading, Snapshot, seal
from store import devices as store
from store.models import DeviceRow
from store.tickets import BadCursor

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _device(device_id: str, site: str = "local", model: str = "PLC") -> Device:
    return Device(
        id=device_id,
        site=site,
        model=model,
        protocol="modbus-tcp",
        endpoint="tcp://127.0.0.1:502",
        unit_id=1,
        points=[{"name": "t", "register": "holding", "address": 0}],
    )


async def test_each_registration_of_an_id_is_its_next_version(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        first = await store.insert_device(
            session=session, device=_device("pump-1"), registered_by="owner", now=T0
        )
        second = await store.insert_device(
            session=session, device=_device("pump-1", model="PLC 2"), registered_by="root", now=T0
        )
        other = await store.insert_device(
            session=session, device=_device("pump-2"), registered_by="owner", now=T0
        )
    assert [(r.device_id, r.version) for r in (first, second, other)] == [
        ("pump-1", 1),
        ("pump-1", 2),
        ("pump-2", 1),
    ]
    async with session_factory() as session:
        latest = await store.get_device(session=session, device_id="pump-1")
        old = await store.get_device(session=session, device_id="pump-1", version=1)
        assert latest is not None
        assert old is not None
        assert (latest.version, latest.model, latest.document["version"]) == (2, "PLC 2", 2)
        assert (old.model, old.registered_by, old.registered_at) == ("PLC", "owner", T0)
        assert Device.model_validate(old.document) == _device("pump-1").model_copy(
            update={"version": 1}
        )
        assert await store.get_device(session=session, device_id="pump-1", version=3) is None
        assert await store.get_device(session=session, device_id="nope") is None


async def test_a_version_number_is_taken_once(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        await store.insert_device(
            session=session, device=_device("pump-1"), registered_by="owner", now=T0
        )
    async with session_factory() as session, session.begin():
        session.add(
            DeviceRow(
                device_id="pump-1",
                version=1,
                site="local",
                model="m",
                protocol="opcua",
                document={},
                registered_at=T0,
                registered_by="x",
            )
        )
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_devices_are_listed_by_id_latest_version_each_in_pages(
    session_factory: Sessions,
) -> None:
    async with session_factory() as session, session.begin():
        for device_id in ("c", "a", "b", "d", "e"):
            await store.insert_device(
                session=session, device=_device(device_id), registered_by="owner", now=T0
            )
        await store.insert_device(
            session=session, device=_device("b", site="plant-a"), registered_by="owner", now=T0
        )
    async with session_factory() as session:
        pages = []
        cursor = None
        while True:
            rows, cursor = await store.list_devices(session=session, limit=2, cursor=cursor)
            pages.append([(r.device_id, r.version) for r in rows])
            if cursor is None:
                break
        assert pages == [[("a", 1), ("b", 2)], [("c", 1), ("d", 1)], [("e", 1)]]
        at_site, end = await store.list_devices(session=session, limit=10, site="plant-a")
        assert ([r.device_id for r in at_site], end) == (["b"], None)
        with pytest.raises(BadCursor):
            await store.list_devices(session=session, limit=2, cursor="not-a-cursor")


def _snapshot(device_id: str, at: datetime, value: float) -> Snapshot:
    return seal(
        Snapshot(
            device_id=device_id,
            device_version=1,
            site="local",
            taken_at=at,
            readings=[Reading(point="t", value=value, unit="°C")],
        )
    )


async def test_snapshots_are_kept_sealed_and_listed_newest_first(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        for minutes in (0, 10, 5):
            await store.insert_snapshot(
                session=session,
                snapshot=_snapshot("pump-1", T0 + timedelta(minutes=minutes), minutes),
                ticket_key="EQ-1" if minutes == 10 else None,
            )
        await store.insert_snapshot(session=session, snapshot=_snapshot("pump-2", T0, 1.0))
    async with session_factory() as session:
        rows = await store.list_snapshots(session=session, device_id="pump-1", limit=2)
        assert [(r.taken_at, r.ticket_key) for r in rows] == [
            (T0 + timedelta(minutes=10), "EQ-1"),
            (T0 + timedelta(minutes=5), None),
        ]
        stored = Snapshot.model_validate(rows[0].document)
        assert stored == _snapshot("pump-1", T0 + timedelta(minutes=10), 10)
        assert seal(stored).sha256 == rows[0].sha256 == stored.sha256
        assert await store.list_snapshots(session=session, device_id="none", limit=5) == []
