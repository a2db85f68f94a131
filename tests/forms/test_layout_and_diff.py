"""Form layouts (order, widgets, dependent fields) and diffs between versions."""

from __future__ import annotations

import copy
from typing import Any

from forms.diff import diff_forms
from forms.layout import form_layout
from services.bundled import bundled_definitions

FORM: dict[str, Any] = {
    "type": "object",
    "title": "Callback",
    "x-language": "zh",
    "x-order": ["phone", "reason"],
    "required": ["reason", "phone"],
    "properties": {
        "reason": {"type": "string", "title": "原因", "maxLength": 2000},
        "kind": {"enum": ["call", "visit"], "title": "方式"},
        "phone": {
            "type": "string",
            "title": "手机号",
            "x-widget": "phone",
            "x-sensitivity": "confidential",
            "x-maskable": True,
            "x-placeholder": "13800138000",
        },
        "when": {"type": "string", "format": "date-time"},
        "address": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string"}, "street": {"type": "string"}},
        },
        "photos": {"type": "array", "items": {"type": "string", "format": "uri"}},
    },
    "if": {"properties": {"kind": {"const": "visit"}}},
    "then": {"required": ["address"], "properties": {"floor": {"type": "integer"}}},
    "else": {"required": ["when"]},
}


def test_layout_orders_fields_and_infers_widgets() -> None:
    layout = form_layout(FORM)
    assert layout.language == "zh"
    names = [f.name for f in layout.fields]
    assert names == ["phone", "reason", "kind", "when", "address", "photos", "floor"]
    by_name = {f.name: f for f in layout.fields}
    assert (by_name["phone"].widget, by_name["phone"].sensitivity) == ("phone", "confidential")
    assert by_name["phone"].maskable
    assert by_name["phone"].placeholder == "13800138000"
    assert by_name["reason"].widget == "textarea"
    assert (by_name["kind"].widget, by_name["kind"].options) == ("select", ["call", "visit"])
    assert by_name["when"].widget == "date-time"
    assert by_name["reason"].sensitivity == "internal"
    assert by_name["photos"].repeated
    assert by_name["photos"].format == "uri"
    assert [(f.name, f.required) for f in by_name["address"].fields] == [
        ("city", True),
        ("street", False),
    ]
    assert by_name["address"].widget is None


def test_if_then_else_become_dependent_fields() -> None:
    by_name = {f.name: f for f in form_layout(FORM).fields}
    address, floor, when = by_name["address"], by_name["floor"], by_name["when"]
    assert address.required
    assert floor.required is False
    assert when.required
    assert [(c.field, c.equals, c.negate) for c in address.visible_when] == [
        ("kind", ["visit"], False)
    ]
    assert [(c.field, c.equals, c.negate) for c in floor.visible_when] == [
        ("kind", ["visit"], False)
    ]
    assert [(c.field, c.equals, c.negate) for c in when.visible_when] == [("kind", ["visit"], True)]
    assert by_name["phone"].visible_when == []


def test_bundled_dependent_field_is_exposed() -> None:
    (document,) = [d for name, d in bundled_definitions() if name == "equipment-repair.yaml"]
    (stage,) = [s for s in document["stages"] if s["key"] == "order-parts"]
    by_name = {f.name: f for f in form_layout(stage["form"]).fields}
    assert by_name["purchase_order"].visible_when[0].field == "parts_ordered"
    assert by_name["parts_ordered"].visible_when == []


def test_diff_lists_added_removed_and_changed_fields() -> None:
    after = copy.deepcopy(FORM)
    del after["properties"]["photos"]
    after["properties"]["email"] = {"type": "string", "format": "email", "title": "邮箱"}
    after["properties"]["reason"]["maxLength"] = 500
    after["properties"]["address"]["properties"]["city"]["title"] = "城市"
    after["required"] = ["phone"]
    after["title"] = "Callback request"
    diff = diff_forms("callback", FORM, after, versions=(1, 2))
    assert [(f.pointer, f.title) for f in diff.added] == [("/email", "邮箱")]
    assert [f.pointer for f in diff.removed] == ["/photos"]
    changed = {c.pointer: [(k.keyword, k.before, k.after) for k in c.changes] for c in diff.changed}
    assert changed == {
        "/reason": [("maxLength", 2000, 500), ("required", True, False)],
        "/address/city": [("title", None, "城市")],
    }
    assert [(k.keyword, k.after) for k in diff.form_changes] == [("title", "Callback request")]


def test_diff_of_a_form_with_itself_is_empty() -> None:
    diff = diff_forms("callback", FORM, copy.deepcopy(FORM), versions=(1, 1))
    assert (diff.added, diff.removed, diff.changed, diff.form_changes) == ([], [], [], [])


def test_boolean_subschemas_are_still_fields() -> None:
    layout = form_layout({"type": "object", "properties": {"anything": True, "never": False}})
    assert [(f.name, f.widget, f.title) for f in layout.fields] == [
        ("anything", "text", "anything"),
        ("never", "text", "never"),
    ]


def test_diff_sees_boolean_subschemas() -> None:
    before = {"type": "object", "properties": {"a": True}}
    after = {"type": "object", "properties": {"a": False, "b": True}}
    diff = diff_forms("k", before, after, versions=(1, 2))
    assert [f.pointer for f in diff.added] == ["/b"]
    assert [
        (c.pointer, [(k.keyword, k.before, k.after) for k in c.changes]) for c in diff.changed
    ] == [("/a", [("schema", True, False)])]
