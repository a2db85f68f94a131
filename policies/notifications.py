"""A notification's text as one reader may see it, rendered from its parts with their view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.notifications import (
    SLA_RUNG,
    SUBSCRIPTION_PAUSED,
    NotificationParts,
    paused_subject,
    rung_body,
    rung_subject,
)
from policies.redaction import TITLE, FieldView


@dataclass(frozen=True)
class Text:
    """A rendered subject and body."""

    subject: str
    body: str


@dataclass(frozen=True)
class Stored:
    """A recorded notification: its ticket, the stored texts and its parts (None if older)."""

    ticket_key: str
    subject: str
    body: str
    parts: Mapping[str, Any] | None


def render_notification(stored: Stored, view: FieldView, ticket: Mapping[str, Any]) -> Text | None:
    """The text this reader gets, or None: a reader who cannot see the ticket, or may not
    read its SLA (every notification so far is a fired SLA rung), gets no notification.

    `ticket` holds the ticket's current values of the fields a notification may mention.
    """
    if not view.visible() or not view.readable("sla"):
        return None
    if stored.parts is None:
        return _older(stored, view, ticket)
    parts = NotificationParts.model_validate(stored.parts)
    if parts.kind != SLA_RUNG:
        return None  # a kind this code cannot render must not be shown unredacted
    subject = rung_subject(stored.ticket_key, parts.stage, parts.rung_name, parts.rung)
    shown = [
        str(ticket[name])
        for name in parts.mentions
        if ticket.get(name) not in (None, "") and _readable(view, name)
    ]
    if shown:
        subject += f" ({', '.join(shown)})"
    return Text(subject=subject, body=rung_body(parts.clock, parts.rung))


def about_subscription(stored: Stored) -> bool:
    """Whether the notification is about a subscription (no ticket, no ticket view)."""
    return stored.parts is not None and stored.parts.get("kind") == SUBSCRIPTION_PAUSED


def render_subscription_notice(stored: Stored) -> Text:
    """A paused subscription's notification, for its recipient (the owner) or an auditor.

    Its texts are rebuilt from the parts: the subscription's id and the failure the owner's
    own receiver answered; no ticket field is part of it.
    """
    parts = NotificationParts.model_validate(stored.parts)
    return Text(subject=paused_subject(parts.subscription), body=stored.body)


def _readable(view: FieldView, name: str) -> bool:
    # The title may be copied from the intake's summary: it is shown as the ticket's is.
    return TITLE.allows(view) if name == "title" else view.readable(name)


def _older(stored: Stored, view: FieldView, ticket: Mapping[str, Any]) -> Text:
    """A notification from before parts: its subject ends with the title in parentheses."""
    if TITLE.allows(view):
        return Text(subject=stored.subject, body=stored.body)
    suffix = f" ({ticket.get('title', '')})"
    if stored.subject.endswith(suffix):
        return Text(subject=stored.subject.removesuffix(suffix), body=stored.body)
    return Text(subject=f"{stored.ticket_key}: SLA notification", body=stored.body)
