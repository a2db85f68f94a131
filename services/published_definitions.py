"""Published process definitions, read and parsed once per process: a version never changes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.definitions import ProcessDefinition
from store import definitions as definitions_store


class PublishedDefinitions:
    """The published definition versions this process has read, by (key, version)."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, int], ProcessDefinition] = {}

    async def get(
        self, *, session: AsyncSession, key: str, version: int
    ) -> ProcessDefinition | None:
        """The definition `key@version`, or None while it is not published."""
        found = self._parsed.get((key, version))
        if found is None:
            row = await definitions_store.get_definition(session=session, key=key, version=version)
            if row is None:  # not kept: the version may yet be published
                return None
            found = ProcessDefinition.model_validate(row.document)
            self._parsed[(key, version)] = found
        return found
