"""`ticketflow care`: train the sentiment model from a labelled CSV, evaluate it, list models."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ticketflow.settings import Settings


def add_care_parser(sub: Any) -> argparse.ArgumentParser:
    """The `care` subcommand and its actions."""
    care = sub.add_parser("care", help="after-sales care: the sentiment model")
    actions = care.add_subparsers(dest="care", required=True)
    train = actions.add_parser(
        "train-sentiment",
        help="train on a CSV (text,label,language); promoted if it beats the live model",
    )
    train.add_argument("--csv", type=Path, required=True)
    train.add_argument("--test-size", type=float, default=0.2, help="held apart (default 0.2)")
    evaluate = actions.add_parser(
        "eval-sentiment", help="the live model's accuracy per language on a labelled CSV"
    )
    evaluate.add_argument("--csv", type=Path, required=True)
    actions.add_parser("sentiment-models", help="the sentiment model registry")
    return care  # type: ignore[no-any-return]


def run_care_command(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch one `care` action."""
    return asyncio.run(_run(args, settings))


def _report(scores: dict[str, Any]) -> str:
    from triage.evaluation import format_report

    lines = [format_report(scores), "", "per language"]
    for language, part in scores["by_language"].items():
        lines.append(
            f"  {language}: accuracy {part['accuracy']:.4f}, macro-F1 {part['macro_f1']:.4f}"
            f" ({part['support']} sentences)"
        )
    return "\n".join(lines)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from activities.sentiment import SentimentActivities, register_run
    from sentiment.corpus import CsvProblem, read_labelled
    from sentiment.training import evaluate
    from store import sentiment as store
    from store.db import make_async_engine, make_sessionmaker

    engine = make_async_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    try:
        if args.care == "sentiment-models":
            async with sessions() as session:
                rows = await store.list_models(session=session)
            if not rows:
                sys.stderr.write("no trained models: the bundled model serves\n")
            for row in rows:
                summary = {
                    "version": row.version,
                    "status": row.status,
                    "training_size": row.training_size,
                    "accuracy": row.metrics.get("accuracy"),
                    "by_language": row.metrics.get("by_language"),
                    "created_at": row.created_at.isoformat(),
                }
                sys.stdout.write(json.dumps(summary) + "\n")
            return 0
        try:
            examples = read_labelled(args.csv)
        except CsvProblem as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        version, live = await SentimentActivities(sessions, settings.data_dir).live_model()
        if args.care == "eval-sentiment":
            scores = await asyncio.to_thread(evaluate, live, examples)
            sys.stdout.write(f"model v{version} on {len(examples)} sentences\n")
            sys.stdout.write(_report(scores) + "\n")
            return 0
        try:
            result = await register_run(
                sessions=sessions,
                data_dir=settings.data_dir,
                examples=examples,
                test_size=args.test_size,
                current=live,
                note=f"trained from {args.csv.name}",
            )
        except ValueError as exc:  # one label only, or too few rows to hold any apart
            sys.stderr.write(f"{args.csv}: cannot train on it: {exc}\n")
            return 2
        sys.stdout.write(_report(result.scores) + "\n\n")
        before = result.current_scores["by_language"]
        sys.stdout.write(
            f"sentiment model v{result.version}: accuracy {result.scores['accuracy']:.4f}"
            f" vs v{version} {result.current_scores['accuracy']:.4f} on the same rows"
            f" ({json.dumps({k: round(v['accuracy'], 4) for k, v in before.items()})}), "
            + ("promoted\n" if result.promoted else "kept as candidate\n")
        )
        return 0
    finally:
        await engine.dispose()
