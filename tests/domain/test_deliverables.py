"""Deliverable contracts: publish checks, content detection, version checks, completion held."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import timedelta
from typing import Any

import pytest

from domain.deliverables import (
    DeliverableSpec,
    Submission,
    file_name_problem,
    submission_problems,
    unmet,
    value_problem,
)
from domain.media_types import OCTETS, PCAP, PCAPNG, PDF, PNG, TEXT, ZIP, detect_media_type
from domain.process_checks import PublishRules, process_problems
from domain.ticket import Actor, TicketRuleError, TicketState
from tests.domain.processes import DESK, process, service, stage, start
from tests.domain.tickets import NOW

SHA = "ab" * 32
OTTO = Actor(user="otto", department="ops", role="agent")


def pcap_bytes(packets: int = 1) -> bytes:
    """A little-endian libpcap file: the global header and `packets` Ethernet frames."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    frame = bytes(60)
    records = b"".join(
        struct.pack("<IIII", 1_700_000_000 + n, 0, len(frame), len(frame)) + frame
        for n in range(packets)
    )
    return header + records


def pcapng_bytes() -> bytes:
    """A pcapng Section Header Block (little-endian) with no options."""
    body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    length = 12 + len(body)
    return struct.pack("<II", 0x0A0D0D0A, length) + body + struct.pack("<I", length)


def png_bytes() -> bytes:
    """A valid one-pixel PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zip_bytes() -> bytes:
    """A ZIP archive holding one text file, made by zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "restart the switch\n")
    return buffer.getvalue()


PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (pcap_bytes(), PCAP),
        (struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1), PCAP),  # big-endian host
        (pcapng_bytes(), PCAPNG),
        (png_bytes(), PNG),
        (PDF_HEAD, PDF),
        (zip_bytes(), ZIP),
        (b"print('hello')\n", TEXT),
        ("重启交换机\n".encode(), TEXT),
        # A text file named capture.pcap is text: the name never decides.
        (b"this is not a capture, whatever its name says\n", TEXT),
        (b"\x00\x01\x02\x03binary", OCTETS),
        (b"\xff\xfe\xfd", OCTETS),
        (b"", TEXT),
    ],
)
def test_media_type_is_detected_by_content(content: bytes, expected: str) -> None:
    assert detect_media_type(content, complete=True) == expected


def test_a_partial_head_may_end_inside_a_character() -> None:
    head = ("é" * 10).encode()[:-1]
    assert detect_media_type(head) == TEXT
    assert detect_media_type(head, complete=True) == OCTETS


CAPTURE = DeliverableSpec(key="capture", kind="file", media_types=[PCAP, PCAPNG], max_bytes=1000)
SCRIPT = DeliverableSpec(key="script", kind="code", language="python")


def artifact(**fields: Any) -> Submission:
    base: dict[str, Any] = {"sha256": SHA, "size": 100, "media_type": PCAP, "file_name": "a.pcap"}
    return Submission(**{**base, **fields})


@pytest.mark.parametrize(
    ("spec", "given", "detail"),
    [
        (CAPTURE, artifact(), None),
        (CAPTURE, artifact(media_type=PCAPNG), None),
        (CAPTURE, artifact(media_type=TEXT), "the content is text/plain, not"),
        (CAPTURE, artifact(size=1001), "1001 bytes is more than the 1000 allowed"),
        (CAPTURE, artifact(file_name="../a.pcap"), "a bare name, not a path"),
        (CAPTURE, artifact(file_name="  "), "the file name is empty"),
        (CAPTURE, artifact(sha256=None), "needs its sha256"),
        (SCRIPT, artifact(media_type=TEXT, file_name="fix.py"), None),
        (SCRIPT, artifact(media_type=PNG, file_name="fix.py"), "not text/plain"),
        (SCRIPT, artifact(media_type=TEXT, size=0, file_name="fix.py"), "python code is empty"),
        (SCRIPT, artifact(media_type=TEXT, blank=True, file_name="fix.py"), "code is empty"),
        (DeliverableSpec(key="any", kind="file"), artifact(media_type=OCTETS), None),
        (DeliverableSpec(key="sha", kind="git_commit"), Submission(value="a" * 40), None),
        (DeliverableSpec(key="sha", kind="git_commit"), Submission(value="b" * 64), None),
        (DeliverableSpec(key="sha", kind="git_commit"), Submission(value="abc123"), "40 or 64"),
        (DeliverableSpec(key="sha", kind="git_commit"), Submission(value="G" * 40), "40 or 64"),
        (DeliverableSpec(key="link", kind="url"), Submission(value="https://ci.test/r/1"), None),
        (DeliverableSpec(key="link", kind="url"), Submission(value="ftp://x.test/a"), "http"),
        (DeliverableSpec(key="link", kind="url"), Submission(value="https://"), "with a host"),
        (
            DeliverableSpec(key="rec", kind="record", schema={"type": "object"}),
            Submission(value=[1]),
            "a record is a JSON object",
        ),
    ],
)
def test_a_version_is_checked_against_its_spec(
    spec: DeliverableSpec, given: Submission, detail: str | None
) -> None:
    problems = submission_problems(spec, given)
    if detail is None:
        assert problems == []
    else:
        assert [p.pointer for p in problems] == [f"/deliverables/{spec.key}"]
        assert detail in problems[0].detail


