"""The codec server: Temporal's protocol for auditors and admins only, CORS for the Web UI."""

from __future__ import annotations

import asyncio
import base64
import json
from asyncio.subprocess import PIPE, STDOUT
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from api.app import create_app
from domain.messages import StartTicketInput
from tests.api.conftest import Api
from tests.api.helpers import serving
from tests.builders import REQUESTER, incident
from tests.temporal_env import BIN
from ticketflow.payload_codec import EncryptionCodec, KeyRing
from ticketflow.settings import Settings
from ticketflow.temporal_client import data_converter
from workflows.ticket import TicketWorkflow

KEY_A = bytes(range(32))
KEY_B = bytes(range(64, 96))
UI = "http://127.0.0.1:8233"
ENCRYPTED: dict[str, Any] = {
    "payload_keys": {
        "a": base64.b64encode(KEY_A).decode(),
        "b": base64.b64encode(KEY_B).decode(),
    },
    "payload_key_id": "b",
    "codec_cors_origins": [UI],
}
with_keys = pytest.mark.parametrize("api_settings", [ENCRYPTED], indirect=True)
SECRET = {"title": "Rita Example's phone: +44 20 7946 0000"}
ENDPOINTS = ("/codec/decode", "/codec/encode")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _json(payload: Payload) -> dict[str, Any]:
    """A payload as the Web UI sends it (protobuf JSON)."""
    return {
        "metadata": {k: _b64(v) for k, v in payload.metadata.items()},
        "data": _b64(payload.data),
    }


def _plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET).encode())


async def _sealed_under(key_id: str, key: bytes) -> Payload:
    [sealed] = await EncryptionCodec(KeyRing(keys={key_id: key}, active=key_id)).encode([_plain()])
    return sealed


@with_keys
@pytest.mark.parametrize("user", ["audrey", "root"])
async def test_auditors_and_admins_decode_payloads_of_every_key(api: Api, user: str) -> None:
    old, new = await _sealed_under("a", KEY_A), await _sealed_under("b", KEY_B)
    body = {"payloads": [_json(old), _json(new), _json(_plain())]}
    answer = await api.http.post("/codec/decode", json=body, headers=api.auth(user))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"payloads": [_json(_plain())] * 3}


@with_keys
async def test_encode_seals_under_the_active_key_and_decode_reads_it_back(api: Api) -> None:
    body = {"payloads": [_json(_plain())]}
    encoded = await api.http.post("/codec/encode", json=body, headers=api.auth("audrey"))
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"b"
    assert "Rita" not in base64.b64decode(sealed["data"]).decode(errors="replace")
    decoded = await api.http.post("/codec/decode", json=encoded.json(), headers=api.auth("root"))
    assert decoded.json() == body


@with_keys
@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("user", ["rita", "dana", "owner", "monitor"])
async def test_other_roles_are_refused(api: Api, path: str, user: str) -> None:
    sealed = await _sealed_under("a", KEY_A)
    answer = await api.http.post(path, json={"payloads": [_json(sealed)]}, headers=api.auth(user))
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Rita" not in answer.text


@with_keys
@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
async def test_callers_without_a_valid_token_are_refused(
    api: Api, path: str, headers: dict[str, str]
) -> None:
    sealed = await _sealed_under("a", KEY_A)
    answer = await api.http.post(path, json={"payloads": [_json(sealed)]}, headers=headers)
    assert answer.status_code == 401
    assert "Rita" not in answer.text


@with_keys
async def test_a_payload_under_an_unknown_key_is_a_problem_at_its_index(api: Api) -> None:
    stranger = await _sealed_under("c", bytes(32))
    body = {"payloads": [_json(_plain()), _json(stranger)]}
    answer = await api.http.post("/codec/decode", json=body, headers=api.auth("audrey"))
    assert answer.status_code == 422
    [problem] = answer.json()["errors"]
    assert problem["pointer"] == "/payloads/1"
    assert "key 'c'" in problem["detail"]


