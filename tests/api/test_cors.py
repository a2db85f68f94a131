"""CORS over real HTTP: off unless origins are configured, and then for those origins only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.app import create_app
from tests.api.helpers import serving
from tests.dbutil import sqlite_url
from ticketflow.settings import Settings

FRONT_END = "https://desk.example.com"
UI = "http://127.0.0.1:8233"


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
    }


async def _ask(
    settings: Settings, *requests: tuple[str, str, dict[str, str]]
) -> list[httpx.Response]:
    # Preflights and /healthz touch neither Temporal nor the database: no lifespan is needed.
    app = create_app(settings)
    async with serving(app, lifespan="off") as url, httpx.AsyncClient(base_url=url) as http:
        return [
            await http.request(method, path, headers=headers) for method, path, headers in requests
        ]


async def test_cors_is_off_by_default(tmp_path: Path) -> None:
    preflight, simple = await _ask(
        Settings(database_url=sqlite_url(tmp_path)),
        ("OPTIONS", "/tickets", _preflight(FRONT_END)),
        ("GET", "/healthz", {"Origin": FRONT_END}),
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_a_configured_origin_is_admitted_and_no_other(tmp_path: Path) -> None:
    settings = Settings(
        database_url=sqlite_url(tmp_path), cors_origins=FRONT_END, codec_cors_origins=UI
    )
    allowed, simple, other, front_end_on_codec, ui_on_api = await _ask(
        settings,
        ("OPTIONS", "/tickets", _preflight(FRONT_END)),
        ("GET", "/healthz", {"Origin": FRONT_END}),
        ("OPTIONS", "/tickets", _preflight("https://evil.example")),
        ("OPTIONS", "/codec/decode", _preflight(FRONT_END)),
        ("OPTIONS", "/tickets", _preflight(UI)),
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONT_END
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    assert simple.headers["access-control-allow-origin"] == FRONT_END
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    # Each list admits its origins to its own paths only.
    assert "access-control-allow-origin" not in front_end_on_codec.headers
    assert "access-control-allow-origin" not in ui_on_api.headers


@pytest.mark.parametrize("origins", ["*", "desk.example.com", "https://desk.example.com/app"])
def test_an_origin_that_is_not_one_stops_the_process(origins: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(cors_origins=origins)
