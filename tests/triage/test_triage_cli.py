"""`ticketflow triage` offline: train from a CSV export, eval, list, roll back."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ticketflow
from tests.triage.fixtures import SAMPLE


def test_train_from_csv_then_eval_models_and_rollback(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    csv_args = ["--csv", str(SAMPLE), "--text", "title,description", "--label", "team"]
    first = ticketflow(tmp_path, "triage", "train", *csv_args, "--category", "category")
    assert first.returncode == 0, first.stderr
    trained = json.loads(first.stdout)
    assert trained["promoted"] is True
    assert trained["version"] == 1
    assert (tmp_path / "triage-models" / "triage-v1.joblib").is_file()

    report = ticketflow(tmp_path, "triage", "eval", *csv_args)
    assert report.returncode == 0, report.stderr
    assert "accuracy" in report.stdout
    assert "macro-F1" in report.stdout
    assert "costliest confusions" in report.stdout
    assert "facilities" in report.stdout

    scripted = ticketflow(tmp_path, "triage", "eval", *csv_args, "--json")
    assert scripted.returncode == 0, scripted.stderr
    scores = json.loads(scripted.stdout)
    assert scores["model_version"] == 1
    assert scores["tickets"] == 48
    assert {"accuracy", "macro_f1", "per_class", "confusion_pairs"} <= set(scores)
    assert set(scores["per_class"]) == {"network", "desktop", "accounts", "facilities"}
    assert {"precision", "recall"} <= set(scores["per_class"]["network"])
    errors = sum(p["count"] for p in scores["confusion_pairs"])
    assert errors == round((1 - scores["accuracy"]) * 48)
    assert all(p["truth"] != p["predicted"] for p in scores["confusion_pairs"])

    # The same data again: promoted only if better than the live model on the same folds.
    second = json.loads(
        ticketflow(tmp_path, "triage", "train", *csv_args, "--candidates", "word-svm").stdout
    )
    assert second["version"] == 2
    assert second["candidate"] == "word-svm"
    assert second["promoted"] is (second["accuracy"] > second["current_accuracy"])

    assert ticketflow(tmp_path, "triage", "rollback", "--to", "2").returncode == 0
    back = ticketflow(tmp_path, "triage", "rollback")
    assert back.returncode == 0, back.stderr
    assert "v1 is live" in back.stdout
    models = [
        json.loads(line) for line in ticketflow(tmp_path, "triage", "models").stdout.splitlines()
    ]
    assert {m["version"]: m["status"] for m in models}[1] == "active"
    first_model = next(m for m in models if m["version"] == 1)
    # Trained on every labelled row, not on 80 % of them.
    assert first_model["training_size"] == 48
    # Why the live model won: every candidate's cross-validated scores.
    scored = {c["name"]: c for c in first_model["candidates"]}
    assert set(scored) == {"word-svm", "word-char-svm", "blend", "word-lr", "char-lr"}
    best = max(scored.values(), key=lambda c: (c["accuracy"], c["macro_f1"]))
    assert first_model["candidate"] == best["name"] == trained["candidate"]
    assert round(first_model["accuracy"], 4) == best["accuracy"] == round(trained["accuracy"], 4)


def test_bad_csv_columns_are_named(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    result = ticketflow(tmp_path, "triage", "train", "--csv", str(SAMPLE), "--label", "queue")
    assert result.returncode == 2
    assert "no column queue" in result.stderr
    assert ticketflow(tmp_path, "triage", "eval").returncode == 2
    unknown = ticketflow(tmp_path, "triage", "train", "--csv", str(SAMPLE), "--candidates", "x")
    assert unknown.returncode == 2
    assert "no triage candidate 'x'" in unknown.stderr
