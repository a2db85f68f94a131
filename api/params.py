"""Path and query parameters shared by routers, bounded to what the database columns hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from domain.json_values import INT_MAX

# Beyond 64 bits a number cannot be bound to an SQL parameter: a 422, not a driver error.
Version = Annotated[int, Path(ge=1, le=INT_MAX, description="A version number, from 1.")]
