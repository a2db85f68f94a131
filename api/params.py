"""Path and query parameters shared by routers, bounded to what the database columns hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Versions and sequence numbers are SQL INTEGER columns (32 bits on PostgreSQL): a larger
# number is a 422 here, not a driver error when it is bound.
COLUMN_INT_MAX = 2**31 - 1

Version = Annotated[int, Path(ge=1, le=COLUMN_INT_MAX, description="A version number, from 1.")]
