"""Notifications: what the notify activity records (and, with a channel, delivers) per recipient."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

NOTIFY_ACTIVITY = "record_notifications"


SLA_RUNG = "sla_rung"
# A subscription paused after its deliveries kept failing: told to its owner. Such a
# notification is about the subscription, not a ticket: its `ticket_key` holds the
# subscription's id and its `seq` counts that subscription's pauses.
SUBSCRIPTION_PAUSED = "subscription_paused"


class NotificationParts(BaseModel):
    """What a notification says, as data: each reader's text is rendered from it.

    `mentions` names the ticket fields whose values the text shows (the title); a reader
    sees each only if they may read that field.
    """

    kind: str = SLA_RUNG
    clock: str = ""
    stage: str | None = None
    rung: int = 0
    rung_name: str = ""
    mentions: list[str] = Field(default_factory=list)
    subscription: str = ""


class Notification(BaseModel):
    """One message to one recipient (`group:ops`, `role:manager`, `user:otto`).

    `subject` and `body` hold no ticket field (a channel may send them as they are); `parts`
    is None only in notifications recorded before parts existed.
    """

    recipient: str
    subject: str
    body: str = ""
    parts: NotificationParts | None = None


def rung_subject(key: str, stage: str | None, rung_name: str, index: int) -> str:
    """A fired rung's subject without any ticket field: `IT-1: SLA due reached on stage fix`."""
    where = f"stage {stage}" if stage else "the ticket"
    return f"{key}: SLA {rung_name or f'rung {index}'} reached on {where}"


def rung_body(clock: str, index: int) -> str:
    """A fired rung's body: the clock and the rung's index."""
    return f"{clock} rung {index}"


def paused_subject(subscription_id: str) -> str:
    """A paused subscription's subject: it names the subscription, nothing of a ticket."""
    return f"subscription {subscription_id} paused: its deliveries kept failing"


def paused_notification(*, owner: str, subscription_id: str, reason: str) -> Notification:
    """The notification telling a subscription's owner it was paused, and why."""
    return Notification(
        recipient=f"user:{owner}",
        subject=paused_subject(subscription_id),
        body=reason,
        parts=NotificationParts(kind=SUBSCRIPTION_PAUSED, subscription=subscription_id),
    )


class NotifyInput(BaseModel):
    """The notifications one ticket event causes; (ticket, seq, recipient) keys each once."""

    ticket_key: str
    seq: int
    at: datetime
    notifications: list[Notification] = Field(default_factory=list)


class NotifyResult(BaseModel):
    """How many notifications were new to the store (0 on a retried call)."""

    recorded: int
