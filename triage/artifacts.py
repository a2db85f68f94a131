"""Model artifact files in the data dir, each checked against its SHA-256 when loaded."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import joblib

from triage.model import TriageModel

MODEL_DIR = "triage-models"


class ModelUnavailable(Exception):
    """The artifact is missing, altered or unreadable: triage falls back to a human."""


def artifact_name(version: int) -> str:
    """Where version `version` lives, relative to the data dir (so the dir can move)."""
    return f"{MODEL_DIR}/triage-v{version}.joblib"


def artifact_path(data_dir: Path, version: int) -> Path:
    """The file of version `version` in this data dir."""
    return data_dir / artifact_name(version)


def save_model(model: TriageModel, path: Path) -> str:
    """Write the model atomically; returns the file's SHA-256."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(payload)
    partial.replace(path)
    return hashlib.sha256(payload).hexdigest()


def load_model(path: Path, sha256: str) -> TriageModel:
    """Read a model, refusing a file whose checksum differs from the registry's."""
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"model file {path} cannot be read: {exc}") from exc
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise ModelUnavailable(
            f"model file {path} has checksum {actual[:12]}…, the registry expects {sha256[:12]}…"
        )
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # a matching checksum with unreadable content: wrong library version
        raise ModelUnavailable(f"model file {path} cannot be unpickled: {exc}") from exc
    if not isinstance(model, TriageModel):
        raise ModelUnavailable(f"model file {path} holds {type(model).__name__}, not a model")
    return model
