"""Confirming, from the process an Update answered, the events its workflow task projected."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from store.confirmation import confirm_committed

log = logging.getLogger(__name__)

# How long an answered request keeps trying to confirm before it answers anyway: the change is
# applied already, so the caller must hear so, not a 503 saying it was not.
CONFIRM_PATIENCE = timedelta(seconds=10)


async def confirm_answered(
    *, session: AsyncSession, key: str, through: int, patience: timedelta = CONFIRM_PATIENCE
) -> bool:
    """Confirm the ticket's events up to `through`, which the history holds (an Update
    answered); False when the database stayed unavailable, and the ticket's next write, or
    the next writer after its close, confirms them instead."""
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(OperationalError),
            wait=wait_exponential(multiplier=0.1, max=2),
            stop=stop_after_delay(patience.total_seconds()),
            reraise=True,
        ):
            with attempt:
                try:
                    await confirm_committed(session=session, key=key, through=through)
                    await session.commit()
                except OperationalError:
                    await session.rollback()
                    raise
    except OperationalError as exc:
        log.warning(
            "ticket %s: the change up to seq %d is applied but not confirmed yet (%s); "
            "its events go out with the ticket's next write",
            key,
            through,
            exc.orig,
        )
        return False
    return True