@pytest.mark.parametrize(
    "name", ["", " ", "a/b.pcap", "..\\evil", "..", "C:evil", "a\x00b", "x" * 256]
)
def test_path_like_or_empty_file_names_are_refused(name: str) -> None:
    assert file_name_problem(name) is not None


def test_a_plain_file_name_is_kept_as_given() -> None:
    assert file_name_problem("抓包 2026-12-01.pcap") is None


def test_a_value_kind_is_not_uploaded() -> None:
    assert value_problem("file", b"") == "a file deliverable is uploaded as a file"


def deliverables(*specs: dict[str, Any]) -> list[dict[str, Any]]:
    return list(specs)


@pytest.mark.parametrize(
    ("stages", "where", "detail"),
    [
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "video"}])],
            "/stages/0/deliverables/0/kind",
            "unknown kind 'video'",
        ),
        (
            [
                stage(
                    "fix",
                    deliverables=[{"key": "x", "kind": "file"}, {"key": "x", "kind": "url"}],
                )
            ],
            "/stages/0/deliverables/1/key",
            "duplicate deliverable key 'x'",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "url", "media_types": [PNG]}])],
            "/stages/0/deliverables/0/media_types",
            "a url deliverable takes no media types",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "file", "media_types": ["png"]}])],
            "/stages/0/deliverables/0/media_types/0",
            "not a media type",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "file", "max_bytes": 2**40}])],
            "/stages/0/deliverables/0/max_bytes",
            "at most",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "git_commit", "max_bytes": 10}])],
            "/stages/0/deliverables/0/max_bytes",
            "has no size",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "document", "language": "python"}])],
            "/stages/0/deliverables/0/language",
            "only a code deliverable has a language",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "code"}])],
            "/stages/0/deliverables/0/language",
            "declares its language",
        ),
        (
            [stage("fix", deliverables=[{"key": "x", "kind": "record"}])],
            "/stages/0/deliverables/0/schema",
            "declares its JSON Schema",
        ),
        (
            [
                stage(
                    "fix",
                    deliverables=[{"key": "x", "kind": "file", "schema": {"type": "object"}}],
                )
            ],
            "/stages/0/deliverables/0/schema",
            "only a record deliverable has a schema",
        ),
        (
            [
                stage(
                    "fix",
                    kind="service",
                    service=service("ticket.set_fields", params={"fields": {"a": 1}}),
                    deliverables=[{"key": "x", "kind": "file"}],
                )
            ],
            "/stages/0/deliverables",
            "only a task stage hands deliverables over",
        ),
    ],
)
def test_each_contract_problem_is_reported_where_it_is(
    stages: list[dict[str, Any]], where: str, detail: str
) -> None:
    problems = process_problems(process(*stages), PublishRules())
    assert [p for p in problems if p.pointer == where and detail in p.detail], problems


def test_a_valid_contract_has_no_problems() -> None:
    definition = process(
        stage(
            "fix",
            deliverables=[
                {"key": "capture", "kind": "file", "media_types": [PCAP], "max_bytes": 10**6},
                {"key": "script", "kind": "code", "language": "python", "required": False},
                {"key": "commit", "kind": "git_commit"},
                {"key": "run", "kind": "url"},
                {"key": "report", "kind": "record", "schema": {"type": "object"}},
            ],
        )
    )
    assert process_problems(definition, PublishRules()) == []


def test_every_problem_of_one_stage_is_reported_at_once() -> None:
    definition = process(
        stage(
            "fix",
            deliverables=[
                {"key": "a", "kind": "video"},
                {"key": "b", "kind": "url", "language": "go"},
                {"key": "b", "kind": "url"},
            ],
        )
    )
    pointers = sorted(p.pointer for p in process_problems(definition, PublishRules()))
    assert pointers == [
        "/stages/0/deliverables/0/kind",
        "/stages/0/deliverables/1/language",
        "/stages/0/deliverables/2/key",
    ]


CONTRACT = [
    {"key": "capture", "kind": "file", "media_types": [PCAP, PCAPNG]},
    {"key": "script", "kind": "code", "language": "python", "required": False},
]


def fixing(contract: list[dict[str, Any]] | None = None) -> TicketState:
    """A ticket whose `fix` stage (the desk's) has this contract, claimed by Dana."""
    state = start(process(stage("fix", deliverables=contract or CONTRACT), stage("check")))
    state.claim("fix", DESK, NOW)
    return state


