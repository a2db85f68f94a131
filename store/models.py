"""Tables: definitions, forms, ticket/task/event projections, users, keys, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

JsonColumn = JSON().with_variant(JSONB(), "postgresql")
# A set of names kept on its row: text[] on PostgreSQL (a GIN index answers `&&`), a JSON
# array on SQLite (read per row with json_each: SQLite has no index for array membership).
NameSetColumn = JSON().with_variant(ARRAY(Text()), "postgresql")
# Indexes only PostgreSQL has (GIN over a text[]); elsewhere the column has no usable index.
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_tickets_departments"})


def include_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's include_object on this dialect: leaves out the indexes it does not have."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (
            type_ == "index" and name in POSTGRESQL_ONLY_INDEXES and dialect != "postgresql"
        )

    return include


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
        # Each list filter followed by the keyset order (created_at, key): a page reads its
        # rows in order from the index and stops, instead of sorting every match.
        Index("ix_tickets_status_created_key", "status", "created_at", "key"),
        Index("ix_tickets_definition_created_key", "definition_key", "created_at", "key"),
        Index("ix_tickets_department_created_key", "department", "created_at", "key"),
        Index("ix_tickets_requester_created_key", "requester", "created_at", "key"),
        Index("ix_tickets_departments", "departments", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    definition_key: Mapped[str] = mapped_column(String(63))
    definition_version: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    requester: Mapped[str] = mapped_column(String(100))
    intake: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    last_seq: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(2), default="P3", server_default="P3")
    waiting_for: Mapped[str | None] = mapped_column(String(63))
    # A subprocess's child: the ticket whose stage started it.
    parent_key: Mapped[str | None] = mapped_column(String(40), index=True)
    # Triage's category (a dispatcher's, else the routing model's), else the definition key.
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    # The departments the ticket involves, sorted: its owner, every group of a task that made
    # it a handler (store.tickets.handling_task) and every group that took part. Derived from
    # those rows by the projection in their transaction (store.tickets.refresh_departments),
    # so a list filter reads one column instead of probing tasks and participants.
    # (Migration 0027 gives it each dialect's empty array as the server default.)
    departments: Mapped[list[str]] = mapped_column(NameSetColumn)


class TaskRow(Base):
    """Projection of one stage task (one row per round) or one follow-up (`kind`)."""

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
    # `stage`, or `followup` (then `stage_key` is the follow-up id).
    kind: Mapped[str] = mapped_column(String(20), default="stage", server_default="stage")
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
    until: Mapped[datetime | None]  # when a wait times out or a timer fires
    child: Mapped[str | None] = mapped_column(String(40))  # a subprocess's child ticket
    error: Mapped[str | None] = mapped_column(Text)  # why a service stage failed


class TicketParticipantRow(Base):
    """A group that held one of a ticket's tasks, or a person who held one or put it on hold.

    Kept from the ticket's events, so who took part outlives where the tasks are now: the
    reading rule is policies.authorization.handler_departments and reads_as_participant.
    """

    __tablename__ = "ticket_participants"
    __table_args__ = (Index("ix_ticket_participants_kind_name", "kind", "name"),)

    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


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


# -- SLA clocks, their events, notifications (issue 3) -----------------------------------------


class SlaClockRow(Base):
    """Projection of one SLA clock of a ticket (the joint `ticket` clock or `stage:KEY`)."""

    __tablename__ = "sla_clocks"
    __table_args__ = (Index("ix_sla_clocks_state", "state"),)

    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True
    )
    clock_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    stage_key: Mapped[str | None] = mapped_column(String(63))
    round: Mapped[int] = mapped_column(Integer)
    milestone: Mapped[bool] = mapped_column(Boolean)
    calendar: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    target_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    elapsed_seconds: Mapped[float] = mapped_column(Float)
    paused_seconds: Mapped[float] = mapped_column(Float)
    running_since: Mapped[datetime | None]
    paused_since: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    fired: Mapped[list[int]] = mapped_column(JsonColumn)
    last_seq: Mapped[int] = mapped_column(Integer)


class SlaEventRow(Base):
    """One SLA transition (started, paused, rung fired, breached, stopped), keyed like events."""

    __tablename__ = "sla_events"
    __table_args__ = (Index("ix_sla_events_type_at", "type", "at"),)

    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    clock_id: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    rung: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]]


class NotificationRow(Base):
    """A notification to one recipient, recorded whether or not a channel delivers it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient_at", "recipient", "created_at"),)

    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(120), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    # What the text is made of (domain.notifications.NotificationParts); each reader's copy
    # is rendered from it. NULL in rows recorded before it, whose subject ends with the title.
    parts: Mapped[dict[str, Any] | None]


