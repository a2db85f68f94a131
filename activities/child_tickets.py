"""A subprocess stage's child ticket: its key reserved and its pinned definition loaded."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.json_values import value_problems
from domain.messages import CHILD_TICKET_ACTIVITY, ChildTicket, ChildTicketInput
from forms.validation import data_problems_in_thread
from store import definitions as definitions_store
from store import keys as keys_store

# Business failures no retry changes: the stage records them and the parent goes on.
DEFINITION_NOT_FOUND = "ChildDefinitionNotFound"
INTAKE_INVALID = "ChildIntakeInvalid"


def parent_user(parent_key: str) -> str:
    """The idempotency records of a ticket's children are kept under this caller name."""
    return f"ticket:{parent_key}"


class ChildTicketActivities:
    """Holds the session factory and the SQLite writers' queue the key reservation waits in."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write_turn: AbstractAsyncContextManager[object],
    ) -> None:
        self._sessions = sessions
        self._write_turn = write_turn

    @activity.defn(name=CHILD_TICKET_ACTIVITY)
    async def reserve_child_ticket(self, request: ChildTicketInput) -> ChildTicket:
        """The child's key (the same one on every retry of this stage round) and definition.

        The intake the parent mapped is checked against the child's intake form, as filing
        checks a person's.
        """
        key, _, version = request.definition.partition("@")
        idempotency_key = f"subprocess:{request.stage}:{request.round}"
        user = parent_user(request.parent_key)
        async with self._sessions() as session:
            definition = await definitions_store.published_definition(
                session=session, key=key, version=int(version) if version else None
            )
            if definition is None:
                raise ApplicationError(
                    f"no published definition {request.definition}",
                    type=DEFINITION_NOT_FOUND,
                    non_retryable=True,
                )
            problems = value_problems(request.intake) or await data_problems_in_thread(
                definition.intake_form or {}, request.intake
            )
            if problems:
                detail = "; ".join(f"{p.pointer or '/'}: {p.detail}" for p in problems)
                raise ApplicationError(
                    f"the child's intake does not fit {request.definition}: {detail}",
                    type=INTAKE_INVALID,
                    non_retryable=True,
                )
            earlier = await keys_store.find_idempotent_create(
                session=session, user=user, key=idempotency_key
            )
            if earlier is not None:
                return ChildTicket(key=earlier.ticket_key, definition=definition)
            await session.rollback()
            async with self._write_turn:
                reserved = await keys_store.reserve_ticket_key(
                    session=session,
                    prefix=definition.key_prefix,
                    user=user,
                    idempotency_key=idempotency_key,
                    request_hash=idempotency_key,
                    now=datetime.now(UTC),
                )
        child_key = reserved if isinstance(reserved, str) else reserved.ticket_key
        return ChildTicket(key=child_key, definition=definition)
