"""Alembic migrations for the Ticketflow database; run through `store.migrate`."""
