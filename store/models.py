"""Tables: definitions, forms, ticket/task/event projections, users, keys, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time stored as UTC and read back timezone-aware on every backend."""

    # SQLite has no zone: without this it drops the offset on write and returns naive values.
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; a naive value is taken to be UTC already."""
        return _as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive; normalise PostgreSQL's to UTC."""
        return _as_utc(value)


class Base(DeclarativeBase):
    """Declarative base; `Base.metadata` is what Alembic compares against."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JsonColumn,
        datetime: UtcDateTime(),
    }


class DefinitionRow(Base):
    """A published, immutable process definition version (forms resolved inline)."""

    __tablename__ = "definitions"

    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(100), index=True)
    key_prefix: Mapped[str] = mapped_column(String(10))
    document: Mapped[dict[str, Any]]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))


class FormRow(Base):
    """A published, immutable form (JSON Schema 2020-12) version."""

    __tablename__ = "forms"

    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    schema: Mapped[dict[str, Any]]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))


class TicketRow(Base):
    """Projection of a ticket's current state, written only by the projection activity."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_created_key", "created_at", "key"),
        Index("ix_tickets_status_created", "status", "created_at"),
    )

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    definition_key: Mapped[str] = mapped_column(String(63), index=True)
    definition_version: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    requester: Mapped[str] = mapped_column(String(100), index=True)
    intake: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_seq: Mapped[int] = mapped_column(Integer)


class TaskRow(Base):
    """Projection of one stage task (one row per round)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_group_status", "group_name", "status"),
        Index("ix_tasks_assignee_status", "assignee", "status"),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), index=True
    )
    stage_key: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    group_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(100))
    round: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]]


class TicketEventRow(Base):
    """One transition of a ticket; (ticket_key, seq) makes the projection idempotent."""

    __tablename__ = "ticket_events"

    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]]


class KeySequenceRow(Base):
    """Last number handed out per ticket key prefix (IT-000042)."""

    __tablename__ = "key_sequences"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class IdempotencyRow(Base):
    """A create request's Idempotency-Key, per caller, and the ticket it made."""

    __tablename__ = "idempotency_keys"

    user_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_key: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class UserRow(Base):
    """A person or system with a bearer token; only the token's SHA-256 is stored."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    department: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class TriageModelRow(Base):
    """A trained triage model version: its artifact, checksum, scores and whether it is live."""

    __tablename__ = "triage_models"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), index=True)
    path: Mapped[str] = mapped_column(Text, doc="Artifact file, relative to the data dir.")
    sha256: Mapped[str] = mapped_column(String(64))
    training_size: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]]
    features: Mapped[dict[str, Any]]
    note: Mapped[str] = mapped_column(Text, default="")


class TriageOutcomeRow(Base):
    """What triage decided for one ticket and where the work ended up (for labels and KPIs)."""

    __tablename__ = "triage_outcomes"

    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    definition_key: Mapped[str] = mapped_column(String(63), index=True)
    created_at: Mapped[datetime]
    ticket: Mapped[dict[str, Any]]
    model_version: Mapped[int | None] = mapped_column(Integer)
    predicted_team: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    category: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(40))
    auto_routed: Mapped[bool] = mapped_column(Boolean)
    first_team: Mapped[str | None] = mapped_column(String(100))
    final_team: Mapped[str | None] = mapped_column(String(100))
    reassignments: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None]


class TriageLabelRow(Base):
    """A human's word on a ticket's team: a dispatcher decision or a later reassignment."""

    __tablename__ = "triage_labels"

    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class DuplicateReportRow(Base):
    """A submission linked to an open ticket instead of starting a second one."""

    __tablename__ = "duplicate_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_key: Mapped[str] = mapped_column(String(40), index=True)
    requester: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    similarity: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]
