"""Invalid bearer tokens are limited per client address, over HTTP on a real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from limits import parse

from api.app import create_app
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM
from ticketflow.settings import Settings

LIMIT = 3


@asynccontextmanager
async def _client(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://limited.test") as client:
        yield client


async def test_a_client_sending_bad_tokens_is_refused_before_the_lookup(api: Api) -> None:
    settings = Settings(
        database_url="sqlite://", task_queue=api.task_queue, auth_failure_limit=f"{LIMIT}/minute"
    )
    app = create_app(settings, temporal=api.env.client, sessions=api.sessions)
    bad = {"Authorization": "Bearer tf_guess"}
    async with (
        app.router.lifespan_context(app),
        _client(app, "10.0.0.1") as guesser,
        _client(app, "10.0.0.2") as neighbour,
    ):
        # Successful requests do not count towards the limit.
        for _ in range(LIMIT + 2):
            assert (await guesser.get("/tickets", headers=api.auth("rita"))).status_code == 200
        for _ in range(LIMIT):
            refused = await guesser.get("/tickets", headers=bad)
            assert refused.status_code == 401
        for headers in (bad, api.auth("rita")):  # even a valid token: it is not looked up
            limited = await guesser.get("/tickets", headers=headers)
            assert limited.status_code == 429, limited.text
            assert limited.headers["content-type"] == PROBLEM
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Another client address is not affected.
        assert (await neighbour.get("/tickets", headers=api.auth("rita"))).status_code == 200
        assert (await neighbour.get("/tickets", headers=bad)).status_code == 401


async def test_the_default_limit_applies_to_the_served_app(api: Api) -> None:
    allowed = parse(Settings().auth_failure_limit).amount
    bad = {"Authorization": "Bearer tf_guess"}
    for _ in range(allowed):
        assert (await api.http.get("/tickets", headers=bad)).status_code == 401
    limited = await api.http.get("/tickets", headers=bad)
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
