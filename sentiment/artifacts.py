"""Sentiment model files: registry versions in the data dir, and the one bundled with Ticketflow.

Each is checked against its SHA-256 before it is unpickled.
"""

from __future__ import annotations

import hashlib
import io
import logging
from importlib.resources import files
from pathlib import Path

import joblib

from sentiment.model import SentimentModel

MODEL_DIR = "sentiment-models"
BUNDLED = "bundled.joblib"
BUNDLED_SHA256 = "bundled.sha256"

log = logging.getLogger("ticketflow.sentiment")


class ModelUnavailable(Exception):
    """The artifact is missing, altered or unreadable."""


def artifact_name(version: int) -> str:
    """Where version `version` lives, relative to the data dir."""
    return f"{MODEL_DIR}/sentiment-v{version}.joblib"


def save_model(model: SentimentModel, path: Path) -> str:
    """Write the model atomically; returns the file's SHA-256."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(payload)
    partial.replace(path)
    return hashlib.sha256(payload).hexdigest()


def _unpickled(payload: bytes, sha256: str, where: str) -> SentimentModel:
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise ModelUnavailable(
            f"{where} has checksum {actual[:12]}…, the registry expects {sha256[:12]}…"
        )
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # a matching checksum with unreadable content: another library
        raise ModelUnavailable(f"{where} cannot be unpickled: {exc}") from exc
    if not isinstance(model, SentimentModel):
        raise ModelUnavailable(f"{where} holds {type(model).__name__}, not a sentiment model")
    return model


def load_model(path: Path, sha256: str) -> SentimentModel:
    """Read a registry version, refusing a file whose checksum differs from the registry's."""
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"model file {path} cannot be read: {exc}") from exc
    return _unpickled(payload, sha256, f"model file {path}")


def load_bundled() -> SentimentModel:
    """The model shipped in the package (trained on the bundled corpus's training rows).

    A pickle another scikit-learn cannot read is refitted from the bundled corpus, which
    takes seconds: the bundled model never depends on a download.
    """
    folder = files("sentiment") / "data"
    sha256 = (folder / BUNDLED_SHA256).read_text(encoding="utf-8").split()[0]
    try:
        return _unpickled((folder / BUNDLED).read_bytes(), sha256, "the bundled model")
    except (ModelUnavailable, OSError) as exc:
        from sentiment.training import fit_bundled

        log.warning("refitting the bundled sentiment model from its corpus: %s", exc)
        return fit_bundled()
