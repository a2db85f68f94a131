"""Deliverables over HTTP: real multipart uploads streamed to the artifact store, versions,
downloads, diffs, the contract refusing completion, and who may do what."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.api.conftest import Api, seed_users
from tests.api.helpers import PROBLEM
from tests.dbutil import migrated_sessions
from tests.domain.test_deliverables import pcap_bytes, png_bytes
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker

CONTRACT = [
    {
        "key": "capture",
        "kind": "file",
        "title": "Packet capture",
        "media_types": ["application/vnd.tcpdump.pcap", "application/x-pcapng"],
        "max_bytes": 4096,
        "sensitivity": "confidential",
    },
    {"key": "script", "kind": "code", "language": "python", "required": False},
    {"key": "commit", "kind": "git_commit", "required": False},
    {
        "key": "report",
        "kind": "record",
        "required": False,
        "schema": {
            "type": "object",
            "required": ["verdict"],
            "properties": {"verdict": {"type": "string", "enum": ["fixed", "workaround"]}},
        },
    },
]


def definition(prefix: str) -> dict[str, Any]:
    """A two-stage process whose first stage (the service desk's) hands over a capture."""
    return {
        "key": "capture-flow",
        "title": "Network fault",
        "key_prefix": prefix,
        "department": "service-desk",
        "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
        "stages": [
            {
                "key": "collect",
                "title": "Collect",
                "group": "service-desk",
                "deliverables": CONTRACT,
            },
            {"key": "close", "title": "Close", "group": "service-desk", "depends_on": ["collect"]},
        ],
    }


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    """The app with its artifact store in this test's directory, and a worker."""
    queue = f"deliv-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url,
        task_queue=queue,
        max_body_bytes=64_000,
        data_dir=tmp_path,
    )
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        app = create_app(settings, temporal=dev_env.client, sessions=sessions)
        async with (
            build_ticket_worker(client=dev_env.client, task_queue=queue, sessions=sessions),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
            ) as http,
        ):
            yield Api(
                http=http,
                env=dev_env,
                sessions=sessions,
                prefix="D" + uuid.uuid4().hex[:8].upper(),
                tokens=tokens,
                task_queue=queue,
                data_dir=tmp_path,
            )


