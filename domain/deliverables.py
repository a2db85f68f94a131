"""Deliverable contracts: what a task stage must hand over, and the pure checks of what is given.

A stage declares its deliverables; each attached version is metadata (the bytes live in an
artifact store, addressed by their SHA-256) or, for the value kinds, the value itself. The
checks here run at publish (the contract), at attachment (one version against its spec) and
at completion (the stage's contract against what is attached).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from domain.problems import Problem, pointer

DeliverableKind = Literal["file", "code", "config", "document", "git_commit", "url", "record"]
DELIVERABLE_KINDS: tuple[str, ...] = (
    "file",
    "code",
    "config",
    "document",
    "git_commit",
    "url",
    "record",
)
# Kinds whose versions are bytes in the artifact store; the others carry a value.
FILE_KINDS = frozenset({"file", "code", "config", "document"})
# Kinds read as UTF-8 text: they must be text (unless the spec allows other types) and diff.
TEXT_KINDS = frozenset({"code", "config", "document"})
VALUE_KINDS = frozenset({"git_commit", "url", "record"})
TEXT_PLAIN = "text/plain"
# One version of one deliverable: the largest a definition may allow (and the default).
MAX_BYTES_CAP = 1024 * 1024 * 1024
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MEDIA_TYPE_PATTERN = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$"
LANGUAGE_PATTERN = r"^[a-z][a-z0-9+#.-]{0,39}$"
# A commit id: SHA-1 (40 hex digits) or SHA-256 (64), as git prints them.
COMMIT_PATTERN = r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$"
_COMMIT = re.compile(COMMIT_PATTERN)
MAX_URL_LENGTH = 2000
# A pushed commit's message as kept on the ticket (its whole text is searched for keys).
MAX_COMMIT_MESSAGE = 4000
MAX_FILE_NAME = 255
SENSITIVITIES = ("public", "internal", "confidential", "restricted")


class DeliverableSpec(BaseModel):
    """One thing a task stage hands over: its kind, whether it is required, what is accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    kind: str = Field(description="file, code, config, document, git_commit, url or record")
    title: str = Field(default="", max_length=200)
    required: bool = True
    media_types: list[str] | None = Field(
        default=None, max_length=50, description="Accepted types (file-like kinds), by content."
    )
    max_bytes: int | None = Field(default=None, ge=1, description="Per version (file-like kinds).")
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, description="Code only.")
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="A record's JSON Schema."
    )
    sensitivity: Literal["public", "internal", "confidential", "restricted"] = Field(
        default="internal", description="The field's sensitivity, like a form field's."
    )

    @property
    def size_limit(self) -> int:
        """The most bytes one version may have."""
        return self.max_bytes if self.max_bytes is not None else DEFAULT_MAX_BYTES

    def accepted_types(self) -> list[str] | None:
        """The media types accepted, or None when any type is (a file without a list)."""
        if self.media_types:
            return list(self.media_types)
        if self.kind in TEXT_KINDS:
            return [TEXT_PLAIN]
        return None


class StageContract(BaseModel):
    """A stage's contract as one ticket holds it (amended or as defined)."""

    stage_key: str
    deliverables: list[DeliverableSpec] = Field(default_factory=list)
    found: bool = True

    def spec(self, key: str) -> DeliverableSpec | None:
        """The deliverable with this key, or None."""
        return next((d for d in self.deliverables if d.key == key), None)


class CommitAuthor(BaseModel):
    """Who a git server says wrote a commit (as the commit says: not an account of ours)."""

    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)


class GitCommit(BaseModel):
    """A commit a git server pushed: where it lives, who wrote it and what it says."""

    repository: str = Field(max_length=300, description="The repository's full name.")
    repository_url: str = Field(default="", max_length=MAX_URL_LENGTH)
    sha: str = Field(pattern=COMMIT_PATTERN)
    url: str = Field(default="", max_length=MAX_URL_LENGTH)
    author: CommitAuthor = Field(default_factory=CommitAuthor)
    message: str = Field(default="", max_length=MAX_COMMIT_MESSAGE)


class DeliverableVersion(BaseModel):
    """One attached version: the artifact's metadata, or a value kind's value."""

    version: int = Field(ge=1)
    author: str
    at: datetime
    sha256: str | None = None
    size: int | None = None
    media_type: str | None = None
    file_name: str | None = None
    value: Any = None
    commit: GitCommit | None = Field(
        default=None, description="A git_commit version a git server pushed: its details."
    )


class Submission(BaseModel):
    """What an attachment hands over, before it gets a version number."""

    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(default=None, ge=0)
    media_type: str | None = Field(default=None, max_length=255)
    file_name: str | None = Field(default=None, max_length=MAX_FILE_NAME)
    value: Any = None
    # Whether UTF-8 text with some non-blank character (the API reads it while streaming).
    blank: bool = False


def contract_problems(stages: list[Any], *, automated: set[int]) -> list[Problem]:
    """Every problem of the stages' contracts, located; `automated`: stage indexes not `task`."""
    problems: list[Problem] = []
    for i, stage in enumerate(stages):
        specs: list[DeliverableSpec] = stage.deliverables
        if specs and i in automated:
            problems.append(
                Problem(
                    pointer=pointer("stages", i, "deliverables"),
                    detail="only a task stage hands deliverables over",
                )
            )
        seen: dict[str, int] = {}
        for j, spec in enumerate(specs):
            problems += spec_problems(spec, ("stages", i, "deliverables", j))
            if spec.key in seen:
                problems.append(
                    Problem(
                        pointer=pointer("stages", i, "deliverables", j, "key"),
                        detail=f"duplicate deliverable key {spec.key!r} "
                        f"(first at /stages/{i}/deliverables/{seen[spec.key]})",
                    )
                )
            else:
                seen[spec.key] = j
    return problems


