"""Reading a sentence into field phrases: separators, filler, hints, questions, choices, bounds.

"We need the employee ID, type: hardware, software or network, quantity (1-10) and is it
under warranty?" reads as four phrases: "employee ID"; "type" with three choices; "quantity"
bounded 1 to 10; a yes/no question. What is said explicitly here (choices, bounds, a
question, `必填`/`optional`) is decided by these rules; what a phrase names, by the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CJK = re.compile(r"[\u3400-\u9fff]")
# Private-use marks stand for the choice lists taken out before splitting; text never keeps its own.
_MARK = re.compile(r"\ue000(\d+)\ue001")
_MARKS_IN_TEXT = re.compile(r"[\ue000\ue001]")
# A question mark ends its phrase and stays with it: "Is it under warranty? Also the date".
_SEPARATORS = re.compile(
    r"[、，,;；。\n]|(?<=[?？])|和|及|以及|\band\b|\bor\b|\s&\s", re.IGNORECASE
)
_STRONG_SEPARATORS = re.compile(r"[;；。\n]")
_OPTION_SEPARATORS = re.compile(
    r"\s*(?:(?P<last>\bor\b|或者|或是|或|还是)|[,，、/／|｜])\s*", re.IGNORECASE
)
_NUMBER = r"-?\d{1,12}(?:\.\d{1,6})?"
_BOUNDS = re.compile(
    rf"[（(\[]?\s*(?P<low>{_NUMBER})\s*[%％]?\s*(?:~|～|〜|–|—|-|到|至|\bto\b)\s*"
    rf"(?P<high>{_NUMBER})\s*[%％]?\s*[)）\]]?",
    re.IGNORECASE,
)
_BETWEEN = (
    re.compile(rf"\bbetween\s+({_NUMBER})\s*%?\s+and\s+({_NUMBER})", re.IGNORECASE),
    re.compile(rf"\bfrom\s+({_NUMBER})\s*%?\s+to\s+({_NUMBER})", re.IGNORECASE),
    re.compile(rf"(?:介于|在)?\s*({_NUMBER})\s*[%％]?\s*(?:和|与)\s*({_NUMBER})\s*[%％]?\s*之间"),
)
_BULLET = re.compile(r"^\s*(?:[-*•●▪◦·]+|\d{1,2}[.)、](?!\d)|[（(]\d{1,2}[)）])\s*")
_HEADING_LINE = re.compile(r"^[^\n:：]{1,60}[:：][ \t]*$", re.MULTILINE)
_COLON = re.compile(r"(?<!\d)[:：](?!\d)")
_BRACKETS = re.compile(r"[（(\[【]\s*([^（()\[\]【】）]*?)\s*[）)\]】]")
_CHOICE_NOUNS = re.compile(
    r"(?:type|kind|category|class|level|status|method|mode|channel|option|options|choice|"
    r"类型|类别|种类|分类|级别|等级|状态|方式|渠道|选项|类)$",
    re.IGNORECASE,
)
_EXAMPLE_LEAD = re.compile(r"^(?:e\.g\.|eg|例如|比如|如)[:：,，\s]", re.IGNORECASE)
_YES_NO_OPTIONS = (
    {"yes", "no"},
    {"y", "n"},
    {"是", "否"},
    {"有", "无"},
    {"有", "没有"},
    {"true", "false"},
)
MAX_OPTION_LENGTH = 40

_ZH_VERBS = "收集|填写|提供|记录|登记|采集|包括|包含|上传|附上|写明|注明|说明|描述|输入|选择"
_ZH_FILLER = re.compile(
    r"^(?:另外|还有|此外|同时|并且|然后|最后)?(?:请您?|麻烦您?)?"
    rf"(?:(?:我们|您|你)(?:还|也)?(?=需要|必须|要|得|须|请|{_ZH_VERBS}))?"
    rf"(?:还|也)?(?:需要|必须|须|要(?={_ZH_VERBS}))?(?:请)?(?:{_ZH_VERBS})?(?:一下)?"
    r"(?:您的|你的|我们的)?[:：]?\s*"
)
_ZH_TRAILING = re.compile(r"(?:等等|等|即可|就行)$")
_EN_FILLER = re.compile(
    r"^(?:(?:and|also|plus|then|finally|lastly)\s+)*(?:please\s+)?"
    r"(?:(?:the\s+)?[a-z]+(?:'ll|'d)?\s+(?=(?:will|would|also|should|must|needs?|wants?|has)\s))?"
    r"(?:(?:we|you|they|i)(?:'ll|'d)?\s+)?(?:(?:will|would|also|really|still)\s+)*"
    r"(?:(?:need|needs|want|wants|require|requires|must|should|has\s+to|have\s+to)\s+(?:to\s+)?)?"
    r"(?:(?:collect|capture|gather|provide|include|enter|fill\s+in|ask\s+for|specify|upload|"
    r"attach|give(?:\s+us)?|tell\s+us|input|type\s+in|say|state)\s+"
    r"|(?:record|list|note|get|know|add|have)\s+(?=(?:the|a|an|their|his|her|its|our|your)\s))?"
    r"(?:(?:the|a|an|their|his|her|its|our|your|some|any)\s+)?",
    re.IGNORECASE,
)
# A part that is only this says nothing about any field: "licence plate, if any".
_NOT_A_FIELD = re.compile(
    r"^(?:if any|if available|if known|if possible|please|etc\.?|thanks|thank you|等|等等|谢谢)$",
    re.IGNORECASE,
)
_EN_TRAILING = re.compile(r"\s*(?:if any|if available|if known|please|etc\.?)$", re.IGNORECASE)
_ZH_QUESTION = re.compile(r"是否|有没有|^有无|能否|可否|是不是|要不要|[吗么][？?]?$|[？?]$")
_EN_QUESTION = re.compile(
    r"^(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should)\s.+|.+\?$"
    r"|\bwhether\b",
    re.IGNORECASE,
)
_REQUIRED_HINTS = {
    "zh": (("必填",), ("非必填", "选填", "可选")),
    "en": (("required", "mandatory"), ("optional",)),
}


@dataclass(frozen=True)
class Phrase:
    """One field as the sentence names it."""

    words: str  # what the field is called, filler and hints removed
    required: bool
    options: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    question: bool = False


def language_of(text: str) -> str:
    """`zh` when the text has Chinese characters, else `en`."""
    return "zh" if _CJK.search(text) else "en"


def read_phrases(text: str, language: str) -> list[Phrase]:
    """The field phrases of a sentence, in order; empty when it names none."""
    text = _MARKS_IN_TEXT.sub("", text)
    for pattern in _BETWEEN:
        text = pattern.sub(r"\1-\2", text)
    if _HEADING_LINE.sub("", text).strip():
        text = _HEADING_LINE.sub("", text)  # "Fields:" on its own line heads a list
    choices: list[tuple[str, ...]] = []
    text = _take_bracket_choices(text, choices)
    text = _take_colon_choices(text, choices)
    phrases = []
    for part in _SEPARATORS.split(text):
        phrase = _phrase(part, language, choices)
        if phrase is not None:
            phrases.append(phrase)
    return phrases


def _mark(choices: list[tuple[str, ...]], options: tuple[str, ...]) -> str:
    choices.append(options)
    return f"\ue000{len(choices) - 1}\ue001"


def _options(text: str, *, whole: bool) -> tuple[tuple[str, ...], int] | None:
    """Options listed at the start of `text` and where they end, or None.

    The list ends with the option after "or" (或, 还是), or with the text when every option is
    separated by a slash or `whole` says the label asks for a choice.
    """
    items, position, slashes_only = [], 0, True
    for separator in _OPTION_SEPARATORS.finditer(text):
        items.append(text[position : separator.start()])
        position = separator.end()
        if separator.group("last"):
            tail = _OPTION_SEPARATORS.search(text, position)
            end = tail.start() if tail else len(text)
            items.append(text[position:end])
            return _clean_options(items), end
        slashes_only &= separator.group(0).strip() in "/／|｜"
    items.append(text[position:])
    if len(items) >= 2 and (whole or slashes_only):
        return _clean_options(items), len(text)
    return None


def _clean_options(items: list[str]) -> tuple[str, ...]:
    cleaned = [i.strip(" \t.。") for i in items]
    if not all(0 < len(i) <= MAX_OPTION_LENGTH for i in cleaned) or len(set(cleaned)) < 2:
        return ()
    return tuple(dict.fromkeys(cleaned))


def _take_bracket_choices(text: str, choices: list[tuple[str, ...]]) -> str:
    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if _EXAMPLE_LEAD.match(inner) or _BOUNDS.fullmatch(inner):
            return match.group(0)
        found = _options(inner, whole=True)
        if found is None or not found[0] or found[1] != len(inner):
            return match.group(0)
        return _mark(choices, found[0])

    return _BRACKETS.sub(replace, text)


def _take_colon_choices(text: str, choices: list[tuple[str, ...]]) -> str:
    """Lists after a colon become choices; a colon heading no choices ("Customer:") goes."""
    out, position = [], 0
    while (colon := _COLON.search(text, position)) is not None:
        start = max(text.rfind(c, 0, colon.start()) for c in "、，,;；。\n") + 1
        label = text[start : colon.start()]
        line_end = _STRONG_SEPARATORS.search(text, colon.end())
        rest = text[colon.end() : line_end.start() if line_end else len(text)]
        found = _options(rest.strip(), whole=bool(_CHOICE_NOUNS.search(label.strip())))
        out.append(text[position:start])
        if found and found[0] and label.strip():
            lead = len(rest) - len(rest.lstrip())
            out.append(label + _mark(choices, found[0]))
            position = colon.end() + lead + found[1]
        else:
            position = colon.end()  # the heading is dropped, its list read as fields
    out.append(text[position:])
    return "".join(out)


def _phrase(part: str, language: str, choices: list[tuple[str, ...]]) -> Phrase | None:
    raw = _BULLET.sub("", part).strip(" \t.:：")
    if _NOT_A_FIELD.match(raw):
        return None
    options: tuple[str, ...] = ()
    if (mark := _MARK.search(raw)) is not None:
        options = choices[int(mark.group(1))]
        raw = _MARK.sub(" ", raw).strip(" \t.:：")
    words, required = _required_hint(raw, language)
    bounds = None
    if (found := _BOUNDS.search(words)) is not None:
        low, high = sorted((float(found.group("low")), float(found.group("high"))))
        bounds = (low, high)
        words = (words[: found.start()] + words[found.end() :]).strip(" \t-—:：")
    question = bool((_ZH_QUESTION if language == "zh" else _EN_QUESTION).search(words))
    if options and {o.lower() for o in options} in _YES_NO_OPTIONS:
        options, question = (), True
    words = _strip_filler(words, language, question) or words or raw
    if not words and not options:
        return None
    return Phrase(words=words, required=required, options=options, bounds=bounds, question=question)


def _strip_filler(words: str, language: str, question: bool) -> str:
    if language == "zh":
        if question:
            return words.removeprefix("请问")
        return _ZH_TRAILING.sub("", _ZH_FILLER.sub("", words, count=1)).strip()
    stripped = re.sub(r"^(?:(?:and|also|plus|please)\s+)+", "", words, flags=re.IGNORECASE)
    if question:
        return stripped
    return _EN_TRAILING.sub("", _EN_FILLER.sub("", stripped, count=1)).strip()


def _required_hint(phrase: str, language: str) -> tuple[str, bool]:
    """The phrase without its hint, and whether it is required (the default)."""
    yes, no = _REQUIRED_HINTS[language]
    is_required = not any(word in phrase.lower() for word in no)
    cleaned = _BRACKETS.sub(
        lambda m: "" if m.group(1).lower() in (*yes, *no) else m.group(0), phrase
    )
    # Negative hints first: "非必填" contains "必填".
    for word in (*no, *yes):
        cleaned = re.sub(re.escape(word), "", cleaned, flags=re.IGNORECASE)
    return cleaned.strip(" \t-—:：()（）"), is_required
