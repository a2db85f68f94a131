"""The bundled template library: every template, its forms and their examples are valid."""

from __future__ import annotations

import pytest

from domain.definitions import ProcessDefinition, structural_problems
from forms.library import Template, bundled_templates, definition_document, find_template
from forms.validation import data_problems, schema_problems

TEMPLATES = bundled_templates()
REQUIRED_KINDS = {
    "it-incident",
    "equipment-repair",
    "production-deviation",
    "after-sales-repair",
    "store-out-of-stock",
    "hr-onboarding-issue",
    "finance-tax-config",
    "marketing-banner-change",
    "hospital-his-fault",
    "elevator-entrapment",
    "logistics-exception",
    "customer-complaint",
}


def test_every_required_kind_is_in_the_library() -> None:
    assert {t.key for t in TEMPLATES} >= REQUIRED_KINDS


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.key for t in TEMPLATES])
def test_template_forms_and_examples_are_valid(template: Template) -> None:
    assert schema_problems(template.form) == []
    assert template.form["examples"]
    for example in template.form["examples"]:
        assert data_problems(template.form, example) == []
    document = definition_document(
        template, key=template.key, title=template.title, key_prefix=None, form_ref="x@1"
    )
    definition = ProcessDefinition.model_validate(document)
    assert structural_problems(definition) == []
    for stage in definition.stages:
        assert stage.form is not None
        assert schema_problems(stage.form) == [], stage.key
        assert stage.form["examples"], stage.key
        for example in stage.form["examples"]:
            assert data_problems(stage.form, example) == [], stage.key
        assert data_problems(stage.form, {}), stage.key


def test_department_filter_and_lookup() -> None:
    retail = bundled_templates(department="warehouse")
    assert [t.key for t in retail] == ["store-out-of-stock"]
    assert find_template("store-out-of-stock") is retail[0]
    assert find_template("nope") is None


def test_out_of_stock_inspection_creates_a_replenishment_request() -> None:
    template = find_template("store-out-of-stock")
    assert template is not None
    stage = template.definition["stages"][0]
    assert stage["key"] == "replenishment-request"
    assert {"request_number", "lines"} <= set(stage["form"]["required"])
