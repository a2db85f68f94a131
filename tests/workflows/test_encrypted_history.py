"""Histories encrypted at rest: raw payloads with and without the codec, replay after rotation."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Replayer

from domain.messages import CommentInput, StartTicketInput
from tests.builders import REQUESTER, incident
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from tests.workflows.test_replay import FULL_LIFE, load
from ticketflow.payload_codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    MissingPayloadKey,
    decode_history,
    key_ring,
)
from ticketflow.settings import Settings
from ticketflow.temporal_client import DATA_CONVERTER, data_converter
from workers.tickets import build_ticket_worker
from workflows import search_attributes
from workflows.ticket import TicketWorkflow

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(50, 82))).decode()
UNDER_A = Settings(payload_keys={"a": KEY_A}, payload_key_id="a")
ROTATED = Settings(payload_keys={"a": KEY_A, "b": KEY_B}, payload_key_id="b")
ONLY_B = Settings(payload_keys={"b": KEY_B}, payload_key_id="b")
TITLE = "Printer on floor 3 of Rita Example's house"
COMMENT = "call Rita on +44 20 7946 0000"


@dataclass
class Recorded:
    """The histories of one ticket life, written without and with the codec."""

    plain: WorkflowHistory
    encrypted: WorkflowHistory


async def _live(client: Client, task_queue: str, key: str) -> WorkflowHistory:
    """Open a ticket with a personal title, comment on it, and return its history."""
    start = StartTicketInput(
        key=key, definition=incident(), intake={"title": TITLE}, requester=REQUESTER, priority="P3"
    )
    operation = WithStartWorkflowOperation(
        TicketWorkflow.run,
        start,
        id=key,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(
        TicketWorkflow.opened, start_workflow_operation=operation, id=f"{key}:opened"
    )
    handle = await operation.workflow_handle()
    await handle.execute_update(TicketWorkflow.comment, CommentInput(actor=REQUESTER, body=COMMENT))
    history = await handle.fetch_history()
    await handle.terminate("recorded")
    return history


@pytest.fixture(scope="module")
async def recorded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorded]:
    """One life on the plain converter and one under key A, on the time-skipping server."""
    env = await time_skipping_env()
    database_url = sqlite_url(Path(tmp_path_factory.mktemp("encrypted")))
    histories = []
    try:
        async with migrated_sessions(database_url) as sessions:
            for converter in (DATA_CONVERTER, data_converter(UNDER_A)):
                client = Client(
                    env.client.service_client,
                    namespace=env.client.namespace,
                    data_converter=converter,
                )
                queue = f"enc-{uuid.uuid4().hex[:8]}"
                async with build_ticket_worker(client=client, task_queue=queue, sessions=sessions):
                    histories.append(await _live(client, queue, f"INC-{uuid.uuid4().hex[:8]}"))
        yield Recorded(plain=histories[0], encrypted=histories[1])
    finally:
        await env.shutdown()


def _raw(history: WorkflowHistory) -> bytes:
    """The history as Temporal stores it: protobuf bytes, payload data unencoded."""
    return b"".join(event.SerializeToString() for event in history.events)


def _start_input(history: WorkflowHistory) -> list[Payload]:
    started = history.events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    return list(started.workflow_execution_started_event_attributes.input.payloads)


async def test_without_the_codec_the_raw_history_is_plain_json(recorded: Recorded) -> None:
    [payload] = _start_input(recorded.plain)
    assert payload.metadata["encoding"] == b"json/plain"
    assert TITLE.encode() in payload.data
    assert COMMENT.encode() in _raw(recorded.plain)


async def test_with_the_codec_the_raw_history_holds_no_personal_data(recorded: Recorded) -> None:
    raw = _raw(recorded.encrypted)
    for secret in (TITLE, COMMENT, "Rita", "+44 20"):
        assert secret.encode() not in raw
    [payload] = _start_input(recorded.encrypted)
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == b"a"
    # The plain converter cannot read it (it knows no such encoding); the codec can.
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted"):
        await DATA_CONVERTER.decode([payload], [StartTicketInput])
    [start] = await data_converter(UNDER_A).decode([payload], [StartTicketInput])
    assert isinstance(start, StartTicketInput)
    assert start.intake == {"title": TITLE}


async def test_search_attributes_stay_readable_and_impersonal(recorded: Recorded) -> None:
    names = {key.name for key in search_attributes.ALL}
    seen: dict[str, bytes] = {}
    for event in recorded.encrypted.events:
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            seen.update((k, v.data) for k, v in fields.indexed_fields.items())
    assert set(seen) == names
    assert seen["TicketflowState"] == b'"open"'
    for value in seen.values():
        assert b"Rita" not in value
        assert b"Printer" not in value


async def test_a_history_under_key_a_replays_after_rotating_to_key_b(recorded: Recorded) -> None:
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=data_converter(ROTATED))
    await replayer.replay_workflow(recorded.encrypted)
    [payload] = _start_input(recorded.encrypted)
    [start] = await data_converter(ROTATED).decode([payload], [StartTicketInput])
    assert start.intake == {"title": TITLE}


async def test_a_history_whose_key_was_dropped_fails_with_a_clear_error(
    recorded: Recorded,
) -> None:
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=data_converter(ONLY_B))
    # The worker fails the task with the codec's error (its message sealed like any failure's).
    with pytest.raises(RuntimeError, match=r"MissingPayloadKey"):
        await replayer.replay_workflow(recorded.encrypted)
    [payload] = _start_input(recorded.encrypted)
    with pytest.raises(MissingPayloadKey, match=r"encrypted with key 'a'.*keys held: b"):
        await data_converter(ONLY_B).decode([payload], [StartTicketInput])


async def test_histories_from_before_encryption_still_replay_with_it_on() -> None:
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=data_converter(ROTATED))
    await replayer.replay_workflow(load(FULL_LIFE))


async def test_a_raw_history_decodes_whole_with_the_codec(recorded: Recorded) -> None:
    decoded = await decode_history(recorded.encrypted, EncryptionCodec(key_ring(ROTATED)))
    raw = _raw(decoded)
    assert TITLE.encode() in raw
    assert COMMENT.encode() in raw
    assert ENCODING not in raw
    assert [e.event_type for e in decoded.events] == [
        e.event_type for e in recorded.encrypted.events
    ]
    assert _raw(recorded.encrypted) != raw  # the recorded history itself is left as it was
    # The plain history has nothing to decode: it comes back byte for byte.
    plain = await decode_history(recorded.plain, EncryptionCodec(key_ring(ROTATED)))
    assert _raw(plain) == _raw(recorded.plain)
