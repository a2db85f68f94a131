"""The payload codec on its own: AES-GCM under a key ring, rotation, and refusals."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from ticketflow.payload_codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    KeyRing,
    MissingPayloadKey,
    TamperedPayload,
    key_ring,
)
from ticketflow.settings import Settings
from ticketflow.temporal_client import DATA_CONVERTER, data_converter

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
SECRET = "Rita's phone is +44 20 7946 0000"


def plain(text: str) -> Payload:
    """A payload as the JSON converter writes it."""
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_a_payload_round_trips_and_is_ciphertext_at_rest() -> None:
    codec = EncryptionCodec(KeyRing(keys={"a": KEY_A}, active="a"))
    [sealed] = await codec.encode([plain(SECRET)])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"a"
    assert b"json/plain" not in sealed.SerializeToString()  # the metadata is sealed too
    assert SECRET.encode() not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [plain(SECRET)]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(KeyRing(keys={"a": KEY_A}, active="a"))
    first, second = await codec.encode([plain(SECRET), plain(SECRET)])
    assert first.data != second.data  # a fresh nonce per payload


async def test_after_rotation_old_payloads_decode_and_new_ones_use_the_new_key() -> None:
    [old] = await EncryptionCodec(KeyRing(keys={"a": KEY_A}, active="a")).encode([plain("old")])
    rotated = EncryptionCodec(KeyRing(keys={"a": KEY_A, "b": KEY_B}, active="b"))
    [new] = await rotated.encode([plain("new")])
    assert new.metadata[KEY_ID] == b"b"
    assert await rotated.decode([old, new]) == [plain("old"), plain("new")]


async def test_a_key_dropped_from_the_ring_is_a_clear_error() -> None:
    [old] = await EncryptionCodec(KeyRing(keys={"a": KEY_A}, active="a")).encode([plain("old")])
    with pytest.raises(MissingPayloadKey, match=r"key 'a'.*keys held: b"):
        await EncryptionCodec(KeyRing(keys={"b": KEY_B}, active="b")).decode([old])


async def test_an_altered_or_relabelled_payload_does_not_decrypt() -> None:
    codec = EncryptionCodec(KeyRing(keys={"a": KEY_A, "b": KEY_A}, active="a"))
    [sealed] = await codec.encode([plain(SECRET)])
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\0")
    with pytest.raises(TamperedPayload, match="key 'a'"):
        await codec.decode([flipped])
    # Same key bytes under another id: the id is authenticated, so this fails too.
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)
    with pytest.raises(TamperedPayload, match="key 'b'"):
        await codec.decode([relabelled])


async def test_unencrypted_payloads_pass_and_a_ring_without_active_key_encrypts_nothing() -> None:
    codec = EncryptionCodec(KeyRing(keys={"a": KEY_A}))
    assert await codec.encode([plain(SECRET)]) == [plain(SECRET)]
    assert await codec.decode([plain(SECRET)]) == [plain(SECRET)]


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_settings_build_the_ring_and_the_converter_encrypts_only_with_keys() -> None:
    settings = Settings(payload_keys={"a": _b64(KEY_A), "b": _b64(KEY_B)}, payload_key_id="b")
    assert key_ring(settings) == KeyRing(keys={"a": KEY_A, "b": KEY_B}, active="b")
    assert isinstance(data_converter(settings).payload_codec, EncryptionCodec)
    assert data_converter(Settings()) is DATA_CONVERTER
    assert DATA_CONVERTER.payload_codec is None


def test_settings_read_the_ring_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETFLOW_PAYLOAD_KEYS", json.dumps({"2026-12": _b64(KEY_A)}))
    monkeypatch.setenv("TICKETFLOW_PAYLOAD_KEY_ID", "2026-12")
    settings = Settings()
    assert key_ring(settings).active == "2026-12"
    assert _b64(KEY_A) not in repr(settings)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"payload_keys": {"a": "not base64!"}, "payload_key_id": "a"}, "is not base64"),
        ({"payload_keys": {"a": _b64(b"short")}, "payload_key_id": "a"}, "has 5 bytes"),
        ({"payload_keys": {"a b": _b64(KEY_A)}, "payload_key_id": "a b"}, "payload key id"),
        ({"payload_keys": {"a": _b64(KEY_A)}}, "set payload_key_id"),
        ({"payload_keys": {"a": _b64(KEY_A)}, "payload_key_id": "b"}, "'b' is not in"),
        ({"payload_key_id": "a"}, "'a' is not in"),
        ({"codec_cors_origins": "*"}, "is not an origin"),
        ({"codec_cors_origins": "http://ui:8080/path"}, "is not an origin"),
    ],
)
def test_bad_key_settings_stop_the_process_without_showing_the_key(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        Settings(**given)  # type: ignore[arg-type]
    for key in ("not base64!", _b64(b"short"), _b64(KEY_A)):
        assert key not in str(caught.value)


def test_cors_origins_are_comma_separated() -> None:
    settings = Settings(codec_cors_origins="http://127.0.0.1:8233, https://ui.example.com")
    assert settings.codec_cors_origins == ["http://127.0.0.1:8233", "https://ui.example.com"]
