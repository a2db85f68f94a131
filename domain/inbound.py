"""Inbound connectors: another system's events, each mapped to create or signal one ticket.

A connector is data: its name (the URL's `{connector}`), the definition its tickets are filed
on, where the correlation key and each intake field sit in the inbound JSON (JSON pointers,
RFC 6901), and the Standard Webhooks secret its deliveries are signed with. Events with the
same correlation key go to the same ticket while it is open; each event id counts once.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from domain.events_out import secret_key

CONNECTOR_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
# A JSON pointer is empty (the whole document) or a sequence of `/token`s.
POINTER = re.compile(r"(/([^~/]|~[01])*)*")
# The filing key `inbound:<connector>:<event id>` fits an Idempotency-Key (200).
MAX_EVENT_ID = 120
MAX_CORRELATION = 200
MAX_FIELDS = 50
CREATED, SIGNALLED = "created", "signalled"


def _pointer(value: str) -> str:
    if not POINTER.fullmatch(value):
        raise ValueError(f"{value!r} is not a JSON pointer (like /case/id)")
    return value


class Connector(BaseModel):
    """One inbound connector, as configured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="The `{connector}` of its URL: a-z, 0-9, '_', '-'.")
    definition: str = Field(min_length=1, max_length=63, description="The definition filed on.")
    secret: SecretStr = Field(description="Standard Webhooks secret: `whsec_` and base64.")
    correlation: str = Field(description="Pointer to the correlation key (a string or number).")
    fields: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_FIELDS,
        description="Intake field name -> pointer to its value in the inbound JSON.",
    )
    event: str = Field(
        default="",
        max_length=63,
        description="The name the events are recorded under on the ticket; default: the name.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not CONNECTOR_NAME.fullmatch(value):
            raise ValueError(f"connector name {value!r}: a-z first, then a-z, 0-9, '_', '-'")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        secret_key(value.get_secret_value())
        return value

    @field_validator("correlation")
    @classmethod
    def _correlation(cls, value: str) -> str:
        return _pointer(value)

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        for source in value.values():
            _pointer(source)
        return value

    def key(self) -> bytes:
        """The signing key's bytes."""
        return secret_key(self.secret.get_secret_value())

    def event_name(self) -> str:
        """The name of the external event a delivery is recorded as on its ticket."""
        return self.event or self.name

    def source(self) -> str:
        """Who the ticket's timeline says reported the event."""
        return f"connector:{self.name}"


def filing_key(connector: str, event_id: str) -> str:
    """The Idempotency-Key an event's filing runs under: the same event files one ticket."""
    return f"inbound:{connector}:{event_id}"


def signal_id(connector: str, event_id: str) -> str:
    """The id of an event's signal: the ticket records the same event once."""
    return f"inbound:{connector}:{event_id}"


class InboundAnswer(BaseModel):
    """What an inbound event did: the ticket it went to, and whether it was seen before."""

    ticket: str = Field(description="The ticket's key.")
    action: str = Field(description="`created` (filed it) or `signalled` (it was open).")
    replayed: bool = Field(default=False, description="This event id was received before.")
