"""The tests' PostgreSQL databases: each one new and of its own, the next made ahead."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.db import sync_url
from store.migrate import alembic_config
from tests import dbutil

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(dbutil.postgres_server_url() is None, reason=dbutil.POSTGRES_SKIP_REASON),
]


def _revision_and_tables(url: str) -> tuple[str | None, int]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            tables = connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            if not tables:
                return None, 0
            revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
            return revision, int(tables)
    finally:
        engine.dispose()


@pytest.mark.parametrize("migrated", [True, False], ids=["at-head", "empty"])
def test_each_database_is_new_and_the_next_is_made_ahead(migrated: bool) -> None:
    server = dbutil.postgres_server_url()
    assert server is not None
    head = ScriptDirectory.from_config(alembic_config(url=server)).get_current_head()
    names = []
    for _ in range(3):
        with dbutil.fresh_postgres_database(server, migrated=migrated) as url:
            names.append(make_url(url).database)
            revision, tables = _revision_and_tables(url)
            if migrated:
                assert revision == head
                assert tables > 1
            else:
                assert (revision, tables) == (None, 0)
            # Writing here leaves the next database as it was made.
            engine = create_engine(sync_url(url))
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE scribble (n integer)"))
            engine.dispose()
            spare = dbutil._spares[(server, migrated)]
            assert make_url(url).database != spare.result()
    assert len(set(names)) == 3
