"""Notifications: what the notify activity records (and, with a channel, delivers) per recipient."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

NOTIFY_ACTIVITY = "record_notifications"


class Notification(BaseModel):
    """One message to one recipient (`group:ops`, `role:manager`, `user:otto`)."""

    recipient: str
    subject: str
    body: str = ""


class NotifyInput(BaseModel):
    """The notifications one ticket event causes; (ticket, seq, recipient) keys each once."""

    ticket_key: str
    seq: int
    at: datetime
    notifications: list[Notification] = Field(default_factory=list)


class NotifyResult(BaseModel):
    """How many notifications were new to the store (0 on a retried call)."""

    recorded: int
