"""`ticketflow triage`: train (from history or a CSV export), eval a CSV, rollback, models."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketflow.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    Sessions = async_sessionmaker[AsyncSession]

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
    triage.add_argument("--test-size", type=float, default=0.2)
    triage.add_argument("--to", type=int, default=None, help="rollback: the version to go to")
    return triage  # type: ignore[no-any-return]


def run_triage_command(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch one `triage` action."""
    if args.action == "eval" and args.csv is None:
        sys.stderr.write("eval needs --csv FILE\n")
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
    from services.triage_models import NO_LIVE_MODEL, load_live_model
    from triage.csv_import import CsvProblem

    try:
        examples = _examples(args)
    except CsvProblem as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    live = await load_live_model(sessions=sessions, data_dir=settings.data_dir)
    current = None
    if isinstance(live, str):
        if live != NO_LIVE_MODEL:
            sys.stderr.write(f"live model ignored: {live}\n")
    else:
        current = live
    result = await register_run(
        sessions=sessions,
        data_dir=settings.data_dir,
        examples=examples,
        test_size=args.test_size,
        current=current,
        note=f"trained from {args.csv.name}",
    )
    sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    return 0


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
    sys.stdout.write(f"model v{version} on {len(examples)} tickets\n")
    sys.stdout.write(format_report(evaluate(model, examples)) + "\n")
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
        summary = {
            "version": row.version,
            "status": row.status,
            "training_size": row.training_size,
            "accuracy": row.metrics.get("accuracy"),
            "macro_f1": row.metrics.get("macro_f1"),
            "created_at": row.created_at.isoformat(),
        }
        sys.stdout.write(json.dumps(summary) + "\n")
    return 0
