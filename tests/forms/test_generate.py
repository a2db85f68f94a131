"""Drafting forms from one sentence: fields recognised, hints honoured, nothing dropped."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms.field_kinds import SCHEMAS
from forms.generate import (
    MAX_TEXT_LENGTH,
    PHONE_PATTERN,
    REVIEW_BELOW,
    GenerationRejected,
    draft_fields,
    generate_form,
)
from forms.layout import form_layout
from forms.validation import data_problems, schema_problems


def _fields(form: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {
        k: (v["title"], v.get("format") or v.get("type")) for k, v in form["properties"].items()
    }


def test_the_chinese_example_from_the_issue() -> None:
    form = generate_form("需要收集客户手机号、故障设备SN码、期望回电时间")
    assert schema_problems(form) == []
    assert form["x-language"] == "zh"
    assert _fields(form) == {
        "phone": ("客户手机号", "string"),
        "device_sn": ("故障设备SN码", "string"),
        "datetime": ("期望回电时间", "date-time"),
    }
    phone = form["properties"]["phone"]
    assert phone["pattern"] == PHONE_PATTERN
    assert (phone["x-sensitivity"], phone["x-maskable"], phone["x-widget"]) == (
        "confidential",
        True,
        "phone",
    )
    assert form["properties"]["device_sn"]["x-widget"] == "device-picker"
    assert form["x-order"] == ["phone", "device_sn", "datetime"]


def test_the_english_example_from_the_issue() -> None:
    form = generate_form("collect the customer's email, order number and preferred callback time")
    assert schema_problems(form) == []
    assert form["x-language"] == "en"
    assert _fields(form) == {
        "email": ("Customer's email", "email"),
        "order_number": ("Order number", "string"),
        "datetime": ("Preferred callback time", "date-time"),
    }


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("13800138000", True),
        ("+8613800138000", True),
        ("+14155550123", True),
        ("12800138000", False),
        ("1380013800", False),
        ("+0123456789", False),
        ("138-0013-8000", False),
    ],
)
def test_phone_pattern_takes_mainland_mobiles_and_e164(phone: str, valid: bool) -> None:
    form = generate_form("手机号")
    assert (data_problems(form, {"phone": phone}) == []) == valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "姓名、手机号、邮箱、地址、身份证号、订单号、金额、数量、日期、时间段",
            [
                "name", "phone", "email", "address", "id_number", "order_number", "amount",
                "quantity", "date", "time_range",
            ],
        ),
        (
            "设备SN；资产编号；错误码；照片；附件；优先级；位置；门店；部门；满意度",
            [
                "device_sn", "asset_tag", "error_code", "photo", "attachment", "priority",
                "location", "store", "department", "satisfaction",
            ],
        ),
        (
            "name, phone, email, address, ID number, order number, amount, quantity, date, "
            "time range",
            [
                "name", "phone", "email", "address", "id_number", "order_number", "amount",
                "quantity", "date", "time_range",
            ],
        ),
        (
            "device serial number; asset tag; error code; photo; attachment; priority; "
            "location; store; department and satisfaction score",
            [
                "device_sn", "asset_tag", "error_code", "photo", "attachment", "priority",
                "location", "store", "department", "satisfaction",
            ],
        ),
    ],
)  # fmt: skip
def test_every_business_field_is_recognised(text: str, expected: list[str]) -> None:
    form = generate_form(text)
    assert schema_problems(form) == []
    assert list(form["properties"]) == expected
    assert not any(f.get("x-review") for f in form["properties"].values())


def test_amount_carries_its_currency() -> None:
    form = generate_form("退款金额和币种")
    assert list(form["properties"]) == ["amount"]
    amount = form["properties"]["amount"]
    assert data_problems(form, {"amount": {"value": 12.5, "currency": "CNY"}}) == []
    assert [p.pointer for p in data_problems(form, {"amount": {"value": -1}})] == [
        "/amount/currency",
        "/amount/value",
    ]
    assert amount["title"] == "退款金额"


@pytest.mark.parametrize(
    ("text", "required", "optional"),
    [
        ("姓名（必填）、邮箱（选填）、备注（非必填）", ["name"], ["email", "description"]),
        ("name (required), email optional, notes (optional)", ["name"], ["email", "description"]),
    ],
)
def test_required_and_optional_hints(text: str, required: list[str], optional: list[str]) -> None:
    form = generate_form(text)
    assert form["required"] == required
    assert sorted(set(form["properties"]) - set(required)) == sorted(optional)
    assert all("必填" not in f["title"] and "optional" not in f["title"].lower()
               for f in form["properties"].values())  # fmt: skip


def test_unknown_phrases_become_review_fields_in_place() -> None:
    form = generate_form("手机号、车牌颜色、喜欢的饮料")
    assert list(form["properties"]) == ["phone", "field_2", "field_3"]
    unknown = form["properties"]["field_2"]
    assert (unknown["title"], unknown["type"], unknown["x-review"]) == ("车牌颜色", "string", True)
    english = generate_form("phone and favourite board game")
    assert english["properties"]["favourite_board_game"]["title"] == "Favourite board game"
    assert english["properties"]["favourite_board_game"]["x-review"] is True


def test_repeated_fields_get_distinct_keys() -> None:
    form = generate_form("客户手机号、备用手机号")
    assert list(form["properties"]) == ["phone", "phone_2"]


@pytest.mark.parametrize("text", ["", "   \n\t", "，、；"])
def test_empty_text_is_refused_clearly(text: str) -> None:
    with pytest.raises(GenerationRejected) as caught:
        generate_form(text)
    (problem,) = caught.value.problems
    assert problem.pointer == "/text"


def test_overlong_text_is_refused_clearly() -> None:
    with pytest.raises(GenerationRejected) as caught:
        generate_form("手机号、" * 2500)
    (problem,) = caught.value.problems
    assert problem.pointer == "/text"
    assert str(MAX_TEXT_LENGTH) in problem.detail
    assert "10000" in problem.detail


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_form_or_a_clear_refusal(text: str) -> None:
    try:
        form = generate_form(text)
    except GenerationRejected as exc:
        refusal = [p.pointer for p in exc.problems]
    else:
        refusal = []
        assert schema_problems(form) == []
        assert [f.name for f in form_layout(form).fields] == list(form["properties"])
    assert refusal in ([], ["/text"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("联系人电话", "phone"),
        ("门店名称", "store"),
        ("客户姓名", "name"),
        ("故障设备SN码", "device_sn"),
        ("维修时间段", "time_range"),
        ("contact person phone", "phone"),
        ("customer name", "name"),
        ("date of purchase", "date"),
        ("number of items", "quantity"),
        ("callback time window", "time_range"),
    ],
)
def test_the_head_word_decides_the_field(text: str, expected: str) -> None:
    assert list(generate_form(text)["properties"]) == [expected]


def test_a_thing_called_a_name_is_not_personal_data() -> None:
    form = generate_form("商品名称")
    (field,) = form["properties"].values()
    assert field["x-review"] is True
    assert "x-sensitivity" not in field


def test_drafts_do_not_share_nested_schemas() -> None:
    first = generate_form("金额")
    first["properties"]["amount"]["properties"]["currency"]["enum"].append("XXX")
    assert (
        "XXX" not in generate_form("金额")["properties"]["amount"]["properties"]["currency"]["enum"]
    )


def _kinds(text: str) -> list[str]:
    return [f.kind for f in draft_fields(text)[1]]


def test_an_email_address_is_an_email_not_a_postal_address() -> None:
    form = generate_form("collect the customer's email address and their home address")
    assert list(form["properties"]) == ["email", "address"]
    email = form["properties"]["email"]
    assert (email["title"], email["format"]) == ("Customer's email address", "email")
    assert data_problems(form, {"email": "ana@example.com", "address": "1 Rue X"}) == []
    assert [p.pointer for p in data_problems(form, {"email": "Rue X 1", "address": "x"})] == [
        "/email"
    ]


def test_an_employee_id_is_an_identifier_titled_without_filler() -> None:
    form = generate_form("name, need the employee ID, and the department")
    assert list(form["properties"]) == ["name", "employee_id", "department"]
    employee = form["properties"]["employee_id"]
    assert employee["title"] == "Employee ID"
    assert "x-review" not in employee
    assert data_problems(form, {"name": "Ana", "employee_id": "E-0042", "department": "IT"}) == []
    wrong = {"name": "Ana", "employee_id": "E 42!", "department": "IT"}
    assert [p.pointer for p in data_problems(form, wrong)] == ["/employee_id"]


def test_an_out_of_stock_sku_is_an_sku_field() -> None:
    form = generate_form("请提供门店编号、缺货商品SKU、缺货件数")
    assert list(form["properties"]) == ["store", "sku", "quantity"]
    sku = form["properties"]["sku"]
    assert sku["title"] == "缺货商品SKU"
    assert "x-review" not in sku


@pytest.mark.parametrize(
    ("text", "titles"),
    [
        ("we need the employee ID and please provide the ticket number",
         ["Employee ID", "Ticket number"]),
        ("请提供缺货商品SKU、需要填写门店名称、另外请上传货架照片",
         ["缺货商品SKU", "门店名称", "货架照片"]),
        ("We will also need their licence plate, if any", ["Licence plate"]),
        ("- the caller's mobile\n* an asset tag\n1. the fault code",
         ["Caller's mobile", "Asset tag", "Fault code"]),
    ],
)  # fmt: skip
def test_filler_is_stripped_before_titling(text: str, titles: list[str]) -> None:
    form = generate_form(text)
    assert [f["title"] for f in form["properties"].values()] == titles
    assert not any(f.get("x-review") for f in form["properties"].values())


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("employee ID", "employee_id"),
        ("员工工号", "employee_id"),
        ("product SKU", "sku"),
        ("商品货号", "sku"),
        ("ticket number", "ticket_number"),
        ("关联工单号", "ticket_number"),
        ("licence plate", "licence_plate"),
        ("车牌号", "licence_plate"),
        ("refund amount in USD", "amount"),
        ("退款金额", "amount"),
        ("completion percentage", "percentage"),
        ("良品率百分比", "percentage"),
        ("product page URL", "url"),
        ("商品链接", "url"),
        ("outage duration", "duration"),
        ("维修耗时", "duration"),
        ("is the device under warranty?", "yes_no"),
        ("是否需要上门", "yes_no"),
        ("type: hardware, software or network", "choice"),
        ("类型：硬件、软件或网络", "choice"),
        ("budget range", "range"),
        ("温度范围", "range"),
    ],
)
def test_every_new_kind_is_recognised(text: str, kind: str) -> None:
    assert _kinds(text) == [kind]
    form = generate_form(text)
    assert schema_problems(form) == []
    (field,) = form["properties"].values()
    assert {k: v for k, v in field.items() if k not in ("title", "x-confidence", "enum")} == {
        k: v for k, v in SCHEMAS[kind].items() if k not in ("enum",)
    } | ({"properties": field["properties"]} if "properties" in field else {})


@pytest.mark.parametrize(
    ("text", "valid", "invalid"),
    [
        ("licence plate", "京A12345", "not a plate!"),
        ("product page URL", "https://shop.example.com/p/1", "shop.example.com"),
        ("outage duration", "PT1H30M", "90 minutes"),
        ("completion percentage", 42.5, 140),
        ("is the device under warranty?", True, "yes"),
        ("ticket number", "INC-000123", "#1"),
    ],
)
def test_new_kinds_check_what_is_submitted(text: str, valid: Any, invalid: Any) -> None:
    form = generate_form(text)
    (key,) = form["properties"]
    assert data_problems(form, {key: valid}) == []
    assert [p.pointer for p in data_problems(form, {key: invalid})] == [f"/{key}"]


def test_money_takes_the_currency_the_sentence_names() -> None:
    for text, currency in [
        ("refund amount in USD", "USD"),
        ("赔偿金额（欧元）", "EUR"),
        ("费用", "CNY"),
    ]:
        amount = generate_form(text)["properties"]["amount"]
        assert amount["properties"]["currency"]["default"] == currency


@pytest.mark.parametrize(
    ("text", "key", "options"),
    [
        ("name, type: hardware, software or network, and a description", "type",
         ["hardware", "software", "network"]),
        ("severity (low/medium/high)", "priority", ["low", "medium", "high"]),
        ("姓名、问题类型：硬件、软件或网络、问题描述", "choice", ["硬件", "软件", "网络"]),
        ("配送方式（快递/自提/邮寄）", "choice", ["快递", "自提", "邮寄"]),
        ("priority: high, medium or low", "priority", ["high", "medium", "low"]),
    ],
)  # fmt: skip
def test_choices_listed_in_the_sentence_become_an_enum(
    text: str, key: str, options: list[str]
) -> None:
    form = generate_form(text)
    assert schema_problems(form) == []
    field = form["properties"][key]
    assert (field["enum"], field["x-widget"]) == (options, "select")
    assert data_problems(form, {**_filled(form), key: options[0]}) == []
    assert [p.pointer for p in data_problems(form, {**_filled(form), key: "other"})] == [f"/{key}"]
    layout = {f.name: f for f in form_layout(form).fields}
    assert layout[key].options == options


def _filled(form: dict[str, Any]) -> dict[str, Any]:
    return {k: "x" for k, v in form["properties"].items() if v.get("type") == "string"}


def test_yes_no_options_make_a_boolean() -> None:
    form = generate_form("follow-up needed (yes/no), 是否紧急（是/否）")
    assert [f["type"] for f in form["properties"].values()] == ["boolean", "boolean"]


@pytest.mark.parametrize(
    ("text", "key", "bounds"),
    [
        ("quantity (1-10)", "quantity", (1, 10)),
        ("缺货数量（1到500）", "quantity", (1, 500)),
        ("discount percentage 0-50", "percentage", (0, 50)),
        ("age between 18 and 65", "age", (18, 65)),
        ("温度（-20到40）", "number", (-20, 40)),
    ],
)
def test_ranges_in_the_sentence_set_minimum_and_maximum(
    text: str, key: str, bounds: tuple[int, int]
) -> None:
    form = generate_form(text)
    assert schema_problems(form) == []
    field = form["properties"][key]
    assert (field["minimum"], field["maximum"]) == bounds
    assert not any(ch.isdigit() for ch in field["title"])
    low, high = bounds
    assert data_problems(form, {key: low}) == data_problems(form, {key: high}) == []
    assert [p.pointer for p in data_problems(form, {key: high + 1})] == [f"/{key}"]


def test_a_range_field_has_a_min_and_a_max() -> None:
    form = generate_form("acceptable price range 100-500")
    (field,) = form["properties"].values()
    assert field["required"] == ["min", "max"]
    assert data_problems(form, {next(iter(form["properties"])): {"min": 100, "max": 400}}) == []
    assert data_problems(form, {next(iter(form["properties"])): {"min": 50, "max": 400}}) != []


def test_every_field_carries_the_models_confidence() -> None:
    form = generate_form("customer email, 无关的东西, employee ID")
    confidences = [f["x-confidence"] for f in form["properties"].values()]
    assert all(0 <= c <= 1 for c in confidences)
    assert schema_problems(form) == []
    bad = {**form, "properties": {"a": {"type": "string", "x-confidence": 1.5}}, "x-order": ["a"],
           "required": []}  # fmt: skip
    assert [p.pointer for p in schema_problems(bad)] == ["/properties/a/x-confidence"]


def test_below_the_threshold_a_field_is_text_for_review() -> None:
    ((field,),) = [draft_fields("staff badge number")[1]]
    assert field.kind == "employee_id"
    assert field.confidence >= REVIEW_BELOW
    kept = generate_form("staff badge number", review_below=field.confidence)
    assert "x-review" not in kept["properties"]["employee_id"]
    doubted = generate_form("staff badge number", review_below=field.confidence + 0.0001)
    (key,) = doubted["properties"]
    review = doubted["properties"][key]
    assert (key, review["type"], review["x-review"]) == ("staff_badge_number", "string", True)
    assert review["x-confidence"] == field.confidence
    assert "pattern" not in review
