"""A deployment's actions, name -> (spec, activity): workers register them, publishing reads specs.

To add an action: give it an `ActionSpec` (domain data: parameter and output schemas, the
longest timeout a stage may give it), write an activity decorated
`@activity.defn(name=action_activity(spec.name))` that takes `ActionInput` and returns
`ActionOutput` and fails with `activities.actions.errors`, and add the pair in
`action_registry` (or `registry.add(...)` in a worker's composition root). A definition can
then name it, and the publish checks hold its parameters to the spec's schema.

`device.snapshot` is not here: its spec `reads_device`, so the workflow runs it as the ticket
worker's device lookup (`activities.device_lookup`) and the edge worker's snapshot activity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from activities.actions.fields import set_fields
from activities.actions.http import HttpRequestAction
from domain.actions import HTTP_REQUEST, SET_FIELDS, ActionInput, ActionOutput, ActionSpec
from ticketflow.settings import Settings

ActionActivity = Callable[[ActionInput], Awaitable[ActionOutput]]


@dataclass(frozen=True)
class RegisteredAction:
    """One action: what the publish checks read and the activity a worker runs."""

    spec: ActionSpec
    activity: ActionActivity


class ActionRegistry:
    """The actions one deployment serves, by name; each name registered once."""

    def __init__(self, actions: Iterable[RegisteredAction] = ()) -> None:
        self._actions: dict[str, RegisteredAction] = {}
        for action in actions:
            self.add(action.spec, action.activity)

    def add(self, spec: ActionSpec, activity: ActionActivity) -> None:
        """Register an action; a second one of the same name is a ValueError."""
        if spec.name in self._actions:
            raise ValueError(f"the action {spec.name!r} is registered twice")
        self._actions[spec.name] = RegisteredAction(spec, activity)

    @property
    def specs(self) -> dict[str, ActionSpec]:
        """The specs by name, for the publish checks."""
        return {name: action.spec for name, action in self._actions.items()}

    @property
    def activities(self) -> list[ActionActivity]:
        """The activities a worker registers."""
        return [action.activity for action in self._actions.values()]

    def __iter__(self) -> Iterator[RegisteredAction]:
        return iter(self._actions.values())

    def __len__(self) -> int:
        return len(self._actions)


def action_registry(settings: Settings) -> ActionRegistry:
    """The built-in actions, configured by the deployment's settings."""
    http = HttpRequestAction(settings.http_allowed_hosts)
    return ActionRegistry(
        [RegisteredAction(HTTP_REQUEST, http.request), RegisteredAction(SET_FIELDS, set_fields)]
    )
