"""The request path runs on the event loop: no dependency or endpoint hops to a thread."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.app import create_app
from ticketflow.settings import Settings


def _runs_on_loop(call: Any) -> bool:
    """Whether FastAPI awaits `call` on the event loop instead of sending it to a thread."""
    if inspect.isclass(call):
        return False
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    method = getattr(call, "__call__", None)  # noqa: B004 - instances like HTTPBearer
    return inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # an included router, as it was
        if included is not None:
            yield from _routes(included.routes)


def _calls(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield getattr(dependency.call, "__qualname__", repr(dependency.call)), dependency.call
        yield from _calls(dependency)


def test_every_dependency_and_endpoint_is_awaited_on_the_event_loop() -> None:
    """A plain function dependency costs every request a hop to the thread pool and back."""
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    routes = list(_routes(app.router.routes))
    assert len(routes) > 100  # every router was walked
    on_threads = set()
    for route in routes:
        if not _runs_on_loop(route.endpoint):
            on_threads.add(f"endpoint {route.path}")
        on_threads |= {name for name, call in _calls(route.dependant) if not _runs_on_loop(call)}
    assert not on_threads
