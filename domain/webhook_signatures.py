"""Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, base64, as `v1,<sig>`.

A receiver checks the signature against its copy of the secret and refuses a timestamp too far
from its own clock, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
VERSION = "v1"
TOLERANCE_SECONDS = 5 * 60


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery."""
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(key, message_id, timestamp, body),
    }


def verified(key: bytes, headers: Mapping[str, str], body: bytes, now: int) -> bool:
    """Whether a delivery's headers sign this body with this key, at a time close to `now`.

    The header may list several space-separated signatures (a rotated secret): one match will do.
    """
    message_id = headers.get(ID_HEADER)
    stamp = headers.get(TIMESTAMP_HEADER, "")
    if message_id is None or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = signature(key, message_id, timestamp, body)
    offered = headers.get(SIGNATURE_HEADER, "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
