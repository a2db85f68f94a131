"""CSV exports never hand a spreadsheet a formula: cells starting with = + - @ tab CR are quoted."""

from __future__ import annotations

import csv
import io

import pytest

from api.csv_cells import FORMULA_STARTS, csv_cell, csv_row
from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import publish_incident

HOSTILE = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_cell_gets_a_leading_quote(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["VPN down", "", "a=b", "'quoted", 5, -5, 1.5, None, True])
def test_other_cells_are_left_alone(value: object) -> None:
    assert csv_cell(value) == value


def test_a_row_is_neutralised_cell_by_cell() -> None:
    assert csv_row(["=a", "b", -1]) == ["'=a", "b", -1]


def _formula_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if cell.startswith(FORMULA_STARTS)
    ]


async def test_ticket_export_quotes_formula_values(api: Api) -> None:
    form = {
        "type": "object",
        "required": ["title"],
        "properties": {"title": {"type": "string"}, "=cmd|' /C calc'!A0": {"type": "string"}},
    }
    await publish_incident(api, intake_form=form)
    for title in HOSTILE:
        filed = await api.http.post(
            "/tickets",
            json={
                "definition": "incident",
                "data": {"title": title, "=cmd|' /C calc'!A0": "@SUM(1+1)"},
                "allow_duplicate": True,
            },
            headers=api.auth("rita"),
        )
        assert filed.status_code == 201, filed.text
    export = await api.http.get(
        "/tickets/export", params={"format": "csv"}, headers=api.auth("root")
    )
    assert export.status_code == 200, export.text
    assert _formula_cells(export.text) == []
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(r["intake.title"] for r in rows) == sorted("'" + t for t in HOSTILE)
    assert {r["intake.=cmd|' /C calc'!A0"] for r in rows} == {"'@SUM(1+1)"}


async def test_permission_audit_csv_quotes_formula_values(api: Api) -> None:
    await grant(
        api, subject="role:agent", domain="*", object="ticket.notes", action="read", reason="=1+1"
    )
    report = await api.http.get(
        "/audit/permissions", params={"format": "csv"}, headers=api.auth("audrey")
    )
    assert report.status_code == 200, report.text
    assert _formula_cells(report.text) == []
    [row] = list(csv.DictReader(io.StringIO(report.text)))
    assert row["reason"] == "'=1+1"
