"""The actions through the real ticket worker on the time-skipping server, retried by Temporal."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from activities.actions.registry import ActionRegistry, RegisteredAction, action_registry
from domain.action_failures import FAILED, REFUSED, UNAVAILABLE
from domain.actions import BUILTIN_ACTIONS, HTTP_REQUEST, ActionInput, ActionOutput
from tests.activities.conftest import Actions
from tests.activities.endpoint import Endpoint
from tests.activities.probe import ActionProbe, Probe
from ticketflow.settings import Settings


async def probe(
    actions: Actions,
    action: str,
    params: dict[str, Any],
    *,
    attempts: int = 1,
    timeout: timedelta = timedelta(seconds=10),  # noqa: ASYNC109 (the stage's, for Temporal)
) -> ActionOutput:
    """Run one action as a service stage would, through the ticket worker."""
    call = ActionInput(ticket_key="T-1", stage="step", action=action, params=params)
    return await actions.client.execute_workflow(
        ActionProbe.run,
        Probe(call=call, task_queue=actions.actions_queue, timeout=timeout, attempts=attempts),
        id=f"probe-{uuid.uuid4().hex}",
        task_queue=actions.probe_queue,
        result_type=ActionOutput,
    )


async def failure(actions: Actions, action: str, params: dict[str, Any], **options: Any) -> Any:
    """The ApplicationError the action finally failed with, as the workflow sees it."""
    with pytest.raises(WorkflowFailureError) as raised:
        await probe(actions, action, params, **options)
    activity_error = raised.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    return activity_error.cause


def unique(endpoint: Endpoint, route: str) -> tuple[str, str]:
    """A path of `route` no other test asks for (its hit count is this test's), and its URL."""
    path = f"{route}/{uuid.uuid4().hex[:8]}"
    return path, endpoint.url(path)


def test_every_builtin_action_is_in_the_registry() -> None:
    registry = action_registry(Settings())
    # A device read is run by the workflow itself (the lookup, then the edge queue).
    activities = {name: s for name, s in BUILTIN_ACTIONS.items() if not s.reads_device}
    assert set(BUILTIN_ACTIONS) - set(activities) == {"device.snapshot"}
    assert registry.specs == activities
    assert len(registry.activities) == len(activities)


def test_an_action_name_is_registered_once() -> None:
    registry = action_registry(Settings())
    entry = next(iter(registry))
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(entry.spec, entry.activity)
    with pytest.raises(ValueError, match="registered twice"):
        ActionRegistry([entry, RegisteredAction(entry.spec, entry.activity)])


async def test_the_ticket_worker_serves_every_registered_action_by_its_name(
    actions: Actions, endpoint: Endpoint
) -> None:
    # One run per registered action; an activity type the worker did not register would fail
    # with NotFoundError instead of answering.
    params = {
        "http.request": {"url": endpoint.url("/document"), "select": {"id": "/order/id"}},
        "ticket.set_fields": {"fields": {"score": 3, "label": "high"}},
    }
    assert set(params) == set(actions.registry.specs)
    outputs = {name: (await probe(actions, name, params[name])).output for name in params}
    assert outputs == {
        "http.request": {"status": 200, "id": 7},
        "ticket.set_fields": {"score": 3, "label": "high"},
    }


async def test_a_5xx_is_retried_by_temporal_until_it_succeeds(
    actions: Actions, endpoint: Endpoint
) -> None:
    path, url = unique(endpoint, "/flaky")
    params = {"url": f"{url}?fail=2", "select": {"attempt": "/attempt"}}
    output = await probe(actions, HTTP_REQUEST.name, params, attempts=3)
    assert output.output == {"status": 200, "attempt": 3}
    assert endpoint.hits[path] == 3


async def test_a_5xx_that_outlasts_the_attempts_fails_retryable(
    actions: Actions, endpoint: Endpoint
) -> None:
    path, url = unique(endpoint, "/flaky")
    error = await failure(actions, HTTP_REQUEST.name, {"url": f"{url}?fail=5"}, attempts=2)
    assert (error.type, error.non_retryable) == (UNAVAILABLE, False)
    assert endpoint.hits[path] == 2


async def test_a_4xx_is_not_retried(actions: Actions, endpoint: Endpoint) -> None:
    path, url = unique(endpoint, "/flaky")
    params = {"url": f"{url}?fail=1&code=404"}
    error = await failure(actions, HTTP_REQUEST.name, params, attempts=5)
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert "answered 404" in error.message
    assert endpoint.hits[path] == 1


async def test_a_host_off_the_allow_list_is_refused_at_run_time(actions: Actions) -> None:
    params = {"url": "https://crm.example.com/api/customers"}
    error = await failure(actions, HTTP_REQUEST.name, params, attempts=5)
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert "crm.example.com:443 is not on the allowed hosts" in error.message


async def test_a_timed_out_request_is_retried(actions: Actions, endpoint: Endpoint) -> None:
    # The first answer takes 3 s; the attempt has 2 s, so the request gives up at 1.6 s.
    path, url = unique(endpoint, "/slow")
    params = {"url": f"{url}?delay=3", "select": {"late": "/late"}}
    output = await probe(
        actions, HTTP_REQUEST.name, params, attempts=2, timeout=timedelta(seconds=2)
    )
    assert output.output == {"status": 200, "late": False}
    assert endpoint.hits[path] == 2


async def test_set_fields_refuses_bad_names_for_good(actions: Actions) -> None:
    params = {"fields": {"Bad Name": 1, "ok": 2}}
    error = await failure(actions, "ticket.set_fields", params, attempts=3)
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert "/fields/Bad Name" in error.message