class CalendarRow(Base):
    """A published, immutable business calendar version."""

    __tablename__ = "calendars"

    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))


class PolicyRuleRow(Base):
    """One Casbin rule (p or g line), in the layout the Casbin SQLAlchemy adapters use."""

    __tablename__ = "casbin_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ptype: Mapped[str | None] = mapped_column(String(255))
    v0: Mapped[str | None] = mapped_column(String(255))
    v1: Mapped[str | None] = mapped_column(String(255))
    v2: Mapped[str | None] = mapped_column(String(255))
    v3: Mapped[str | None] = mapped_column(String(255))
    v4: Mapped[str | None] = mapped_column(String(255))
    v5: Mapped[str | None] = mapped_column(String(255))

    def __str__(self) -> str:
        """The rule as a policy line, which is how the adapter hands it to Casbin."""
        values = [self.v0, self.v1, self.v2, self.v3, self.v4, self.v5]
        present = [v for v in values if v is not None]
        return ", ".join([self.ptype or "", *present])


class PolicyStateRow(Base):
    """The single row every API process checks: bumped in the same transaction as a change."""

    __tablename__ = "policy_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    audit_head: Mapped[str] = mapped_column(String(64))
    audit_count: Mapped[int] = mapped_column(Integer)


class PermissionAuditRow(Base):
    """One policy or role change; `hash` covers the entry and the previous entry's hash."""

    __tablename__ = "permission_audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any]]
    after: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class FieldAccessRow(Base):
    """How often a role read or wrote a field, per day (flushed from in-memory counters)."""

    __tablename__ = "field_access"

    role: Mapped[str] = mapped_column(String(100), primary_key=True)
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    action: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime]


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


class DeviceRow(Base):
    """A registered, immutable device version (domain.devices.Device as JSON)."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(40), index=True)
    model: Mapped[str] = mapped_column(String(80))
    protocol: Mapped[str] = mapped_column(String(20))
    document: Mapped[dict[str, Any]]
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(100))


class DeviceSnapshotRow(Base):
    """A sealed snapshot of one device version's points (domain.devices.Snapshot as JSON)."""

    __tablename__ = "device_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(80), index=True)
    device_version: Mapped[int] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(40))
    taken_at: Mapped[datetime] = mapped_column(index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]]
    ticket_key: Mapped[str | None] = mapped_column(String(40))
    # Who asked for a snapshot taken for no ticket, and their department (usage metering; a
    # ticket's snapshot is the ticket's).
    taken_by: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))


class DeliverableVersionRow(Base):
    """One attached version of a stage's deliverable (projected from `deliverable_attached`).

    `sha256` addresses the artifact in the artifact store; `file_name` is the name as given,
    kept for display and downloads, never used as a path. A value kind has its value instead.
    """

    __tablename__ = "deliverable_versions"

    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    stage: Mapped[str] = mapped_column(String(63), primary_key=True)
    deliverable: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str] = mapped_column(String(255))
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    # A git_commit, url or record version's value (its sha256 is that of its canonical JSON).
    value: Mapped[Any | None] = mapped_column(JsonColumn, nullable=True)


