"""Recurrence: a closed ticket's fingerprint, the 30-day watch's messages, and the category.

A problem recurs when a new ticket is filed about the same thing as a ticket closed less than
30 days before. "The same thing" is the fingerprint: the category the ticket is filed under,
the asset or device it names, and its symptom normalised so that case, width, punctuation,
word order, plurals and particles do not make two reports of one problem differ.

A closed ticket's watch is a row, not a workflow: the close's projection records that it
started, the projection of the first recurrence filed within the window records `recurred`,
and the hourly sweep (RecurrenceSweepWorkflow, on a Temporal Schedule) records `eradicated`
for every window that ended without one, stamped with the window's end. RecurrenceWatchWorkflow
is what watched tickets closed before that: it stays registered while such watches run.

Stdlib and pydantic only: the TicketWorkflow and the recurrence workflows import this.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

RECURRENCE_WINDOW = timedelta(days=30)
RECURRENCE_WATCH_WORKFLOW = "RecurrenceWatchWorkflow"
RECURRED_SIGNAL = "recurred"
RECORD_RECURRENCE_ACTIVITY = "record_recurrence"
START_WATCH_ACTIVITY = "start_recurrence_watch"
WATCHING_UPDATE = "watching"
RECURRENCE_SWEEP_WORKFLOW = "RecurrenceSweepWorkflow"
END_WINDOWS_ACTIVITY = "end_recurrence_windows"
# How often the sweep runs: a window's `eradicated` is recorded at most this long after the
# window ended (later only while no worker runs), though stamped with the window's end.
SWEEP_EVERY = timedelta(hours=1)
# Windows ended per transaction: short transactions, so the tickets' own writes never wait long.
SWEEP_BATCH = 200

# Intake fields naming the physical thing a ticket is about (as the duplicate check reads them).
ASSET_FIELDS = ("asset_id", "asset", "device_id", "device", "serial_number")
# Where the symptom is read: a form's own `symptom` field, else the ticket's title or summary.
# The description is left out: prose of any length differs between two reports of one fault.
SYMPTOM_FIELDS = ("symptom", "title", "summary")
MAX_SYMPTOM_CHARS = 500

# English words that carry no symptom. Negations stay: "not printing" is not "printing".
_STOPWORD_LINES = (
    "a an the is are was were be been being am to of in on at for from with by and or but",
    "my our your his her its their this that these those it i we you he she they me us them",
    "has have had do does did can could will would should shall may might must please again",
    "still also just very really now today keeps keep kept getting get got",
)
ENGLISH_STOPWORDS = frozenset(word for line in _STOPWORD_LINES for word in line.split())
# Chinese characters that carry no symptom: particles, pronouns and adverbs of degree or
# repetition ("the printer jams again" and "the printer jams" are one problem). Negations
# (不, 没, 无) stay, as in English.
CHINESE_STOP_CHARS = frozenset("的了吗呢啊吧呀哦嗯么我你您他她它们这那又也还就都很太再请帮总老")
# CJK ideographs: the unified blocks, extension A, the compatibility block and the
# supplementary planes' extensions.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKENS = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")


def _stem(word: str) -> str:
    """A light English stem: plurals and -ing/-ed endings off, a doubled final consonant undone.

    Enough for the same symptom told two ways ("jams", "jammed", "jamming" are "jam");
    not a linguistic stemmer.
    """
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix, keep in (("ing", 3), ("ed", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            stem = word[: -len(suffix)]
            if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                stem = stem[:-1]
            return stem
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalise_symptom(text: str) -> tuple[str, ...]:
    """The symptom as a sorted set of tokens, the same for two tellings of one problem.

    NFKC first (full-width letters and digits become ASCII, compatibility forms their base),
    then case folding. Latin, Cyrillic and other spaced scripts split into words at anything
    that is not a letter or digit; stop words go and the rest are lightly stemmed. Chinese has
    no spaces: each ideograph is a token (a segmenter would guess word boundaries; the set of
    a short symptom's characters is stable under spacing, particles and word order), particles
    and the like dropped. Sorting makes word order irrelevant; duplicates count once.
    """
    folded = unicodedata.normalize("NFKC", text[:MAX_SYMPTOM_CHARS]).casefold()
    tokens: set[str] = set()
    for token in _TOKENS.findall(folded):
        if len(token) == 1 and re.match(f"[{_CJK}]", token):
            if token not in CHINESE_STOP_CHARS:
                tokens.add(token)
        elif token not in ENGLISH_STOPWORDS:
            tokens.add(_stem(token))
    return tuple(sorted(tokens))


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None  # only plain values: an object's nested fields have sensitivities of their own
    text = unicodedata.normalize("NFKC", str(value)).strip().casefold()
    return text or None


def asset_of(intake: Mapping[str, Any]) -> str:
    """The asset or device the intake names (the first of ASSET_FIELDS given), normalised."""
    return next((t for f in ASSET_FIELDS if (t := _text(intake.get(f))) is not None), "")


def symptom_of(intake: Mapping[str, Any]) -> str:
    """The intake's symptom text: its `symptom` field, else its title or summary."""
    return next((v for f in SYMPTOM_FIELDS if isinstance(v := intake.get(f), str) and v), "")


class Fingerprint(BaseModel):
    """What makes two tickets the same problem: category, asset, normalised symptom."""

    category: str
    asset: str = ""
    symptom: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """The SHA-256 of the three parts: what the store keeps and compares (no text)."""
        parts = [self.category, self.asset, list(self.symptom)]
        canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint_of(intake: Mapping[str, Any], category: str) -> Fingerprint | None:
    """The ticket's fingerprint; None when its symptom says nothing to compare.

    `category` is the category the ticket is filed under (see `filed_category`).
    """
    symptom = normalise_symptom(symptom_of(intake))
    if not symptom:
        return None
    return Fingerprint(
        category=category.strip().casefold(), asset=asset_of(intake), symptom=symptom
    )


def filed_category(definition_key: str) -> str:
    """The category a ticket is filed under: its definition, the kind of work it is.

    A recurrence is recognised as the new ticket is filed, before triage has said anything,
    so both sides of the comparison read the category that is known then.
    """
    return definition_key


def ticket_category(decided: str | None, definition_key: str) -> str:
    """The ticket's category for KPIs and playbooks: triage's (a dispatcher's, else the
    model's when it routed the ticket), else the category it was filed under."""
    return decided or filed_category(definition_key)


class RecurrenceRef(BaseModel):
    """The closed ticket a new one is a recurrence of."""

    key: str
    closed_at: datetime


class RecurrenceWatchInput(BaseModel):
    """Watch a closed ticket for 30 days: a new ticket with its fingerprint is a recurrence."""

    ticket_key: str
    closed_at: datetime
    fingerprint: str | None = Field(
        default=None, description="The digest; None: nothing to match, the watch only waits."
    )
    window: timedelta = RECURRENCE_WINDOW


class WatchStarted(BaseModel):
    """The watch's workflow id, and its run (None: not started, as it had ended already or
    the worker starts none)."""

    workflow_id: str
    run_id: str | None = None


class RecurredInput(BaseModel):
    """The signal a recurrence sends the closed ticket's watch."""

    by: str = Field(min_length=1, max_length=40)


RecurrenceOutcome = Literal["recurred", "eradicated"]


class RecurrenceWatchResult(BaseModel):
    """How the watch ended."""

    ticket_key: str
    outcome: RecurrenceOutcome
    by: str | None = None


WatchStep = Literal["started", "recurred", "eradicated"]


class RecordRecurrenceInput(BaseModel):
    """One step of a watch written to the closed ticket's row and timeline (idempotent)."""

    ticket_key: str
    step: WatchStep
    at: datetime
    closed_at: datetime
    ends_at: datetime
    fingerprint: str | None = None
    by: str | None = None


class RecordRecurrenceResult(BaseModel):
    """The seq of the timeline event the step has (written now or before)."""

    seq: int


class SweepInput(BaseModel):
    """One sweep run: end every window over at the run's start, `batch` per transaction."""

    batch: int = Field(default=SWEEP_BATCH, ge=1, le=10_000)
    max_batches: int = Field(
        default=250, ge=1, description="The rest waits for the next run (history stays small)."
    )


class EndWindowsInput(BaseModel):
    """End at most `limit` watches whose window ended at or before `until`."""

    until: datetime
    limit: int = Field(ge=1)


class EndWindowsResult(BaseModel):
    """How many watches this batch found over and how many of them it ended (`eradicated`;
    the others were decided meanwhile by another writer)."""

    found: int
    ended: int


class SweepResult(BaseModel):
    """What one sweep run ended, in how many batches."""

    ended: int
    batches: int


def window_end(closed_at: datetime, window: timedelta = RECURRENCE_WINDOW) -> datetime:
    """The instant a closed ticket's watch ends: a recurrence must be filed before it."""
    return closed_at + window


def recurs_within(closed_at: datetime, ends_at: datetime, filed_at: datetime) -> bool:
    """Whether a ticket filed at `filed_at` falls in the window [closed_at, ends_at)."""
    return closed_at <= filed_at < ends_at


def eradicated_record(
    ticket_key: str, closed_at: datetime, ends_at: datetime
) -> RecordRecurrenceInput:
    """The `eradicated` step of a window that ended without a recurrence, at its end."""
    return RecordRecurrenceInput(
        ticket_key=ticket_key, step="eradicated", at=ends_at, closed_at=closed_at, ends_at=ends_at
    )


def started_record(watch: RecurrenceWatchInput) -> RecordRecurrenceInput:
    """The `started` step a close records with its own projection."""
    return RecordRecurrenceInput(
        ticket_key=watch.ticket_key,
        step="started",
        at=watch.closed_at,
        closed_at=watch.closed_at,
        ends_at=window_end(watch.closed_at, watch.window),
        fingerprint=watch.fingerprint,
    )


def watch_workflow_id(ticket_key: str) -> str:
    """The watch's workflow id: one per closed ticket."""
    return f"{ticket_key}:recurrence"


def recurrence_event(record: RecordRecurrenceInput) -> tuple[str, dict[str, Any]]:
    """The timeline event (type, data) a watch step records on the closed ticket."""
    if record.step == "started":
        return "recurrence_watch_started", {"until": record.ends_at.isoformat()}
    if record.step == "recurred":
        return "recurred", {"by": record.by, "closed_at": record.closed_at.isoformat()}
    return "eradicated", {
        "closed_at": record.closed_at.isoformat(),
        "days": (record.ends_at - record.closed_at).days,
    }