def stored(api: Api) -> list[Path]:
    """Every file in the artifact store, committed or incoming."""
    root = api.data_dir / "artifacts"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def ticket(api: Api) -> str:
    """Publish the process, file a ticket as Rita, and claim its first stage as Dana."""
    published = await api.http.post(
        "/definitions", json=definition(api.prefix), headers=api.auth("owner")
    )
    assert published.status_code == 201, published.text
    filed = await api.http.post(
        "/tickets",
        json={"definition": "capture-flow", "data": {"title": "uplink drops"}},
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    key: str = filed.json()["key"]
    claimed = await api.http.post(f"/tickets/{key}/tasks/collect/claim", headers=api.auth("dana"))
    assert claimed.status_code == 200, claimed.text
    return key


async def upload(
    api: Api, key: str, deliverable: str, name: str, content: bytes, user: str = "dana"
) -> httpx.Response:
    return await api.http.post(
        f"/tickets/{key}/deliverables/collect/{deliverable}",
        files={"file": (name, content, "application/octet-stream")},
        headers=api.auth(user),
    )


async def test_a_capture_is_required_then_accepted_and_downloaded(api: Api) -> None:
    key = await ticket(api)
    refused = await api.http.post(
        f"/tickets/{key}/tasks/collect/complete", json={"data": {}}, headers=api.auth("dana")
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/deliverables/capture"]

    capture = pcap_bytes(3)
    accepted = await upload(api, key, "capture", "uplink 1.pcap", capture)
    assert accepted.status_code == 200, accepted.text

    listed = await api.http.get(
        f"/tickets/{key}/deliverables/collect/capture/versions", headers=api.auth("dana")
    )
    assert listed.status_code == 200, listed.text
    [version] = listed.json()["items"]
    assert version["media_type"] == "application/vnd.tcpdump.pcap"
    assert version["file_name"] == "uplink 1.pcap"
    assert version["size"] == len(capture)
    assert version["author"] == "dana"

    downloaded = await api.http.get(
        f"/tickets/{key}/deliverables/collect/capture/versions/1", headers=api.auth("dana")
    )
    assert downloaded.status_code == 200
    assert downloaded.content == capture
    assert downloaded.headers["content-type"] == "application/vnd.tcpdump.pcap"

    done = await api.http.post(
        f"/tickets/{key}/tasks/collect/complete", json={"data": {}}, headers=api.auth("dana")
    )
    assert done.status_code == 200, done.text
    # The stored file is named by its hash alone, never by the name the client gave.
    assert [p.name for p in stored(api)] == [version["sha256"]]


async def test_what_is_refused_keeps_nothing(api: Api) -> None:
    key = await ticket(api)
    text = await upload(api, key, "capture", "capture.pcap", b"not a capture at all\n")
    assert text.status_code == 415, text.text
    assert "text/plain" in text.json()["detail"]
    assert text.json()["errors"][0]["pointer"] == "/deliverables/capture"

    png = await upload(api, key, "capture", "capture.pcap", png_bytes())
    assert png.status_code == 415
    assert "image/png" in png.json()["detail"]

    too_big = await upload(api, key, "capture", "big.pcap", pcap_bytes(80))
    assert too_big.status_code == 413, too_big.text

    for name in ("", "../../etc/passwd", "a\\b.pcap"):
        named = await upload(api, key, "capture", name, pcap_bytes())
        assert named.status_code == 422, (name, named.text)
        assert named.json()["errors"][0]["pointer"] == "/file/filename"

    unknown = await upload(api, key, "nothing", "a.pcap", pcap_bytes())
    assert unknown.status_code == 404
    requester = await upload(api, key, "capture", "a.pcap", pcap_bytes(), user="rita")
    assert requester.status_code == 403
    other_group = await upload(api, key, "capture", "a.pcap", pcap_bytes(), user="otto")
    assert other_group.status_code in (403, 404)

    assert stored(api) == []
    listed = await api.http.get(
        f"/tickets/{key}/deliverables/collect/capture/versions", headers=api.auth("dana")
    )
    assert listed.json()["items"] == []


async def test_code_versions_are_kept_and_diffed(api: Api) -> None:
    key = await ticket(api)
    first = b"def fix():\n    restart('eth0')\n"
    second = b"def fix():\n    restart('eth1')\n    verify()\n"
    for content in (first, second):
        response = await upload(api, key, "script", "fix.py", content)
        assert response.status_code == 200, response.text
    # Past the app's 64 KB body limit: an upload streams, bounded by its contract instead.
    long = b"".join(b"step(%d)\n" % n for n in range(12_000))
    assert len(long) > 64_000
    assert (await upload(api, key, "script", "long.py", long)).status_code == 200
    blank = await upload(api, key, "script", "fix.py", b"  \n\n")
    assert blank.status_code == 422
    assert "empty" in blank.json()["errors"][0]["detail"]

    listed = await api.http.get(
        f"/tickets/{key}/deliverables/collect/script/versions", headers=api.auth("dana")
    )
    assert [v["version"] for v in listed.json()["items"]] == [1, 2, 3]
    diff = await api.http.get(
        f"/tickets/{key}/deliverables/collect/script/versions/2/diff",
        params={"against": 1},
        headers=api.auth("dana"),
    )
    assert diff.status_code == 200, diff.text
    assert diff.text.splitlines() == [
        "--- script@1",
        "+++ script@2",
        "@@ -1,2 +1,3 @@",
        " def fix():",
        "-    restart('eth0')",
        "+    restart('eth1')",
        "+    verify()",
    ]
    no_text = await api.http.get(
        f"/tickets/{key}/deliverables/collect/capture/versions/1/diff",
        params={"against": 1},
        headers=api.auth("dana"),
    )
    assert no_text.status_code == 409


async def test_a_requester_may_not_read_a_confidential_capture(api: Api) -> None:
    key = await ticket(api)
    assert (await upload(api, key, "capture", "a.pcap", pcap_bytes())).status_code == 200
    for path in ("versions", "versions/1"):
        response = await api.http.get(
            f"/tickets/{key}/deliverables/collect/capture/{path}", headers=api.auth("rita")
        )
        assert response.status_code == 403, response.text
    audited = await api.http.get(
        f"/tickets/{key}/deliverables/collect/capture/versions/1", headers=api.auth("audrey")
    )
    assert audited.status_code == 200
    assert audited.content == pcap_bytes()


async def test_the_owning_department_amends_the_contract(api: Api) -> None:
    key = await ticket(api)
    relaxed = {**CONTRACT[0], "required": False}
    body = {"stage": "collect", "deliverables": [relaxed], "reason": "no span port on site"}
    by_ops = await api.http.post(f"/tickets/{key}/contract", json=body, headers=api.auth("otto"))
    assert by_ops.status_code in (403, 404), by_ops.text
    bad = {**body, "deliverables": [{"key": "r", "kind": "record", "schema": {"type": 3}}]}
    invalid = await api.http.post(f"/tickets/{key}/contract", json=bad, headers=api.auth("dana"))
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["pointer"].startswith("/deliverables/0/schema")
    amended = await api.http.post(f"/tickets/{key}/contract", json=body, headers=api.auth("dana"))
    assert amended.status_code == 200, amended.text
    done = await api.http.post(
        f"/tickets/{key}/tasks/collect/complete", json={"data": {}}, headers=api.auth("dana")
    )
    assert done.status_code == 200, done.text
    closed_stage = await upload(api, key, "capture", "late.pcap", pcap_bytes())
    assert closed_stage.status_code == 409
    assert stored(api) == []


async def test_a_record_schema_that_is_not_a_schema_is_refused_at_publish(api: Api) -> None:
    document = definition(api.prefix)
    document["stages"][0]["deliverables"] = [
        {"key": "report", "kind": "record", "schema": {"type": "object", "required": 5}}
    ]
    refused = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert refused.status_code == 422
    pointers = [e["pointer"] for e in refused.json()["errors"]]
    assert any(p.startswith("/stages/0/deliverables/0/schema") for p in pointers), pointers


async def test_values_are_attached_and_checked(api: Api) -> None:
    key = await ticket(api)
    base = f"/tickets/{key}/deliverables/collect"
    sha = "0123456789abcdef" * 2 + "01234567"
    short = await api.http.post(
        f"{base}/commit/value", json={"value": "abc"}, headers=api.auth("dana")
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["pointer"] == "/deliverables/commit"
    commit = await api.http.post(
        f"{base}/commit/value", json={"value": sha}, headers=api.auth("dana")
    )
    assert commit.status_code == 200, commit.text
    record = await api.http.post(
        f"{base}/report/value", json={"value": {"verdict": "gone"}}, headers=api.auth("dana")
    )
    assert record.status_code == 422
    assert record.json()["errors"][0]["pointer"] == "/value/verdict"
    as_file = await api.http.post(
        f"{base}/capture/value", json={"value": "x"}, headers=api.auth("dana")
    )
    assert as_file.status_code == 409
    listed = await api.http.get(f"{base}/commit/versions", headers=api.auth("dana"))
    assert [v["value"] for v in listed.json()["items"]] == [sha]
    shown = await api.http.get(f"{base}/commit/versions/1", headers=api.auth("dana"))
    assert shown.json() == sha


async def test_a_cancelled_ticket_takes_no_upload(api: Api) -> None:
    key = await ticket(api)
    cancelled = await api.http.post(
        f"/tickets/{key}/cancel", json={"reason": "filed twice"}, headers=api.auth("dana")
    )
    assert cancelled.status_code == 200, cancelled.text
    late = await upload(api, key, "capture", "a.pcap", pcap_bytes())
    assert late.status_code == 409, late.text
    assert late.headers["content-type"].startswith(PROBLEM)
    assert stored(api) == []
