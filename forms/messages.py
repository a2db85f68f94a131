"""Form data error messages in the form's language (`x-language`: en or zh)."""

from __future__ import annotations

import json
from typing import Any

from jsonschema.exceptions import ValidationError

# validator -> (English, Chinese); `{v}` is the keyword's value, shown as JSON, and `{s}` the
# English plural ending of the noun it counts ("1 character", "2 characters").
MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("this field is required", "此项为必填项"),
    "additionalProperties": ("this field is not allowed here", "不允许填写此项"),
    "unevaluatedProperties": ("this field is not allowed here", "不允许填写此项"),
    "type": ("must be of type {v}", "类型应为 {v}"),
    "format": ("must be a valid {v}", "不是有效的 {v}"),
    "pattern": ("does not match the expected format {v}", "格式不正确，应符合 {v}"),
    "minLength": ("must be at least {v} character{s} long", "至少需要 {v} 个字符"),
    "maxLength": ("must be at most {v} character{s} long", "最多 {v} 个字符"),
    "minimum": ("must be at least {v}", "不能小于 {v}"),
    "maximum": ("must be at most {v}", "不能大于 {v}"),
    "exclusiveMinimum": ("must be greater than {v}", "必须大于 {v}"),
    "exclusiveMaximum": ("must be less than {v}", "必须小于 {v}"),
    "multipleOf": ("must be a multiple of {v}", "必须是 {v} 的倍数"),
    "enum": ("must be one of {v}", "必须是以下之一：{v}"),
    "const": ("must be {v}", "必须为 {v}"),
    "minItems": ("needs at least {v} item{s}", "至少需要 {v} 项"),
    "maxItems": ("allows at most {v} item{s}", "最多 {v} 项"),
    "uniqueItems": ("items must not repeat", "各项不能重复"),
    "minProperties": ("needs at least {v} field{s}", "至少需要 {v} 个字段"),
    "maxProperties": ("allows at most {v} field{s}", "最多 {v} 个字段"),
    "anyOf": ("does not match any allowed shape", "不符合任何允许的格式"),
    "oneOf": ("must match exactly one allowed shape", "必须恰好符合一种允许的格式"),
    "not": ("is not allowed", "不允许此值"),
    "false": ("this field is not allowed here", "不允许填写此项"),
}
# Publish problems of a form no submission can satisfy: kind -> (English, Chinese).
CONTRADICTIONS: dict[str, tuple[str, str]] = {
    "bounds": (
        "{a} {x} and {b} {y} leave no value that satisfies both",
        "{a} {x} 与 {b} {y} 之间没有能同时满足的值",
    ),
    "no_integer": ("no integer lies within these bounds", "这些界限之间没有整数"),
    "choice": ("this choice is never accepted ({detail})", "此选项永远不会被接受（{detail}）"),
    "constant": ("this value is never accepted ({detail})", "此值永远不会被接受（{detail}）"),
    "default": ("the default is not a valid value ({detail})", "默认值无效（{detail}）"),
    "undeclared_required": (
        "{name!r} is required but is not a field of this form",
        "必填项 {name!r} 不是此表单的字段",
    ),
}
_TYPE_NAMES_ZH = {
    "string": "文本",
    "integer": "整数",
    "number": "数字",
    "boolean": "是/否",
    "object": "对象",
    "array": "列表",
    "null": "空值",
}


def form_language(schema: dict[str, Any]) -> str:
    """The language a form's messages are in: its `x-language`, English by default."""
    return "zh" if schema.get("x-language") == "zh" else "en"


def message(validator: str, value: object, language: str) -> str | None:
    """The message for a failed keyword in `language`, or None for keywords without one."""
    templates = MESSAGES.get(validator)
    if templates is None:
        return None
    template = templates[1] if language == "zh" else templates[0]
    return template.format(v=_show(validator, value, language), s="" if value == 1 else "s")


def contradiction_message(kind: str, values: dict[str, object], language: str) -> str:
    """The publish problem for one contradiction in a form, in the form's language."""
    english, chinese = CONTRADICTIONS[kind]
    # Bounds' values are shown as JSON; keyword names, field names and details as they are.
    shown = {k: json.dumps(v) if k in ("x", "y") else v for k, v in values.items()}
    return (chinese if language == "zh" else english).format(**shown)


def error_message(error: ValidationError, language: str) -> str:
    """A readable, translated message for one jsonschema error (its own message as a fallback)."""
    validator = "false" if error.validator is None else str(error.validator)
    if error.schema is False:
        validator = "false"
    return message(validator, error.validator_value, language) or error.message


def _show(validator: str, value: object, language: str) -> str:
    if validator == "type" and language == "zh":
        names = value if isinstance(value, list) else [value]
        return " 或 ".join(_TYPE_NAMES_ZH.get(str(n), str(n)) for n in names)
    if validator in ("type", "format") and isinstance(value, str):
        return value
    if validator == "enum" and isinstance(value, list):
        return ", ".join(json.dumps(v, ensure_ascii=False) for v in value)
    return json.dumps(value, ensure_ascii=False)