class CustomerRow(Base):
    """A customer (domain.customers.Customer as JSON, its tier settled)."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    region: Mapped[str] = mapped_column(String(40), index=True)
    tier: Mapped[str] = mapped_column(String(20))
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class ConsentRow(Base):
    """Consent once given: purpose, channel, the text shown, when and who recorded it.

    The customer's revocation link is kept as the SHA-256 of its token only.
    """

    __tablename__ = "customer_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    token_used_at: Mapped[datetime | None]


class ConsentRevocationRow(Base):
    """A revocation added after the consent it ends (which stays)."""

    __tablename__ = "consent_revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("customer_consents.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(80), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[datetime]
    revoked_by: Mapped[str] = mapped_column(String(100))
    via: Mapped[str] = mapped_column(String(10))


class CareStrategyRow(Base):
    """A published, immutable care strategy version (calendars resolved inline)."""

    __tablename__ = "care_strategies"

    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))


class FeedbackRow(Base):
    """A customer's rating of a closed ticket, one per ticket, bound to the solution it rates.

    `team` is the resolving stage's group and `deliverables` that stage's versions (by name:
    version and sha256); `playbook` names the playbook the solution followed, when there is one.
    The comment is the customer's own text (the ticket field `feedback.comment`).
    """

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("csat BETWEEN 1 AND 5", name="ck_feedback_csat"),
        CheckConstraint("nps BETWEEN 0 AND 10", name="ck_feedback_nps"),
    )

    # The primary key makes a token work once: a second rating of the ticket cannot be stored.
    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True
    )
    csat: Mapped[int] = mapped_column(Integer)
    nps: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(index=True)
    stage: Mapped[str | None] = mapped_column(String(63))
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    deliverables: Mapped[dict[str, Any]]
    playbook: Mapped[str | None] = mapped_column(String(200))
    # A retry with the same Idempotency-Key and body gets the first answer; both kept hashed.
    idempotency_sha256: Mapped[str | None] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))


class ProblemRow(Base):
    """A problem record: a candidate the scan proposed, and what a person decided of it."""

    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # The candidate as the last scan saw it (pairs, terms, tickets, assets).
    candidate: Mapped[dict[str, Any]]
    proposed_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(2000))


class ProblemTicketRow(Base):
    """A ticket linked to a problem: listed with the ticket, found by the ticket's key."""

    __tablename__ = "problem_tickets"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problems.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class CareRunRow(Base):
    """One ticket's care workflow: whose, under which strategy, and whether it has ended."""

    __tablename__ = "care_runs"

    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(80), index=True)
    strategy: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class CareRecordRow(Base):
    """One step of a ticket's care (the customer's history); kept once by (ticket, care_seq).

    `ticket_seq` is the seq of the event the same step appended to the ticket's timeline.
    """

    __tablename__ = "care_records"
    __table_args__ = (Index("ix_care_records_customer_at", "customer_id", "at"),)

    ticket_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    care_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(80))
    ticket_seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]]


class CareTaskRow(Base):
    """A confirmation task of a care action, as its care workflow last recorded it."""

    __tablename__ = "care_tasks"
    __table_args__ = (Index("ix_care_tasks_group_status", "group_name", "status"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    ticket_key: Mapped[str] = mapped_column(String(40), index=True)
    customer_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(80))
    group_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime]
    deadline: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    # The care_seq of the record that last wrote this row: an older retry never overwrites it.
    care_seq: Mapped[int] = mapped_column(Integer)


