"""The committed ticket sample (English and Chinese) every triage test trains on."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from domain.definitions import ProcessDefinition
from domain.ticket import TicketEvent
from triage.csv_import import read_examples
from triage.model import TriageModel
from triage.training import Example, fit
from workflows.ticket import TicketWorkflow

SAMPLE = Path(__file__).with_name("tickets.csv")


def sample_examples() -> list[Example]:
    """The 48 labelled tickets of tickets.csv."""
    return read_examples(
        SAMPLE,
        text=["title", "description"],
        label="team",
        category="category",
        priority="priority",
    )


@lru_cache
def sample_model() -> TriageModel:
    """A model fitted on the whole sample (shared: fitting is the slow part)."""
    return fit(sample_examples())


def support(threshold: float = 0.5) -> ProcessDefinition:
    """A two-stage support process whose first stage goes to whichever team triage picks."""
    return ProcessDefinition.model_validate(
        {
            "key": "support",
            "version": 1,
            "title": "IT support",
            "key_prefix": "SUP",
            "department": "dispatch",
            "intake_form": {"type": "object"},
            "stages": [
                {"key": "handle", "title": "Handle", "group": "desktop"},
                {"key": "verify", "title": "Verify", "group": "dispatch", "depends_on": ["handle"]},
            ],
            "triage": {
                "threshold": threshold,
                "dispatcher_group": "dispatch",
                "routed_stages": ["handle"],
            },
        }
    )


async def triaged(handle: WorkflowHandle[Any, Any]) -> TicketEvent:
    """Wait for the ticket's triage event."""
    for _ in range(200):
        state = await handle.query(TicketWorkflow.state)
        found = [e for e in state.events if e.type == "triaged"]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the ticket was never triaged")
