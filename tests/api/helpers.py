"""Shortcuts for driving tickets through the HTTP API in tests."""

from __future__ import annotations

import asyncio
import copy
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest
import uvicorn
from starlette.types import ASGIApp

from tests.api.conftest import Api
from tests.builders import INCIDENT, STAGE_DATA

PROBLEM = "application/problem+json"
# SVG is drawn by Graphviz's `dot`, which `.ci/run` installs; elsewhere these tests wait for it.
NEEDS_DOT = pytest.mark.skipif(
    shutil.which("dot") is None, reason="SVG needs Graphviz's dot: apt-get install graphviz"
)


def incident_document(**changes: Any) -> dict[str, Any]:
    """The incident definition as a process owner would post it (no version)."""
    document = {k: copy.deepcopy(v) for k, v in INCIDENT.items() if k != "version"}
    document.update(changes)
    return document


async def publish_incident(api: Api, **changes: Any) -> dict[str, Any]:
    """Publish the incident definition; returns the published detail."""
    document = incident_document(**{"key_prefix": api.prefix, **changes})
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_ticket(api: Api, user: str = "rita", title: str = "VPN down") -> str:
    """File an incident ticket; returns its key."""
    response = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": title}},
        headers=api.auth(user),
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def work(api: Api, key: str, stage: str, user: str) -> None:
    """Claim and complete a stage with valid data."""
    claimed = await api.http.post(f"/tickets/{key}/tasks/{stage}/claim", headers=api.auth(user))
    assert claimed.status_code == 200, claimed.text
    done = await api.http.post(
        f"/tickets/{key}/tasks/{stage}/complete",
        json={"data": STAGE_DATA[stage]},
        headers=api.auth(user),
    )
    assert done.status_code == 200, done.text


@asynccontextmanager
async def serving(
    app: ASGIApp, *, lifespan: Literal["auto", "on", "off"] = "auto", log_level: str = "warning"
) -> AsyncIterator[str]:
    """The app under uvicorn on a free loopback port of this loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=log_level, lifespan=lifespan, timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
