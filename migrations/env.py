"""Alembic environment: migrate the database named by the config, or the configured one."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import make_url

from store.db import make_sync_engine, sync_url
from store.models import Base, JsonColumn, NameSetColumn, UtcDateTime, include_for
from ticketflow.settings import get_settings

target_metadata = Base.metadata


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    return url or get_settings().effective_database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Spell the models' shared column types as plain SQLAlchemy, the same on every dialect."""
    # Left to Alembic, UtcDateTime renders as an unimported store.models name, and JSONB's
    # astext_type loses its `sa.` prefix when autogenerating against SQLite.
    if type_ != "type":
        return False
    if isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if obj is JsonColumn:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")'
    if obj is NameSetColumn:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")'
    return False


def run_migrations_offline() -> None:
    """Emit the SQL for the migrations without a database connection."""
    url = sync_url(_database_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=make_url(url).get_backend_name() == "sqlite",
        compare_type=True,
        render_item=render_item,
        include_object=include_for(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    engine = make_sync_engine(_database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things; batch mode recreates the table instead.
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                render_item=render_item,
                include_object=include_for(connection.dialect.name),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