@with_keys
async def test_data_that_is_not_base64_is_a_problem_with_a_pointer(api: Api) -> None:
    body = {"payloads": [{"metadata": {}, "data": "not base64!"}]}
    answer = await api.http.post("/codec/decode", json=body, headers=api.auth("audrey"))
    assert answer.status_code == 422
    assert [p["pointer"] for p in answer.json()["errors"]] == ["/payloads/0/data"]


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }


@with_keys
async def test_the_web_ui_origin_may_call_the_codec_and_nothing_else(api: Api) -> None:
    allowed = await api.http.options("/codec/decode", headers=_preflight(UI))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = await api.http.options("/codec/decode", headers=_preflight("https://evil.example"))
    assert "access-control-allow-origin" not in other.headers
    elsewhere = await api.http.options("/tickets/export", headers=_preflight(UI))
    assert "access-control-allow-origin" not in elsewhere.headers
    answer = await api.http.post(
        "/codec/decode",
        json={"payloads": []},
        headers={**api.auth("audrey"), "Origin": UI},
    )
    assert answer.headers["access-control-allow-origin"] == UI


async def test_without_configured_origins_no_cross_origin_call_is_admitted(api: Api) -> None:
    answer = await api.http.options("/codec/decode", headers=_preflight(UI))
    assert "access-control-allow-origin" not in answer.headers


async def test_without_keys_plain_payloads_pass_and_sealed_ones_are_refused(api: Api) -> None:
    sealed = await _sealed_under("a", KEY_A)
    body = {"payloads": [_json(_plain())]}
    encoded = await api.http.post("/codec/encode", json=body, headers=api.auth("audrey"))
    assert encoded.json() == body
    answer = await api.http.post(
        "/codec/decode", json={"payloads": [_json(sealed)]}, headers=api.auth("audrey")
    )
    assert answer.status_code == 422
    assert "keys held: none" in answer.json()["errors"][0]["detail"]


def _started_input(output: str) -> Payload:
    """The first payload of the started event in `temporal workflow show --output json`."""
    started = json.loads(output)["events"][0]["workflowExecutionStartedEventAttributes"]
    payload = started["input"]["payloads"][0]
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in payload["metadata"].items()},
        data=base64.b64decode(payload["data"]),
    )


async def _temporal(*argv: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "temporal"), *argv, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


@with_keys
async def test_the_temporal_cli_reads_an_encrypted_history_through_the_codec(api: Api) -> None:
    settings = Settings(**ENCRYPTED)
    encrypting = Client(
        api.env.client.service_client,
        namespace=api.env.client.namespace,
        data_converter=data_converter(settings),
    )
    key = f"{api.prefix}-000001"
    start = StartTicketInput(
        key=key, definition=incident(), intake=SECRET, requester=REQUESTER, priority="P3"
    )
    # No worker: the started event alone holds the sealed input.
    handle = await encrypting.start_workflow(
        TicketWorkflow.run, start, id=key, task_queue=f"idle-{api.prefix}"
    )
    app = create_app(settings, temporal=api.env.client, sessions=api.sessions)
    show = (
        "workflow", "show", "-w", key, "--output", "json",
        "--address", api.env.client.service_client.config.target_host,
        "--namespace", api.env.client.namespace,
    )  # fmt: skip
    try:
        async with app.router.lifespan_context(app), serving(app) as url:
            codec = ("--codec-endpoint", f"{url}/codec")
            raw = await _temporal(*show)
            decoded = await _temporal(
                *show, *codec, "--codec-auth", f"Bearer {api.tokens['audrey']}"
            )
            refused = await _temporal(*show, *codec, "--codec-auth", f"Bearer {api.tokens['rita']}")
    finally:
        await handle.terminate("read")
    assert raw[0] == 0, raw[1]
    assert _started_input(raw[1]).metadata["encoding"] == b"binary/encrypted"
    assert decoded[0] == 0, decoded[1]
    plain = _started_input(decoded[1])
    assert plain.metadata["encoding"] == b"json/plain"
    assert json.loads(plain.data)["intake"] == SECRET
    # Rita's token is refused by the codec server: the CLI gets no plaintext.
    assert refused[0] != 0 or _started_input(refused[1]).metadata["encoding"] != b"json/plain"
    assert "Rita Example" not in refused[1]
