"""The OpenAPI document tells the truth about errors, redacted views, reports and date-times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from api.app import create_app
from api.problems import PROBLEM_JSON, problem_response
from api.routes.tickets import EventView, TicketDetail
from api.schemas import DateTimeParam, TaskView, TicketSummary
from domain.problems import Problem
from policies.catalog import FieldCatalog
from policies.event_shapes import redact_event
from policies.redaction import TASK_SHAPE, TICKET_SHAPE, FieldView, redact
from tests.api.conftest import Api
from ticketflow.settings import Settings

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The app's OpenAPI document, as `/openapi.json` serves it."""
    return create_app(Settings(database_url="sqlite:///unused.db")).openapi()


def validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for one component schema of the document, its references resolved."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(schema)


def errors(document: dict[str, Any], name: str, instance: Any) -> list[str]:
    """The schema violations of `instance` against a component schema."""
    return [e.message for e in validator(document, name).iter_errors(instance)]


def test_every_operation_answers_4xx_with_a_problem_document(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert "422" not in responses, where
            problem = responses["4XX"]["content"]
            assert list(problem) == [PROBLEM_JSON], where
            assert problem[PROBLEM_JSON]["schema"] == {
                "$ref": "#/components/schemas/ProblemDocument"
            }, where


def test_problem_documents_match_their_documented_schema(document: dict[str, Any]) -> None:
    bodies = [
        problem_response(404, "no ticket X-1", instance="/tickets/X-1"),
        problem_response(422, "invalid", problems=[Problem(pointer="/data/title", detail="short")]),
        problem_response(413, "request body is larger than 64000 bytes"),
    ]
    for response in bodies:
        assert errors(document, "ProblemDocument", json.loads(bytes(response.body))) == []


def _nothing_readable() -> FieldView:
    return FieldView(decisions=(), catalog=FieldCatalog())


def test_fully_redacted_views_match_their_documented_schemas(document: dict[str, Any]) -> None:
    task = TaskView(
        id="X-1:triage:1",
        ticket_key="X-1",
        stage_key="triage",
        title="Triage",
        group_name="desk",
        status="open",
        assignee=None,
        round=1,
        opened_at=NOW,
        claimed_at=None,
        completed_at=None,
        completed_by=None,
        data={"note": "secret"},
    )
    summary = dict(
        key="X-1",
        definition_key="incident",
        definition_version=1,
        department="desk",
        title="VPN down",
        status="open",
        requester="rita",
        created_at=NOW,
        updated_at=NOW,
        resolved_at=None,
        closed_at=None,
    )
    detail = TicketDetail(**summary, intake={"title": "VPN down"}, last_seq=1, tasks=[task])
    event = EventView(seq=1, type="opened", at=NOW, actor="rita", data={"title": "VPN down"})
    view = _nothing_readable()
    shown_event = redact_event(event.model_dump(mode="json"), view)
    assert shown_event is not None
    shown = {
        "TicketDetail": redact(detail.model_dump(mode="json"), view, TICKET_SHAPE),
        "TicketSummary": redact(
            TicketSummary(**summary).model_dump(mode="json"), view, TICKET_SHAPE
        ),
        "TaskView": redact(task.model_dump(mode="json"), view, TASK_SHAPE),
        "EventView": shown_event,
    }
    assert "title" not in shown["TicketDetail"]
    for name, instance in shown.items():
        assert errors(document, name, instance) == [], name


def test_reports_document_their_csv_form(document: dict[str, Any]) -> None:
    for path in ("/tickets/export", "/audit/permissions"):
        content = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["text/csv"]["schema"] == {"type": "string"}, path
        assert content["application/json"]["schema"]["type"] == "array", path


def test_filing_documents_the_duplicate_answer(document: dict[str, Any]) -> None:
    responses = document["paths"]["/tickets"]["post"]["responses"]
    for status in ("200", "201"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/TicketCreated"}, status


@pytest.mark.parametrize("value", ["-17966147", "1700000000", "0", "12.5"])
def test_a_number_is_not_a_date_time(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(DateTimeParam).validate_python(value)


def test_an_rfc_3339_date_time_still_parses() -> None:
    parsed = TypeAdapter(DateTimeParam).validate_python("2026-01-31T09:00:00Z")
    assert parsed == NOW


async def test_numeric_date_times_in_queries_are_422_problems(api: Api) -> None:
    for path, user, name in (
        ("/kpis?from=-17966147", "dana", "from"),
        ("/audit/permissions?to=1700000000", "audrey", "to"),
    ):
        response = await api.http.get(path, headers=api.auth(user))
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON
        pointers = [e["pointer"] for e in response.json()["errors"]]
        assert pointers == [f"query:/{name}"], path
