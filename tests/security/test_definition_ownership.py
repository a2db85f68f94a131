"""A definition key belongs to its department: no other department's owner publishes it.

Before, any process owner could publish the next version of another department's key,
directly or from a template, and so take over where that key's new tickets go.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from store.models import DefinitionRow, FormRow
from store.users import add_user
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, incident_document
from tests.test_cli import ticketflow


async def _owner_in(api: Api, department: str) -> str:
    name = f"owner-{department}"
    async with api.sessions() as session, session.begin():
        _row, api.tokens[name] = await add_user(
            session=session,
            name=name,
            department=department,
            role="process_owner",
            now=datetime.now(UTC),
        )
    return name


async def _stored(api: Api) -> tuple[int, int]:
    async with api.sessions() as session:
        definitions = await session.scalar(select(func.count()).select_from(DefinitionRow))
        forms = await session.scalar(select(func.count()).select_from(FormRow))
    return definitions or 0, forms or 0


async def _publish(api: Api, user: str, **changes: Any) -> Any:
    document = incident_document(key_prefix=api.prefix, **changes)
    return await api.http.post("/definitions", json=document, headers=api.auth(user))


def _refused(response: Any, pointer: str) -> None:
    assert (response.status_code, response.headers["content-type"]) == (403, PROBLEM), response.text
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


async def test_only_the_keys_department_publishes_its_next_version(api: Api) -> None:
    desk = await _owner_in(api, "service-desk")
    ops = await _owner_in(api, "ops")
    finance = await _owner_in(api, "finance")
    assert (await _publish(api, desk, department="service-desk")).status_code == 201

    _refused(await _publish(api, ops, department="service-desk"), "/key")
    _refused(await _publish(api, ops, department="ops"), "/key")
    # From a template approved for the intruder's own department, under the same key: the
    # form is not written either.
    taken = await api.http.post(
        "/definitions/from-template",
        json={"template": "finance-tax-config", "key": "incident", "key_prefix": api.prefix},
        headers=api.auth(finance),
    )
    _refused(taken, "/key")
    # Its own department's owner may not move it elsewhere.
    _refused(await _publish(api, desk, department="ops"), "/department")
    assert await _stored(api) == (1, 0)

    assert (await _publish(api, desk, department="service-desk")).status_code == 201
    moved = await _publish(api, "root", department="ops")
    assert moved.status_code == 201, moved.text
    _refused(await _publish(api, desk, department="service-desk"), "/key")
    assert (await _publish(api, ops, department="ops")).status_code == 201
    versions = await api.http.get("/definitions/incident/versions", headers=api.auth("dana"))
    assert [(v["version"], v["department"]) for v in versions.json()] == [
        (4, "ops"),
        (3, "ops"),
        (2, "service-desk"),
        (1, "service-desk"),
    ]


def test_the_cli_publishes_with_the_databases_credentials(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    document = incident_document(department="service-desk")
    path = tmp_path / "incident.yaml"
    path.write_text(yaml.safe_dump(document))
    assert ticketflow(tmp_path, "definitions", "publish", str(path)).returncode == 0
    path.write_text(yaml.safe_dump({**document, "department": "ops"}))
    moved = ticketflow(tmp_path, "definitions", "publish", str(path))
    assert (moved.returncode, moved.stdout.strip()) == (0, "published incident@2")
