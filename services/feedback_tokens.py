"""One-time feedback tokens: an HMAC of the ticket key, so any process can issue the same one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ticketflow.settings import Settings

_KEY_FILE = "signing.key"
_PURPOSE = b"ticketflow feedback v1\x00"


def signing_key(settings: Settings) -> bytes:
    """The configured signing key, or the data dir's own, created (mode 0600) on first use."""
    if settings.signing_key is not None:
        return settings.signing_key.get_secret_value().encode()
    path = Path(settings.data_dir) / _KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        try:
            # O_EXCL: of two processes creating it at once, one writes and both read its key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key


def _mac(key: bytes, ticket_key: str) -> str:
    digest = hmac.new(key, _PURPOSE + ticket_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def feedback_token(*, settings: Settings, ticket_key: str) -> str:
    """The feedback token of `ticket_key`: the key and its MAC, URL-safe."""
    encoded = base64.urlsafe_b64encode(ticket_key.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(signing_key(settings), ticket_key)}"


def ticket_of_token(*, settings: Settings, token: str) -> str | None:
    """The ticket key `token` was issued for, or None when it is malformed or forged."""
    encoded, _, mac = token.partition(".")
    if not encoded or not mac or len(token) > 512:
        return None
    try:
        ticket_key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(mac, _mac(signing_key(settings), ticket_key)):
        return None
    return ticket_key


def feedback_url(*, settings: Settings, ticket_key: str) -> str:
    """Where the customer of `ticket_key` gives feedback: `POST {public_url}/feedback/{token}`."""
    token = feedback_token(settings=settings, ticket_key=ticket_key)
    return f"{settings.effective_public_url}/feedback/{token}"
