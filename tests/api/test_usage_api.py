"""GET /usage: exact counts, admins read everyone's, a system only its own, CSV neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from store.models import TicketEventRow, TicketRow
from store.users import add_user
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident


def _period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


async def _seed_formula_row(api: Api) -> None:
    """A ticket row of a subject and department a spreadsheet would read as formulas."""
    now = datetime.now(UTC)
    async with api.sessions() as session, session.begin():
        session.add(
            TicketRow(
                key=f"{api.prefix}-999999",
                definition_key="incident",
                definition_version=1,
                department="-2+3",
                title="imported",
                status="open",
                requester="=HYPERLINK(1)",
                intake={},
                created_at=now,
                updated_at=now,
                resolved_at=None,
                closed_at=None,
                last_seq=1,
            )
        )
        await session.flush()
        session.add(
            TicketEventRow(
                ticket_key=f"{api.prefix}-999999", seq=1, type="created", at=now, actor="x", data={}
            )
        )


async def test_usage_is_exact_and_each_system_reads_only_its_own(api: Api) -> None:
    async with api.sessions() as session, session.begin():
        _row, token = await add_user(
            session=session, name="gateway", department="it", role="system", now=datetime.now(UTC)
        )
    api.tokens["gateway"] = token
    await publish_incident(api)
    await create_ticket(api, user="monitor")
    await create_ticket(api, user="monitor")
    await create_ticket(api, user="gateway")
    await _seed_formula_row(api)

    mine = await api.http.get("/usage", params=_period(), headers=api.auth("monitor"))
    assert mine.status_code == 200, mine.text
    assert {row["subject"] for row in mine.json()} == {"monitor"}
    assert sum(row["tickets_created"] for row in mine.json()) == 2

    everyone = await api.http.get(
        "/usage", params={**_period(), "format": "csv"}, headers=api.auth("root")
    )
    assert everyone.status_code == 200, everyone.text
    assert everyone.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(everyone.text)))
    created = {(r["subject"], r["department"]): int(r["tickets_created"]) for r in rows}
    # Cells a spreadsheet would run as formulas are text.
    assert created == {
        ("'=HYPERLINK(1)", "'-2+3"): 1,
        ("gateway", "service-desk"): 1,
        ("monitor", "service-desk"): 2,
    }

    others = await api.http.get(
        "/usage", params={**_period(), "subject": "gateway"}, headers=api.auth("monitor")
    )
    assert others.status_code == 403
    assert others.headers["content-type"] == PROBLEM
    worker = await api.http.get("/usage", params=_period(), headers=api.auth("dana"))
    assert worker.status_code == 403
    one = await api.http.get(
        "/usage", params={**_period(), "subject": "gateway"}, headers=api.auth("root")
    )
    assert [(r["subject"], r["tickets_created"]) for r in one.json()] == [("gateway", 1)]


async def test_a_period_backwards_or_longer_than_a_year_is_a_problem(api: Api) -> None:
    for period in (
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2025-01-01", "to": "2026-01-03"},
    ):
        response = await api.http.get("/usage", params=period, headers=api.auth("root"))
        assert response.status_code == 422
        assert [e["pointer"] for e in response.json()["errors"]] == ["query:/to"]
    bad = await api.http.get(
        "/usage", params={"from": "soon", "to": "2026-03-01"}, headers=api.auth("root")
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
