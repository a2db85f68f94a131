"""`ticketflow triage`: train (from history or a CSV export), eval a CSV, rollback, models."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketflow.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    Sessions = async_sessionmaker[AsyncSession]

    from triage.candidates import Candidate
    from triage.selection import Progress
    from triage.training import Example


def add_triage_parser(sub: Any) -> argparse.ArgumentParser:
    """The `triage` subcommand and its actions."""
    triage = sub.add_parser("triage", help="train, evaluate and roll back the triage model")
    triage.add_argument("action", choices=["train", "eval", "rollback", "models"])
    triage.add_argument("--csv", type=Path, help="labelled tickets exported from another system")
    triage.add_argument("--text", default="title,description", help="text column(s), comma-sep")
    triage.add_argument("--label", default="team", help="the team/queue column")
    triage.add_argument("--category", default=None, help="optional category column")
    triage.add_argument("--priority", default=None, help="optional priority column")
    triage.add_argument(
        "--folds", type=int, default=None, help="train: cross-validation folds (default 3)"
    )
    triage.add_argument(
        "--budget",
        type=float,
        default=None,
        help="train: seconds the candidate search may take (default 900)",
    )
    triage.add_argument(
        "--candidates",
        default=None,
        help="train: the recipes to search, comma-separated (default: all, cheapest first)",
    )
    triage.add_argument("--json", action="store_true", help="eval: the scores as one JSON object")
    triage.add_argument("--to", type=int, default=None, help="rollback: the version to go to")
    return triage  # type: ignore[no-any-return]


def run_triage_command(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch one `triage` action."""
    if args.action == "eval" and args.csv is None:
        sys.stderr.write("eval needs --csv FILE\n")
        return 2
    if args.folds is not None and not 2 <= args.folds <= 10:
        sys.stderr.write("--folds must be between 2 and 10\n")
        return 2
    if args.budget is not None and args.budget <= 0:
        sys.stderr.write("--budget must be a positive number of seconds\n")
        return 2
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from store.db import make_async_engine, make_sessionmaker

    engine = make_async_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    try:
        if args.action == "train" and args.csv is None:
            return await _train_from_history(settings)
        if args.action == "train":
            return await _train_from_csv(args, settings, sessions)
        if args.action == "eval":
            return await _eval_csv(args, settings, sessions)
        if args.action == "rollback":
            return await _rollback(args, sessions)
        return await _models(sessions)
    finally:
        await engine.dispose()


def _examples(args: argparse.Namespace) -> list[Example]:
    from triage.csv_import import read_examples

    return read_examples(
        args.csv,
        text=[c.strip() for c in args.text.split(",") if c.strip()],
        label=args.label,
        category=args.category,
        priority=args.priority,
    )


async def _train_from_history(settings: Settings) -> int:
    from services.triage_schedule import run_retrain_now
    from ticketflow.temporal_client import connect

    try:
        client = await connect(settings)
    except RuntimeError:
        sys.stderr.write(
            f"ticketflow: cannot reach Temporal at {settings.temporal_address} (namespace "
            f"{settings.temporal_namespace}); start `ticketflow dev --data-dir "
            f"{settings.data_dir.resolve()}` or pass --temporal-address\n"
        )
        return 1
    result = await run_retrain_now(client=client, task_queue=settings.training_task_queue)
    sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    return 0


async def _train_from_csv(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    from activities.triage import register_run
    from domain.triage import RetrainInput
    from services.triage_models import NO_LIVE_MODEL, load_live_model
    from triage.csv_import import CsvProblem

    try:
        examples = _examples(args)
        candidates = _candidates(args.candidates)
    except CsvProblem as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    except KeyError as exc:  # an unknown candidate name
        sys.stderr.write(f"{exc.args[0]}\n")
        return 2
    live = await load_live_model(sessions=sessions, data_dir=settings.data_dir)
    current = None
    if isinstance(live, str):
        if live != NO_LIVE_MODEL:
            sys.stderr.write(f"live model ignored: {live}\n")
    else:
        current = live
    search = RetrainInput(
        **{k: v for k, v in (("folds", args.folds), ("budget_seconds", args.budget)) if v}
    )
    with _progress_bar("training") as progress:
        result = await register_run(
            sessions=sessions,
            data_dir=settings.data_dir,
            examples=examples,
            current=current,
            note=f"trained from {args.csv.name}",
            folds=search.folds,
            budget_seconds=search.budget_seconds,
            candidates=candidates,
            progress=progress,
        )
    sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    return 0


def _candidates(names: str | None) -> tuple[Candidate, ...]:
    """The named recipes in their cheapest-first order, or all of them."""
    from triage.candidates import CANDIDATES, candidate_named

    if not names:
        return CANDIDATES
    wanted = {candidate_named(n.strip()).name for n in names.split(",") if n.strip()}
    return tuple(c for c in CANDIDATES if c.name in wanted)


@contextmanager
def _progress_bar(label: str) -> Iterator[Progress]:
    """A progress bar on stderr (stdout stays the result), fed from the training thread."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(label, total=None)

        def report(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        yield report


async def _eval_csv(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    from services.triage_models import load_live_model
    from triage.csv_import import CsvProblem
    from triage.evaluation import format_report
    from triage.training import evaluate

    try:
        examples = _examples(args)
    except CsvProblem as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    live = await load_live_model(sessions=sessions, data_dir=settings.data_dir)
    if isinstance(live, str):
        sys.stderr.write(f"{live}\n")
        return 1
    version, model = live
    with _progress_bar("evaluating") as progress:
        # Off the event loop, as training is: predicting a large export takes a while.
        scores = await asyncio.to_thread(evaluate, model, examples, progress)
    if args.json:
        document = {"model_version": version, "tickets": len(examples), **scores}
        sys.stdout.write(json.dumps(document) + "\n")
        return 0
    sys.stdout.write(f"model v{version} ({model.candidate}) on {len(examples)} tickets\n")
    sys.stdout.write(format_report(scores) + "\n")
    return 0


async def _rollback(args: argparse.Namespace, sessions: Sessions) -> int:
    from store import triage as triage_store

    async with sessions() as session, session.begin():
        try:
            row = await triage_store.rollback_model(session=session, to_version=args.to)
        except LookupError as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        sys.stdout.write(f"triage model v{row.version} is live\n")
    return 0


async def _models(sessions: Sessions) -> int:
    from store import triage as triage_store

    async with sessions() as session:
        rows = await triage_store.list_models(session=session)
    if not rows:
        sys.stderr.write("no models yet; train one with `ticketflow triage train`\n")
    for row in rows:
        selection = row.metrics.get("selection") or {}
        summary = {
            "version": row.version,
            "status": row.status,
            "training_size": row.training_size,
            "candidate": selection.get("winner", row.features.get("candidate")),
            "accuracy": row.metrics.get("accuracy"),
            "macro_f1": row.metrics.get("macro_f1"),
            "live_before": row.metrics.get("current"),
            "candidates": [
                {k: c[k] for k in ("name", "status", "accuracy", "macro_f1", "fold_seconds")}
                for c in selection.get("candidates", [])
            ],
            "created_at": row.created_at.isoformat(),
        }
        sys.stdout.write(json.dumps(summary) + "\n")
    return 0
