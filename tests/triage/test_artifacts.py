"""Model artifacts: saved atomically, loaded only when the checksum matches."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import joblib
import pytest

from domain.triage import TriageTicket
from tests.triage.fixtures import sample_model
from triage.artifacts import ModelUnavailable, artifact_path, load_model, save_model


def test_a_saved_model_loads_and_predicts_the_same(tmp_path: Path) -> None:
    path = artifact_path(tmp_path, 3)
    sha256 = save_model(sample_model(), path)
    assert path.name == "triage-v3.joblib"
    assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    ticket = TriageTicket(title="VPN drops", description="vpn disconnects")
    assert load_model(path, sha256).predict(ticket) == sample_model().predict(ticket)


def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="cannot be read"):
        load_model(tmp_path / "nope.joblib", "0" * 64)


def test_altered_file_is_refused_before_unpickling(tmp_path: Path) -> None:
    path = artifact_path(tmp_path, 1)
    sha256 = save_model(sample_model(), path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelUnavailable, match="checksum"):
        load_model(path, sha256)


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    joblib.dump({"not": "a model"}, buffer)
    path = tmp_path / "other.joblib"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelUnavailable, match="not a model"):
        load_model(path, hashlib.sha256(buffer.getvalue()).hexdigest())
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ModelUnavailable, match="cannot be unpickled"):
        load_model(garbage, hashlib.sha256(b"garbage").hexdigest())
