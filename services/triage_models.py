"""The live triage model: which version serves, loaded from its checked artifact."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import triage as triage_store
from triage.artifacts import ModelUnavailable, load_model
from triage.model import TriageModel

NO_LIVE_MODEL = "no live triage model; train one first"


async def load_live_model(
    *, sessions: async_sessionmaker[AsyncSession], data_dir: Path
) -> tuple[int, TriageModel] | str:
    """The live model and its version, or why there is none to use."""
    async with sessions() as session:
        live = await triage_store.get_active_model(session=session)
    if live is None:
        return NO_LIVE_MODEL
    try:
        return live.version, load_model(data_dir / live.path, live.sha256)
    except ModelUnavailable as exc:
        return str(exc)
