"""The API SIGKILLed mid-way through a multipart upload of a deliverable.

The test streams the upload itself and holds back the second half until it has seen the API
write the first into the artifact store's incoming file; it kills the API there. Nothing of the
killed upload may be attached or stored under a hash, and the retry must store and attach
the whole file under its right SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chaos.conftest import FULL, ChaosStack, call
from tests.chaos.faults import RESTART_TIMEOUT, child
from tests.devstack_util import alive, healthy, wait_until
from tests.domain.test_deliverables import pcap_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 900)]

PCAP = "application/vnd.tcpdump.pcap"
UPLOAD_DEFINITION = {
    "key": "chaos-upload",
    "title": "Chaos upload",
    "key_prefix": "CU",
    "department": "service-desk",
    "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
    "stages": [
        {
            "key": "collect",
            "title": "Collect",
            "group": "service-desk",
            "deliverables": [
                {"key": "capture", "kind": "file", "media_types": [PCAP], "max_bytes": 8_000_000}
            ],
        }
    ],
}
BOUNDARY = "chaos-upload-boundary"


def multipart(content: bytes, released: threading.Event) -> Iterator[bytes]:
    """The multipart body in two halves, the second only once `released` is set."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="uplink.pcap"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    half = len(content) // 2
    yield content[:half]
    released.wait(RESTART_TIMEOUT)
    yield content[half:]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def incoming(stack: ChaosStack) -> list[Path]:
    """The artifact store's unfinished uploads."""
    return sorted((stack.data_dir / "artifacts" / "incoming").glob("*.part"))


def committed(stack: ChaosStack) -> dict[str, bytes]:
    """Every stored artifact by its file name (its SHA-256)."""
    root = stack.data_dir / "artifacts" / "sha256"
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_api_killed_mid_upload_keeps_nothing_and_the_retry_stores_the_file(
    sqlite_stack: ChaosStack,
) -> None:
    stack = sqlite_stack
    call(stack, "paula", "POST", "/definitions", UPLOAD_DEFINITION)
    key = call(
        stack, "rita", "POST", "/tickets", {"definition": "chaos-upload", "data": {"title": "up"}}
    )["key"]
    call(stack, "dana", "POST", f"/tickets/{key}/tasks/collect/claim", {})
    content = pcap_bytes(60_000)  # about 4.5 MB: many chunks, the first half written first
    route = f"/tickets/{key}/deliverables/collect/capture"
    path = f"{stack.base_url}{route}"
    auth = {"Authorization": f"Bearer {stack.tokens['dana']}"}
    before_parts, before_stored = set(incoming(stack)), committed(stack)

    released = threading.Event()
    outcome: list[object] = []

    def send() -> None:
        try:
            outcome.append(
                httpx.post(
                    path,
                    content=multipart(content, released),
                    headers={**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                    timeout=RESTART_TIMEOUT,
                    trust_env=False,
                )
            )
        except httpx.TransportError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send, name="upload", daemon=True)
    sender.start()

    def half_written() -> bool:
        parts = set(incoming(stack)) - before_parts
        return any(p.stat().st_size >= len(content) // 4 for p in parts)

    wait_until(half_written, "the API writing the upload's first half", RESTART_TIMEOUT)
    api = child(stack.supervisor, "api")
    os.kill(api, signal.SIGKILL)
    wait_until(lambda: not alive(api), "the killed API to die")
    released.set()
    sender.join(RESTART_TIMEOUT)
    # The client saw its connection die, not an answer.
    assert outcome, "the upload never ended"
    assert isinstance(outcome[0], httpx.TransportError), outcome

    wait_until(lambda: healthy(stack.stack.api_port), "the restarted API", RESTART_TIMEOUT)
    # Nothing of the killed upload is stored under a hash or attached to the ticket.
    assert committed(stack) == before_stored
    versions = call(stack, "dana", "GET", f"{route}/versions", None)
    assert versions["items"] == [], versions

    retried = httpx.post(
        path,
        files={"file": ("uplink.pcap", content, "application/octet-stream")},
        headers=auth,
        timeout=RESTART_TIMEOUT,
        trust_env=False,
    )
    assert retried.status_code == 200, retried.text
    (version,) = call(stack, "dana", "GET", f"{route}/versions", None)["items"]
    digest = hashlib.sha256(content).hexdigest()
    assert (version["sha256"], version["size"], version["media_type"]) == (
        digest,
        len(content),
        PCAP,
    )
    stored = committed(stack)
    assert set(stored) - set(before_stored) == {digest}
    assert hashlib.sha256(stored[digest]).hexdigest() == digest
    downloaded = httpx.get(f"{path}/versions/1", headers=auth, timeout=60, trust_env=False)
    assert downloaded.content == content