class RecurrenceWatchRow(Base):
    """A closed ticket's 30-day recurrence watch: its fingerprint's digest and its outcome.

    `status` is `watching` until the watch records `recurred` (by `recurred_by`) or
    `eradicated`; the seqs are those of the timeline events each step recorded, so a retried
    step finds its event instead of writing another. The sweep finds the windows that ended
    by (`status`, `ends_at`).
    """

    __tablename__ = "recurrence_watches"
    __table_args__ = (
        Index("ix_recurrence_watches_fingerprint_status", "fingerprint", "status"),
        Index("ix_recurrence_watches_status_ends_at", "status", "ends_at"),
    )

    ticket_key: Mapped[str] = mapped_column(
        ForeignKey("tickets.key", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    recurred_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    started_seq: Mapped[int] = mapped_column(Integer)
    outcome_seq: Mapped[int | None] = mapped_column(Integer)


class PlaybookRow(Base):
    """A remediation playbook: one version of a resolved ticket's code or config deliverable.

    Its content is the artifact `sha256`; who reads it is decided, at every read, by the
    caller's view of the field `deliverables.<deliverable>` of the ticket it came from.
    """

    __tablename__ = "playbooks"
    __table_args__ = (
        Index(
            "ix_playbooks_source",
            "ticket_key",
            "stage",
            "deliverable",
            "version",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200))
    ticket_key: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(63))
    deliverable: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class OutboxRow(Base):
    """A ticket event to send out, written with the ticket's rows; `position` orders them."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("ticket_key", "seq", name="uq_outbox_ticket_seq"),)

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_key: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]


class SubscriptionRow(Base):
    """Where events go, which ones, and whose view of the tickets they carry."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The subscriber: deliveries are redacted by this account's policy, as its reads are.
    owner: Mapped[str] = mapped_column(String(100), index=True)
    owner_role: Mapped[str] = mapped_column(String(40))
    owner_department: Mapped[str] = mapped_column(String(100))
    # `webhook` (posted to `url`, signed with `secret`) or `mqtt` (published to `topic` on the
    # configured broker; `url` and `secret` are empty).
    kind: Mapped[str] = mapped_column(String(20), default="webhook", server_default="webhook")
    url: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JsonColumn)
    filter: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)


class DeliveryAttemptRow(Base):
    """One attempt to deliver one event to one subscription, and what it met."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_subscription", "subscription_id", "id"),
        Index("ix_delivery_attempts_event", "subscription_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(80))
    # The ticket the event is of (usage is metered by the ticket's department).
    ticket_key: Mapped[str | None] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(80))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class InboundEventRow(Base):
    """An event a connector received: its id is seen once, and which ticket it went to."""

    __tablename__ = "inbound_events"
    __table_args__ = (Index("ix_inbound_events_correlation", "connector", "correlation"),)

    connector: Mapped[str] = mapped_column(String(63), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    correlation: Mapped[str] = mapped_column(String(200))
    ticket_key: Mapped[str] = mapped_column(String(40))
    # `created` (it filed the ticket) or `signalled` (it went to the ticket already open).
    action: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime]


class SentimentModelRow(Base):
    """A trained sentiment model version: its artifact, checksum, scores and whether it is live."""

    __tablename__ = "sentiment_models"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), index=True)
    path: Mapped[str] = mapped_column(Text, doc="Artifact file, relative to the data dir.")
    sha256: Mapped[str] = mapped_column(String(64))
    training_size: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]]
    note: Mapped[str] = mapped_column(Text, default="")


class SentimentRecordRow(Base):
    """A customer's message as taken, and its score once scored: purged together at purge_at."""

    __tablename__ = "sentiment_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(80), index=True)
    ticket_key: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    taken_at: Mapped[datetime]
    purge_at: Mapped[datetime] = mapped_column(index=True)
    label: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[float | None] = mapped_column(Float)
    probabilities: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    model_version: Mapped[int | None] = mapped_column(Integer, doc="0: the bundled model.")
    scored_at: Mapped[datetime | None]


class SentimentPurgeRow(Base):
    """A purge of sentiment records: why, when, how many and which ids and times, no content."""

    __tablename__ = "sentiment_purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(80), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    deleted: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)
    records: Mapped[dict[str, Any]] = mapped_column(
        doc="`ids` and `taken_at` of the records deleted, oldest first."
    )
