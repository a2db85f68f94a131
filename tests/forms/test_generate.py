"""Drafting forms from one sentence: fields recognised, hints honoured, nothing dropped."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms.generate import MAX_TEXT_LENGTH, PHONE_PATTERN, GenerationRejected, generate_form
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
    english = generate_form("phone and favourite drink")
    assert english["properties"]["favourite_drink"]["title"] == "Favourite drink"
    assert english["properties"]["favourite_drink"]["x-review"] is True


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
