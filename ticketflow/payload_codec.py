"""Temporal payloads encrypted at rest: AES-GCM under a key ring, so keys rotate safely.

Each payload is encrypted whole (its metadata and data) under the ring's active key and
carries that key's id in clear, so a history written under an older key still decodes while
the ring keeps that key. Search attributes are never payload-encoded by Temporal: they stay
readable and indexed, which is why they hold no personal data (workflows/search_attributes.py).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads, SearchAttributes
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec

from ticketflow.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
# AES-GCM's standard 96-bit nonce, random per payload.
NONCE_BYTES = 12


class PayloadKeyError(Exception):
    """A payload that this key ring cannot decrypt."""


class MissingPayloadKey(PayloadKeyError):
    """The payload names a key the ring does not hold."""


class TamperedPayload(PayloadKeyError):
    """The payload's ciphertext does not verify under the key it names."""


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; `active` encrypts new payloads (None: new payloads stay as they are)."""

    keys: Mapping[str, bytes] = field(default_factory=dict)
    active: str | None = None

    def __post_init__(self) -> None:
        if self.active is not None and self.active not in self.keys:
            raise ValueError(f"the active key {self.active!r} is not in the key ring")


def key_ring(settings: Settings) -> KeyRing:
    """The key ring TICKETFLOW_PAYLOAD_KEYS and TICKETFLOW_PAYLOAD_KEY_ID describe."""
    keys = {
        key_id: base64.b64decode(secret.get_secret_value())
        for key_id, secret in settings.payload_keys.items()
    }
    return KeyRing(keys=keys, active=settings.payload_key_id)


class EncryptionCodec(PayloadCodec):
    """Encrypts under the active key; decrypts under whichever key a payload names."""

    def __init__(self, ring: KeyRing) -> None:
        """A codec over this ring (one AES-GCM cipher per key)."""
        self._active = ring.active
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each payload encrypted under the active key, or unchanged without one."""
        if self._active is None:
            return list(payloads)
        return [self._encrypt(payload, self._active) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each encrypted payload decrypted; payloads written without encryption pass as is."""
        return [
            self._decrypt(payload) if payload.metadata.get("encoding") == ENCODING else payload
            for payload in payloads
        ]

    def _encrypt(self, payload: Payload, key_id: str) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload relabelled with another id fails to verify.
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            held = ", ".join(sorted(self._ciphers)) or "none"
            raise MissingPayloadKey(
                f"a payload is encrypted with key {key_id!r}, which TICKETFLOW_PAYLOAD_KEYS "
                f"does not hold (keys held: {held}); keep retired keys in the ring to read "
                "the histories written under them"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise TamperedPayload(
                f"a payload encrypted with key {key_id!r} does not verify: it was altered, "
                "or the ring holds a different key under that id"
            ) from None
        return Payload.FromString(plain)


async def decode_history(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """A copy of a raw history with every payload decoded (search attributes are never encoded)."""
    events = [type(event)() for event in history.events]
    for copy, event in zip(events, history.events, strict=True):
        copy.CopyFrom(event)
        await _decode_message(copy, codec)
    return WorkflowHistory(workflow_id=history.workflow_id, events=events)


async def _decode_message(message: Message, codec: PayloadCodec) -> None:
    # Payloads sit at many depths (inputs, results, failures' details, memos, headers); the
    # descriptors find them all, so a new event type needs no change here.
    if isinstance(message, SearchAttributes):
        return
    if isinstance(message, Payload):
        [decoded] = await codec.decode([message])
        message.CopyFrom(decoded)
        return
    if isinstance(message, Payloads):
        decoded_all = await codec.decode(list(message.payloads))
        del message.payloads[:]
        message.payloads.extend(decoded_all)
        return
    for descriptor, value in message.ListFields():
        entry = descriptor.message_type
        if descriptor.type != FieldDescriptor.TYPE_MESSAGE or entry is None:
            continue
        if entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    await _decode_message(item, codec)
        elif descriptor.is_repeated:
            for item in value:
                await _decode_message(item, codec)
        else:
            await _decode_message(value, codec)