def test_completion_is_refused_while_a_required_deliverable_is_missing() -> None:
    state = fixing()
    with pytest.raises(TicketRuleError) as refused:
        state.check_complete("fix", DESK, {})
    assert refused.value.kind == "conflict"
    assert [p.pointer for p in refused.value.problems] == ["/deliverables/capture"]
    assert "missing" in refused.value.problems[0].detail


def test_an_attached_capture_lets_the_stage_complete() -> None:
    state = fixing()
    event = state.attach_deliverable("fix", "capture", DESK, artifact(), NOW)
    assert event.type == "deliverable_attached"
    assert event.data["attached"]["capture"]["sha256"] == SHA
    state.complete("fix", DESK, {}, NOW + timedelta(minutes=1))
    assert state.tasks["fix"].status == "done"


def test_versions_accumulate_and_the_latest_counts() -> None:
    state = fixing()
    state.attach_deliverable("fix", "capture", DESK, artifact(), NOW)
    state.attach_deliverable("fix", "capture", DESK, artifact(size=200), NOW)
    versions = state.deliverables["fix"]["capture"]
    assert [(v.version, v.size, v.author) for v in versions] == [(1, 100, "dana"), (2, 200, "dana")]


def test_attachment_refuses_what_the_spec_does_not_accept() -> None:
    state = fixing()
    with pytest.raises(TicketRuleError) as refused:
        state.check_attach("fix", "capture", DESK, artifact(media_type=TEXT))
    assert refused.value.kind == "invalid"
    assert refused.value.problems[0].pointer == "/deliverables/capture"


@pytest.mark.parametrize(
    ("stage_key", "key", "actor", "kind"),
    [
        ("fix", "nothing", DESK, "not_found"),
        ("nowhere", "capture", DESK, "not_found"),
        ("fix", "capture", OTTO, "forbidden"),
        ("check", "capture", DESK, "not_found"),
    ],
)
def test_attachment_needs_a_known_deliverable_of_the_callers_group(
    stage_key: str, key: str, actor: Actor, kind: str
) -> None:
    with pytest.raises(TicketRuleError) as refused:
        fixing().check_attach(stage_key, key, actor, artifact())
    assert refused.value.kind == kind


def test_a_closed_ticket_takes_no_deliverables() -> None:
    state = fixing()
    state.cancel(DESK, "duplicate", NOW)
    with pytest.raises(TicketRuleError) as refused:
        state.check_attach("fix", "capture", DESK, artifact())
    assert refused.value.kind == "conflict"


def test_unmet_lists_each_missing_and_invalid_deliverable() -> None:
    specs = [
        DeliverableSpec(key="capture", kind="file", media_types=[PCAP]),
        DeliverableSpec(key="commit", kind="git_commit"),
        DeliverableSpec(key="notes", kind="document", required=False),
    ]
    assert [p.pointer for p in unmet(specs, {})] == [
        "/deliverables/capture",
        "/deliverables/commit",
    ]


def test_the_owning_department_amends_one_tickets_contract_with_a_reason() -> None:
    state = fixing()
    relaxed = [DeliverableSpec(key="capture", kind="file", required=False)]
    with pytest.raises(TicketRuleError) as refused:
        state.check_amend("fix", OTTO, relaxed, "no capture possible")
    assert refused.value.kind == "forbidden"
    with pytest.raises(TicketRuleError) as refused:
        state.check_amend("fix", DESK, relaxed, " ")
    assert [p.pointer for p in refused.value.problems] == ["/reason"]
    event = state.amend_contract("fix", DESK, relaxed, "no capture possible", NOW)
    assert event.type == "contract_amended"
    assert event.data["before"] == ["capture", "script"]
    state.complete("fix", DESK, {}, NOW)
    assert state.tasks["fix"].status == "done"


def test_an_amended_contract_is_checked_like_a_published_one() -> None:
    with pytest.raises(TicketRuleError) as refused:
        fixing().check_amend(
            "fix", DESK, [DeliverableSpec(key="x", kind="url", language="go")], "why"
        )
    assert [p.pointer for p in refused.value.problems] == ["/deliverables/0/language"]


def test_the_contract_survives_a_state_round_trip() -> None:
    state = fixing()
    state.attach_deliverable("fix", "capture", DESK, artifact(), NOW)
    again = TicketState.model_validate_json(state.model_dump_json())
    assert again.deliverables == state.deliverables
    assert again.definition.stage("fix").deliverables[0].media_types == [PCAP, PCAPNG]


def test_a_completion_recorded_before_contracts_replays_without_one() -> None:
    state = fixing()
    state.complete("fix", DESK, {}, NOW, contract=False)
    assert state.tasks["fix"].status == "done"
