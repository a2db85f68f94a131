"""The permission audit: hash chain, tamper detection (store and CLI), the compliance report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policies.management import change_rule
from store.access import list_audit, verify_audit
from store.db import make_async_engine, make_sessionmaker
from store.migrate import upgrade_database
from store.models import PermissionAuditRow
from tests.test_cli import ticketflow

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def _three_changes(sessions: async_sessionmaker[AsyncSession]) -> None:
    rule = ["role:agent", "*", "ticket.notes", "read", "internal", "allow"]
    async with sessions() as session, session.begin():
        for i, add in enumerate((True, False, True)):
            await change_rule(
                session=session,
                ptype="p",
                rule=rule,
                add=add,
                actor="root",
                reason=f"change {i}",
                now=T0 + timedelta(hours=i),
            )


async def test_chain_detects_edited_deleted_and_truncated_entries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ticketflow.db'}"
    upgrade_database(url=url)
    engine = make_async_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        await _three_changes(sessions)
        async with sessions() as session:
            entries = await list_audit(session=session, start=None, end=None)
            assert [e.action for e in entries] == ["add_policy", "remove_policy", "add_policy"]
            assert entries[1].before["object"] == "ticket.notes"
            assert entries[1].after == {}
            assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
            assert await verify_audit(session=session) == []
            window = await list_audit(session=session, start=T0 + timedelta(minutes=30), end=None)
            assert [e.seq for e in window] == [2, 3]
        assert ticketflow(tmp_path, "audit", "verify").returncode == 0

        async with sessions() as session, session.begin():
            await session.execute(
                update(PermissionAuditRow)
                .where(PermissionAuditRow.seq == 2)
                .values(reason="nothing to see")
            )
        async with sessions() as session:
            assert await verify_audit(session=session) == [
                "entry 2 was edited (its hash does not match its content)"
            ]
        result = ticketflow(tmp_path, "audit", "verify")
        assert result.returncode == 1
        assert "entry 2 was edited" in result.stdout

        async with sessions() as session, session.begin():
            await session.execute(delete(PermissionAuditRow).where(PermissionAuditRow.seq == 2))
        async with sessions() as session:
            problems = await verify_audit(session=session)
        assert "entries 2..2 are missing" in problems
        assert "entry 3 does not follow the entry before it" in problems

        async with sessions() as session, session.begin():
            await session.execute(delete(PermissionAuditRow).where(PermissionAuditRow.seq >= 2))
        async with sessions() as session:
            assert await verify_audit(session=session) == [
                "the log ends at entry 1 but 3 were written"
            ]
    finally:
        await engine.dispose()