def spec_problems(spec: DeliverableSpec, at: tuple[str | int, ...]) -> list[Problem]:
    """What is wrong with one deliverable's spec (its record schema is checked by the caller)."""
    problems: list[Problem] = []

    def add(*where: str | int, detail: str) -> None:
        problems.append(Problem(pointer=pointer(*at, *where), detail=detail))

    if spec.kind not in DELIVERABLE_KINDS:
        add("kind", detail=f"unknown kind {spec.kind!r} (known: {', '.join(DELIVERABLE_KINDS)})")
        return problems
    if spec.media_types is not None:
        if spec.kind not in FILE_KINDS:
            add("media_types", detail=f"a {spec.kind} deliverable takes no media types")
        for n, media_type in enumerate(spec.media_types):
            if re.match(MEDIA_TYPE_PATTERN, media_type) is None:
                add("media_types", n, detail=f"not a media type: {media_type!r}")
    if spec.max_bytes is not None:
        if spec.kind not in FILE_KINDS:
            add("max_bytes", detail=f"a {spec.kind} deliverable has no size")
        elif spec.max_bytes > MAX_BYTES_CAP:
            add("max_bytes", detail=f"at most {MAX_BYTES_CAP} bytes")
    if spec.language is not None and spec.kind != "code":
        add("language", detail="only a code deliverable has a language")
    if spec.kind == "code" and spec.language is None:
        add("language", detail="a code deliverable declares its language")
    if spec.schema_ is not None and spec.kind != "record":
        add("schema", detail="only a record deliverable has a schema")
    if spec.kind == "record" and spec.schema_ is None:
        add("schema", detail="a record deliverable declares its JSON Schema")
    return problems


def file_name_problem(name: str) -> str | None:
    """Why a client's file name is refused (it is kept as given, never used as a path)."""
    if not name.strip():
        return "the file name is empty"
    if len(name) > MAX_FILE_NAME:
        return f"the file name is longer than {MAX_FILE_NAME} characters"
    if "/" in name or "\\" in name or name in (".", "..") or ":" in name:
        return "the file name must be a bare name, not a path"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "the file name holds control characters"
    return None


def submission_problems(spec: DeliverableSpec, given: Submission) -> list[Problem]:
    """What is wrong with one version against its spec, each at `/deliverables/<key>`."""
    at = pointer("deliverables", spec.key)
    problems: list[str] = []
    if spec.kind in FILE_KINDS:
        if given.sha256 is None or given.size is None or given.media_type is None:
            problems.append("an artifact needs its sha256, size and detected media type")
        else:
            if given.size > spec.size_limit:
                problems.append(f"{given.size} bytes is more than the {spec.size_limit} allowed")
            accepted = spec.accepted_types()
            if accepted is not None and given.media_type not in accepted:
                problems.append(f"the content is {given.media_type}, not {' or '.join(accepted)}")
            if spec.kind == "code" and (given.size == 0 or given.blank):
                problems.append(f"the {spec.language or 'code'} code is empty")
        if given.file_name is None:
            problems.append("an artifact needs its file name")
        else:
            why = file_name_problem(given.file_name)
            if why is not None:
                problems.append(why)
    else:
        why = value_problem(spec.kind, given.value)
        if why is not None:
            problems.append(why)
    return [Problem(pointer=at, detail=d) for d in problems]


def value_problem(kind: str, value: Any) -> str | None:
    """Why a value kind's value is refused (a record's schema is checked by the caller)."""
    if kind == "git_commit":
        if not isinstance(value, str) or _COMMIT.match(value) is None:
            return "a git commit id is 40 or 64 lower-case hexadecimal digits"
        return None
    if kind == "url":
        if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
            return f"a URL is text of at most {MAX_URL_LENGTH} characters"
        try:
            parts = urlsplit(value)
        except ValueError:
            return "not a URL"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "a URL is http or https, with a host"
        return None
    if kind == "record":
        return None if isinstance(value, dict) else "a record is a JSON object"
    return f"a {kind} deliverable is uploaded as a file"


def value_submission(value: Any) -> Submission:
    """A value kind's version as an artifact would be described: its canonical JSON's hash."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = canonical.encode()
    return Submission(
        sha256=hashlib.sha256(encoded).hexdigest(),
        size=len(encoded),
        media_type="application/json",
        file_name="",
        value=value,
    )


def unmet(
    specs: list[DeliverableSpec], attached: dict[str, list[DeliverableVersion]]
) -> list[Problem]:
    """Each required deliverable with no version, and each whose latest version fails its spec."""
    problems: list[Problem] = []
    for spec in specs:
        versions = attached.get(spec.key, [])
        if not versions:
            if spec.required:
                what = spec.title or spec.key
                problems.append(
                    Problem(
                        pointer=pointer("deliverables", spec.key),
                        detail=f"missing: {what} ({spec.kind}) is required",
                    )
                )
            continue
        latest = versions[-1]
        problems += submission_problems(
            spec,
            Submission(
                sha256=latest.sha256,
                size=latest.size,
                media_type=latest.media_type,
                file_name=latest.file_name,
                value=latest.value,
            ),
        )
    return problems
