"""Drafting a form from one sentence, by rules (no model): "需要收集客户手机号、故障设备SN码".

The sentence is split into phrases on list separators (、，,;；和 "and"); each phrase is matched
against a table of common business fields by keyword, longest keyword first. A phrase that
matches nothing becomes a text field titled with the phrase and flagged `x-review`, so nothing
the author asked for is dropped. Titles are the author's own phrases, in the sentence's language.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from domain.problems import Problem, Rejected
from forms.validation import DIALECT

MAX_TEXT_LENGTH = 2000
MAX_FIELDS = 60

PHONE_PATTERN = r"^(?:1[3-9][0-9]{9}|\+[1-9][0-9]{6,14})$"
CURRENCIES = ["CNY", "USD", "EUR", "HKD", "JPY", "GBP"]


@dataclass(frozen=True)
class FieldRule:
    """A business field: the words that name it and the schema it gets."""

    key: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    schema: dict[str, Any] = field(default_factory=dict)
    part_of: str | None = None  # named after that field, it is already part of it


def _text(max_length: int = 200, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, **extra}


_FILES = {
    "type": "array",
    "items": {"type": "string", "format": "uri"},
    "maxItems": 20,
    "x-widget": "file",
}
RULES: tuple[FieldRule, ...] = (
    FieldRule(
        "phone",
        ("手机号", "手机", "电话", "联系方式", "号码"),
        ("phone", "mobile", "telephone", "contact number"),
        _text(
            16,
            pattern=PHONE_PATTERN,
            **{"x-widget": "phone", "x-sensitivity": "confidential", "x-maskable": True},
            **{"x-placeholder": "13800138000 / +8613800138000"},
        ),
    ),
    FieldRule(
        "email",
        ("邮箱", "电子邮件", "邮件"),
        ("email", "e-mail", "mail address"),
        _text(254, format="email", **{"x-sensitivity": "confidential", "x-maskable": True}),
    ),
    FieldRule(
        "id_number",
        ("身份证", "证件号"),
        ("id number", "id card", "identity number", "national id", "passport"),
        _text(
            18,
            pattern=r"^[0-9]{17}[0-9Xx]$",
            **{"x-sensitivity": "restricted", "x-maskable": True},
        ),
    ),
    FieldRule(
        "order_number",
        ("订单号", "订单编号", "单号", "订单"),
        ("order number", "order no", "order id", "order"),
        _text(40, pattern=r"^[A-Za-z0-9-]{4,40}$"),
    ),
    FieldRule(
        "device_sn",
        ("sn码", "序列号", "sn", "设备编号", "设备"),
        ("serial number", "device sn", "sn", "serial", "device"),
        _text(64, pattern=r"^[A-Za-z0-9-]{4,64}$", **{"x-widget": "device-picker"}),
    ),
    FieldRule(
        "asset_tag",
        ("资产编号", "资产标签", "资产"),
        ("asset tag", "asset number", "asset"),
        _text(40, pattern=r"^[A-Za-z0-9-]{3,40}$", **{"x-widget": "device-picker"}),
    ),
    FieldRule(
        "error_code",
        ("错误码", "故障码", "报错代码", "错误代码"),
        ("error code", "fault code"),
        _text(50),
    ),
    FieldRule(
        "amount",
        ("金额", "费用", "价格", "款项"),
        ("amount", "price", "cost", "fee", "refund"),
        {
            "type": "object",
            "required": ["value", "currency"],
            "properties": {
                "value": {"type": "number", "minimum": 0, "maximum": 1_000_000_000},
                "currency": {"enum": CURRENCIES, "default": "CNY"},
            },
        },
    ),
    FieldRule(
        "currency",
        ("币种", "货币"),
        ("currency",),
        {"enum": CURRENCIES, "x-widget": "select", "default": "CNY"},
        part_of="amount",
    ),
    FieldRule(
        "quantity",
        ("数量", "件数", "个数"),
        ("quantity", "how many", "number of items", "count"),
        {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    ),
    FieldRule(
        "time_range",
        ("时间段", "时段", "起止时间", "时间范围"),
        ("time range", "time window", "period", "time slot"),
        {
            "type": "object",
            "required": ["start", "end"],
            "properties": {
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
            },
        },
    ),
    FieldRule(
        "date", ("日期", "生日"), ("date", "day", "birthday"), {"type": "string", "format": "date"}
    ),
    FieldRule(
        "datetime",
        ("时间", "时刻", "几点"),
        ("time", "when", "datetime"),
        {"type": "string", "format": "date-time", "x-widget": "date-time"},
    ),
    FieldRule(
        "photo",
        ("照片", "图片", "截图", "拍照"),
        ("photo", "picture", "image", "screenshot"),
        _FILES,
    ),
    FieldRule("attachment", ("附件", "文件"), ("attachment", "file", "document"), _FILES),
    FieldRule(
        "priority",
        ("优先级", "紧急程度"),
        ("priority", "urgency"),
        {"enum": ["P1", "P2", "P3", "P4"], "x-widget": "select", "default": "P3"},
    ),
    FieldRule(
        "satisfaction",
        ("满意度", "评分", "打分"),
        ("satisfaction", "rating", "score", "csat"),
        {"type": "integer", "enum": [1, 2, 3, 4, 5], "x-widget": "select"},
    ),
    FieldRule("store", ("门店", "店铺", "店名"), ("store", "shop", "branch"), _text(100)),
    FieldRule("department", ("部门", "科室"), ("department", "team"), _text(100)),
    FieldRule(
        "address",
        ("地址", "住址"),
        ("address",),
        _text(500, **{"x-widget": "textarea", "x-sensitivity": "confidential"}),
    ),
    FieldRule(
        "location", ("位置", "地点", "场所", "位置信息"), ("location", "place", "site"), _text(200)
    ),
    FieldRule(
        "name",
        ("姓名", "名字", "联系人"),
        ("name", "full name", "contact person"),
        _text(100, **{"x-sensitivity": "confidential", "x-maskable": True}),
    ),
    FieldRule(
        "description",
        ("描述", "说明", "详情", "备注", "原因"),
        ("description", "details", "notes", "comment", "reason"),
        _text(5000, **{"x-widget": "textarea"}),
    ),
    FieldRule(
        "signature",
        ("签名", "签字"),
        ("signature", "sign-off"),
        _text(100_000, **{"x-widget": "signature"}),
    ),
)

_CJK = re.compile(r"[\u3400-\u9fff]")
_SEPARATORS = re.compile(r"[、，,;；。\n]|和|及|以及|\band\b|\bor\b|\s&\s", re.IGNORECASE)
_ZH_LEAD = re.compile(
    r"^(?:我们)?(?:需要|要|请)?(?:收集|填写|提供|记录|登记|采集|包括|包含)?[:：]?"
)
_EN_LEAD = re.compile(
    r"^(?:please\s+)?(?:we\s+)?(?:need\s+to\s+|must\s+|want\s+to\s+)?"
    r"(?:collect|capture|record|ask\s+for|gather|provide|include|get)?\s*[:]?\s*",
    re.IGNORECASE,
)
_EN_ARTICLES = re.compile(r"^(?:the|a|an|their|his|her|its|our|your)\s+", re.IGNORECASE)
_REQUIRED_HINTS = {
    "zh": (("必填",), ("非必填", "选填", "可选")),
    "en": (("required", "mandatory"), ("optional",)),
}
_HINT_BRACKETS = re.compile(r"[（(\[【]\s*([^）)\]】]*)\s*[）)\]】]")


class GenerationRejected(Rejected):
    """The text cannot be turned into a form; every problem is listed."""


def generate_form(text: str, *, title: str | None = None) -> dict[str, Any]:
    """Draft a form schema (not published) from one sentence in Chinese or English."""
    stripped = text.strip()
    if not stripped:
        raise GenerationRejected(
            [Problem(pointer="/text", detail="the text is empty; describe the fields to collect")]
        )
    if len(stripped) > MAX_TEXT_LENGTH:
        raise GenerationRejected(
            [
                Problem(
                    pointer="/text",
                    detail=f"the text is {len(stripped)} characters long; at most "
                    f"{MAX_TEXT_LENGTH} are read. Describe the fields in a sentence or two.",
                )
            ]
        )
    language = "zh" if _CJK.search(stripped) else "en"
    lead = _ZH_LEAD if language == "zh" else _EN_LEAD
    phrases = [p.strip(" \t.:：") for p in _SEPARATORS.split(lead.sub("", stripped, count=1))]
    phrases = [p for p in phrases if p]
    if not phrases:
        raise GenerationRejected(
            [Problem(pointer="/text", detail="no field could be read from the text")]
        )
    if len(phrases) > MAX_FIELDS:
        raise GenerationRejected(
            [Problem(pointer="/text", detail=f"the text names more than {MAX_FIELDS} fields")]
        )
    properties: dict[str, Any] = {}
    required: list[str] = []
    for index, phrase in enumerate(phrases, start=1):
        words, is_required = _required_hint(phrase, language)
        if language == "en":
            words = _EN_ARTICLES.sub("", words)
        words = words or phrase
        rule = _match(words, language)
        if rule and rule.part_of in properties:
            continue  # "amount and currency": the amount field carries its currency
        schema = copy.deepcopy(rule.schema) if rule else _text(500, **{"x-review": True})
        key = _unique_key(rule.key if rule else _slug(words, language, index), properties)
        properties[key] = {"title": _title(words, language), **schema}
        if is_required:
            required.append(key)
    return {
        "$schema": DIALECT,
        "title": title
        or _title(stripped if len(stripped) <= 80 else stripped[:77] + "...", language),
        "description": stripped if len(stripped) <= 1000 else stripped[:997] + "...",
        "type": "object",
        "x-language": language,
        "x-order": list(properties),
        "required": required,
        "properties": properties,
    }


def _required_hint(phrase: str, language: str) -> tuple[str, bool]:
    """The phrase without its hint, and whether it is required (the default)."""
    yes, no = _REQUIRED_HINTS[language]
    is_required = not any(word in phrase.lower() for word in no)
    cleaned = _HINT_BRACKETS.sub(
        lambda m: "" if m.group(1).lower() in (*yes, *no) else m.group(0), phrase
    )
    # Negative hints first: "非必填" contains "必填".
    for word in (*no, *yes):
        cleaned = re.sub(re.escape(word), "", cleaned, flags=re.IGNORECASE)
    return cleaned.strip(" \t-—:：()（）"), is_required


def _match(words: str, language: str) -> FieldRule | None:
    """The rule whose keyword ends last in the phrase (the head noun), the longer on a tie.

    "联系人电话" is a phone and "customer name" a name: both languages put the head last.
    English "date of purchase" puts it first, so the words before "of" are tried first.
    """
    lowered = words.lower()
    if language == "en" and " of " in lowered:
        head = _match(lowered.split(" of ", 1)[0], language)
        if head is not None:
            return head
    best: tuple[int, int, int] | None = None  # (end, length, -rule index)
    for index, rule in enumerate(RULES):
        for keyword in rule.zh if language == "zh" else rule.en:
            end = _last_end(lowered, keyword, language)
            if end >= 0 and (best is None or (end, len(keyword), -index) > best):
                best = (end, len(keyword), -index)
    return RULES[-best[2]] if best else None


def _last_end(text: str, keyword: str, language: str) -> int:
    """Where the keyword's last occurrence ends in the text, or -1."""
    if language == "zh" and _CJK.search(keyword):
        start = text.rfind(keyword)
        return start + len(keyword) if start >= 0 else -1
    found = list(re.finditer(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])", text))
    return found[-1].end() if found else -1


def _title(words: str, language: str) -> str:
    return words if language == "zh" else words[:1].upper() + words[1:]


def _slug(words: str, language: str, index: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")[:40].strip("_")
    return slug if slug and slug[0].isalpha() else f"field_{index}"


def _unique_key(key: str, taken: dict[str, Any]) -> str:
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}_{n}", n + 1
    return candidate
