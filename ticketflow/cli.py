"""The `ticketflow` command: dev stack, processes, migrations, users, definitions, devices,
customers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ticketflow.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from domain.problems import Rejected

Command = Callable[[argparse.Namespace, Settings], int]


# Commands that make the stack's settings rather than read them from its state file.
WRITERS = frozenset({"dev", "api", "worker", "edge"})


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    from ticketflow.devstack import run_dev_stack, stop_dev_stack

    if args.stop:
        return stop_dev_stack(settings.data_dir)
    return run_dev_stack(settings=settings, api_port=args.port, temporal_port=args.temporal_port)


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="info",
    )
    return 0


async def _run_worker(settings: Settings, task_queue: str) -> None:
    from store.db import make_async_engine, make_sessionmaker
    from ticketflow.telemetry import worker_runtime
    from ticketflow.temporal_client import connect
    from workers.roots import worker_for_queue

    client = await connect(settings, runtime=worker_runtime(settings))
    engine = make_async_engine(settings.effective_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = await worker_for_queue(
        settings=settings, client=client, task_queue=task_queue, sessions=make_sessionmaker(engine)
    )
    logging.getLogger("ticketflow.worker").info("worker polling task queue %r", task_queue)
    async with worker:
        await stop.wait()
    await engine.dispose()


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import uvloop

    # uvloop (installed with uvicorn[standard]) is the API's loop too; it cuts the worker's
    # event-loop overhead, which is most of its CPU per ticket.
    uvloop.run(_run_worker(settings, args.task_queue or settings.task_queue))
    return 0


async def _run_edge(settings: Settings, site: str) -> None:
    from domain.devices import edge_queue
    from ticketflow.temporal_client import connect
    from workers.edge import edge_site

    # The protocol libraries log every failed connect of every poll; the monitor logs an
    # outage once, and again when the device answers.
    for library in ("asyncua", "pymodbus"):
        logging.getLogger(library).setLevel(logging.ERROR)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with edge_site(
        client=client,
        site=site,
        task_queue=settings.task_queue,
        refresh_seconds=settings.edge_refresh_seconds,
    ):
        logging.getLogger("ticketflow.edge").info(
            "edge worker for site %r polling task queue %r, watching the site's devices",
            site,
            edge_queue(site),
        )
        await stop.wait()


def _edge(args: argparse.Namespace, settings: Settings) -> int:
    import uvloop

    uvloop.run(_run_edge(settings, args.site))
    return 0


def _site(value: str) -> str:
    """A site name as the registry has them, for argparse."""
    from domain.devices import SITE_PATTERN

    if not re.fullmatch(SITE_PATTERN, value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a site name (lowercase letters, digits and '-', at most 40)"
        )
    return value


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from store.migrate import upgrade_database

    upgrade_database(url=settings.effective_database_url)
    sys.stderr.write("database is at the latest revision\n")
    return 0


def no_data(settings: Settings) -> str | None:
    """Why the configured SQLite database holds no Ticketflow data, or None when it does."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database)
    try:
        # Read-only: looking must not leave an empty database file behind.
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            migrated = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.Error:
        migrated = None
    if migrated:
        return None
    data_dir = settings.data_dir.resolve()
    return (
        f"no Ticketflow data in {data_dir}; start `ticketflow dev --data-dir {data_dir}` "
        "or pass --data-dir"
    )


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[int]]) -> int:
    from store.db import make_async_engine, make_sessionmaker

    problem = no_data(settings)
    if problem:
        sys.stderr.write(f"ticketflow: {problem}\n")
        return 1

    async def run() -> int:
        engine = make_async_engine(settings.effective_database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _unknown_role(role: str | None) -> bool:
    from policies.roles import ROLES

    if role is None or role in ROLES:
        return False
    sys.stderr.write(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}\n")
    return True


def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    from store.users import InvalidUser, UserExists, add_user

    if _unknown_role(args.role):
        return 2

    async def work(session: AsyncSession) -> int:
        try:
            _row, token = await add_user(
                session=session,
                name=args.name,
                department=args.department,
                role=args.role,
                now=datetime.now(UTC),
            )
        except UserExists:
            sys.stderr.write(
                f"user {args.name} exists; nothing changed: use `ticketflow users rotate-token"
                f" {args.name}` for a new token, `ticketflow users update {args.name}` to change"
                " its department or role\n"
            )
            return 1
        except InvalidUser as exc:
            sys.stderr.write(f"{exc}; nothing changed\n")
            return 2
        sys.stderr.write(
            f"user {args.name} ({args.role}, {args.department}); the token is shown "
            "once, only its hash is stored:\n"
        )
        sys.stdout.write(token + "\n")
        return 0

    return _with_session(settings, work)


def _users_rotate_token(args: argparse.Namespace, settings: Settings) -> int:
    from store.users import NoSuchUser, rotate_token

    async def work(session: AsyncSession) -> int:
        try:
            token = await rotate_token(session=session, name=args.name)
        except NoSuchUser as exc:
            sys.stderr.write(f"{exc.args[0]}; add it with `ticketflow users add`\n")
            return 1
        sys.stderr.write(f"user {args.name}: new token, shown once; the old one no longer works:\n")
        sys.stdout.write(token + "\n")
        return 0

    return _with_session(settings, work)


def _users_update(args: argparse.Namespace, settings: Settings) -> int:
    from store.users import InvalidUser, NoSuchUser, update_user

    if args.department is None and args.role is None:
        sys.stderr.write("nothing to change: give --department and/or --role\n")
        return 2
    if _unknown_role(args.role):
        return 2

    async def work(session: AsyncSession) -> int:
        try:
            row = await update_user(
                session=session, name=args.name, department=args.department, role=args.role
            )
        except NoSuchUser as exc:
            sys.stderr.write(f"{exc.args[0]}; add it with `ticketflow users add`\n")
            return 1
        except InvalidUser as exc:
            sys.stderr.write(f"{exc}; nothing changed\n")
            return 2
        sys.stderr.write(f"user {row.name} is now {row.role} in {row.department}\n")
        return 0

    return _with_session(settings, work)


def _audit_verify(_args: argparse.Namespace, settings: Settings) -> int:
    from store.access import verify_audit

    async def work(session: AsyncSession) -> int:
        problems = await verify_audit(session=session)
        for problem in problems:
            sys.stdout.write(problem + "\n")
        if problems:
            sys.stderr.write("the permission audit log has been tampered with\n")
            return 1
        sys.stderr.write("the permission audit log is intact\n")
        return 0

    return _with_session(settings, work)


def _definitions(args: argparse.Namespace, settings: Settings) -> int:
    from domain.problems import Rejected
    from services.process_publishing import publish_rules
    from services.publishing import check_definition, publish_definition, read_document

    rules = publish_rules(settings)

    async def work(session: AsyncSession) -> int:
        try:
            document = read_document(path=Path(args.file))
            if args.action == "validate":
                definition = await check_definition(session=session, document=document, rules=rules)
                sys.stdout.write(
                    f"{args.file}: valid ({definition.key}, {len(definition.stages)} stages)\n"
                )
            else:
                # The CLI runs with the database's credentials, not a user's: no key
                # ownership applies to it.
                row = await publish_definition(
                    session=session,
                    document=document,
                    published_by="cli",
                    publisher=None,
                    rules=rules,
                )
                sys.stdout.write(f"published {row.key}@{row.version}\n")
        except Rejected as exc:
            return _report_rejected(args.file, exc)
        return 0

    return _with_session(settings, work)


def _report_rejected(file: str, exc: Rejected) -> int:
    """Every problem on stderr, one per line and then as JSON; the exit status 1."""
    for problem in exc.problems:
        sys.stderr.write(f"{file}: {problem.pointer or '/'}: {problem.detail}\n")
    sys.stderr.write(json.dumps({"errors": [p.model_dump() for p in exc.problems]}) + "\n")
    return 1


def _calendars(args: argparse.Namespace, settings: Settings) -> int:
    from domain.problems import Rejected
    from services.publishing import read_document
    from services.sla_publishing import check_calendar, publish_calendar

    async def work(session: AsyncSession) -> int:
        try:
            document = read_document(path=Path(args.file))
            if args.action == "validate":
                calendar = check_calendar(document=document)
                sys.stdout.write(f"{args.file}: valid ({calendar.key}, {calendar.timezone})\n")
            else:
                row = await publish_calendar(session=session, document=document, published_by="cli")
                sys.stdout.write(f"published {row.key}@{row.version}\n")
        except Rejected as exc:
            return _report_rejected(args.file, exc)
        return 0

    return _with_session(settings, work)


def _devices(args: argparse.Namespace, settings: Settings) -> int:
    from domain.problems import Rejected
    from domain.ticket import Actor
    from policies.roles import ADMIN
    from services.devices import import_devices, stored_device
    from services.publishing import read_document
    from store import devices as store

    # The CLI runs with the database's own credentials, as definitions' publishes do.
    cli = Actor(user="cli", role=ADMIN)

    async def import_file(session: AsyncSession) -> int:
        try:
            devices = await import_devices(
                session=session,
                documents=read_document(path=Path(args.file)),
                actor=cli,
                settings=settings,
                now=datetime.now(UTC),
            )
        except Rejected as exc:
            return _report_rejected(args.file, exc)
        for device in devices:
            sys.stdout.write(f"registered {device.id}@{device.version} ({device.site})\n")
        return 0

    async def list_all(session: AsyncSession) -> int:
        cursor = None
        while True:
            rows, cursor = await store.list_devices(session=session, limit=200, cursor=cursor)
            for row in rows:
                device = stored_device(row)
                sys.stdout.write(
                    f"{device.id}@{device.version}\t{device.site}\t{device.protocol}"
                    f"\t{device.endpoint}\t{len(device.points)} points\n"
                )
            if cursor is None:
                return 0

    return _with_session(settings, import_file if args.devices == "import" else list_all)


def _customers(args: argparse.Namespace, settings: Settings) -> int:
    from domain.problems import Rejected
    from domain.ticket import Actor
    from policies.roles import ADMIN
    from services.customers import import_customers

    # The CLI runs with the database's own credentials, as device imports do.
    cli = Actor(user="cli", role=ADMIN)

    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark.
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"{args.file}: cannot read it: {exc}\n")
        return 1

    async def import_file(session: AsyncSession) -> int:
        try:
            rows = await import_customers(
                session=session, text=text, actor=cli, settings=settings, now=datetime.now(UTC)
            )
        except Rejected as exc:
            return _report_rejected(args.file, exc)
        for row in rows:
            sys.stdout.write(f"imported {row.id} ({row.tier}, {row.region or '-'})\n")
        return 0

    return _with_session(settings, import_file)


def _triage(args: argparse.Namespace, settings: Settings) -> int:
    from ticketflow.triage_cli import run_triage_command

    problem = no_data(settings)
    if problem:
        sys.stderr.write(f"ticketflow: {problem}\n")
        return 1
    return run_triage_command(args, settings)


def _care(args: argparse.Namespace, settings: Settings) -> int:
    from ticketflow.care_cli import run_care_command

    problem = no_data(settings)
    if problem:
        sys.stderr.write(f"ticketflow: {problem}\n")
        return 1
    return run_care_command(args, settings)


def _port(text: str) -> int:
    """A TCP port number from the command line."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _devices_simulate(args: argparse.Namespace, _settings: Settings) -> int:
    from ticketflow.device_simulator import SimulatorError, run_simulator

    try:
        asyncio.run(
            run_simulator(
                modbus_port=args.modbus_port,
                opcua_port=args.opcua_port,
                drift_per_minute=args.drift_per_minute,
                steady_minutes=args.steady_minutes,
                out=sys.stdout,
            )
        )
    except SimulatorError as exc:
        sys.stderr.write(f"{exc}; choose another port\n")
        return 1
    return 0


def _since(text: str) -> datetime:
    """An ISO 8601 date or instant from the command line (UTC when it names no zone)."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _audit_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from services.ticket_history import reconcile_since
    from ticketflow.temporal_client import connect

    async def work(session: AsyncSession) -> int:
        # The client's converter: it decrypts where payload keys are configured.
        client = await connect(settings)
        found = await reconcile_since(
            session=session,
            client=client,
            since=args.since,
            data_converter=client.data_converter,
        )
        for difference in found:
            sys.stdout.write(difference.model_dump_json() + "\n")
        sys.stderr.write(f"{len(found)} difference(s) between SQL and the Temporal history\n")
        return 1 if found else 0

    return _with_session(settings, work)


def _whatif(args: argparse.Namespace, settings: Settings) -> int:
    from services.whatif import NotPublished, what_if

    async def work(session: AsyncSession) -> int:
        try:
            found = await what_if(
                session=session,
                definition=args.definition,
                calendar=args.calendar,
                since=args.since,
                as_of=datetime.now(UTC),
            )
        except (NotPublished, ValueError) as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        sys.stdout.write(found.model_dump_json(indent=2) + "\n")
        return 0

    return _with_session(settings, work)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="ticketflow", description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the dev stack's data dir, whose state file names its database and Temporal "
        "(default TICKETFLOW_DATA_DIR or .ticketflow)",
    )
    parser.add_argument(
        "--temporal-address",
        default=None,
        help="host:port of Temporal (default TICKETFLOW_TEMPORAL_ADDRESS, else the running "
        "dev stack's, else 127.0.0.1:7233)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run Temporal dev server, workers and API on this machine")
    dev.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    dev.add_argument(
        "--temporal-port",
        type=int,
        default=7233,
        help="Temporal gRPC port (default 7233; its UI is this + 1000)",
    )
    dev.add_argument(
        "--data-dir",
        type=Path,
        # Not None: the subcommand's default would hide `ticketflow --data-dir DIR dev`.
        default=argparse.SUPPRESS,
        help="where the SQLite files live (default TICKETFLOW_DATA_DIR or .ticketflow)",
    )
    dev.add_argument(
        "--stop", action="store_true", help="stop the stack running on the data dir, then exit"
    )
    dev.set_defaults(run=_dev)

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.set_defaults(run=_api)

    worker = sub.add_parser("worker", help="run a Temporal worker")
    worker.add_argument(
        "--task-queue",
        default=None,
        help="default TICKETFLOW_TASK_QUEUE; TICKETFLOW_TRAINING_TASK_QUEUE (training) retrains",
    )
    worker.set_defaults(run=_worker)

    edge = sub.add_parser(
        "edge",
        help="run a site's edge worker: it reads the site's devices for snapshots and alarms",
    )
    edge.add_argument(
        "--site", type=_site, required=True, help="the site whose queue (edge-SITE) it serves"
    )
    edge.set_defaults(run=_edge)

    sub.add_parser("migrate", help="upgrade the app database to the latest revision").set_defaults(
        run=_migrate
    )

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users", required=True)
    add = users.add_parser("add", help="add a new user; prints its token once")
    add.add_argument("name")
    add.add_argument("--department", required=True)
    add.add_argument("--role", required=True)
    add.set_defaults(run=_users_add)
    rotate = users.add_parser(
        "rotate-token", help="give a user a new token (printed once); the old one stops working"
    )
    rotate.add_argument("name")
    rotate.set_defaults(run=_users_rotate_token)
    update = users.add_parser("update", help="change a user's department and/or role")
    update.add_argument("name")
    update.add_argument("--department", default=None)
    update.add_argument("--role", default=None)
    update.set_defaults(run=_users_update)

    audit = sub.add_parser("audit", help="permission audit log and history checks").add_subparsers(
        dest="audit", required=True
    )
    audit.add_parser(
        "verify", help="check the hash chain; exit 1 naming every edited or deleted entry"
    ).set_defaults(run=_audit_verify)
    reconcile = audit.add_parser(
        "reconcile",
        help="compare each ticket's SQL timeline with its Temporal history; exit 1 on a difference",
    )
    reconcile.add_argument(
        "--since", type=_since, default=datetime(1970, 1, 1, tzinfo=UTC), help="tickets filed since"
    )
    reconcile.set_defaults(run=_audit_reconcile)

    whatif = sub.add_parser(
        "whatif",
        help="re-run recorded tickets' SLA clocks and triage routing on another definition",
    )
    whatif.add_argument("--definition", required=True, help="KEY@VERSION (KEY: the latest)")
    whatif.add_argument("--calendar", default=None, help="KEY@VERSION: every SLA counts on it")
    whatif.add_argument("--since", type=_since, required=True, help="tickets filed since (date)")
    whatif.set_defaults(run=_whatif)

    defs = sub.add_parser("definitions", help="check or publish a definition file (YAML or JSON)")
    defs.add_argument("action", choices=["validate", "publish"])
    defs.add_argument("file")
    defs.set_defaults(run=_definitions)

    cals = sub.add_parser("calendars", help="check or publish a business calendar file")
    cals.add_argument("action", choices=["validate", "publish"])
    cals.add_argument("file")
    cals.set_defaults(run=_calendars)

    devices = sub.add_parser(
        "devices", help="the device registry and simulated devices"
    ).add_subparsers(dest="devices", required=True)
    imports = devices.add_parser(
        "import", help="register every device of a YAML or JSON list, or none if one is refused"
    )
    imports.add_argument("file")
    imports.set_defaults(run=_devices)
    devices.add_parser("list", help="the latest version of every device").set_defaults(run=_devices)
    customers = sub.add_parser("customers", help="customers for after-sales care").add_subparsers(
        dest="customers", required=True
    )
    customer_import = customers.add_parser(
        "import", help="store every customer of a CSV file, or none if one row is refused"
    )
    customer_import.add_argument("file")
    customer_import.set_defaults(run=_customers)
    simulate = devices.add_parser(
        "simulate",
        help="serve a drifting pump over Modbus TCP and one over OPC UA on 127.0.0.1, print "
        "their registry entries as YAML, run until Ctrl-C",
    )
    simulate.add_argument("--modbus-port", type=_port, default=5020, help="default 5020")
    simulate.add_argument("--opcua-port", type=_port, default=4840, help="default 4840")
    simulate.add_argument(
        "--drift-per-minute",
        type=float,
        default=0.1,
        help="how fast the vibration climbs from 2.0 mm/s (default 0.1 mm/s a minute)",
    )
    simulate.add_argument(
        "--steady-minutes",
        type=float,
        default=5.0,
        help="how long the pumps run steadily before the climb starts (default 5)",
    )
    simulate.set_defaults(run=_devices_simulate)

    from ticketflow.triage_cli import add_triage_parser

    add_triage_parser(sub).set_defaults(run=_triage)

    from ticketflow.care_cli import add_care_parser

    add_care_parser(sub).set_defaults(run=_care)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ticketflow` console script."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    run: Command = args.run
    flags = {"data_dir": args.data_dir, "temporal_address": args.temporal_address}
    if args.command in WRITERS:
        settings = Settings(**{name: value for name, value in flags.items() if value is not None})
    else:
        settings = load_settings(**flags)
    try:
        return run(args, settings)
    except Exception as exc:
        if os.environ.get("TICKETFLOW_DEBUG"):
            raise
        sys.stderr.write(f"ticketflow: {explain(exc, settings)}\n")
        return 1


def run_and_exit() -> NoReturn:
    """The console script: exit with main's status, skipping interpreter finalisation.

    The Temporal SDK's native runtime can abort in PyGILState_Release while the interpreter
    finalises (the test runner exits the same way), which turned a status into SIGABRT.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def explain(exc: Exception, settings: Settings) -> str:
    """One line saying what went wrong and what to do about it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    url = make_url(settings.effective_database_url)
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else ""
    if isinstance(exc, OperationalError | ProgrammingError):
        if reason.startswith("relation") or "no such table" in reason:
            return (
                f"the database {url.render_as_string()} has no Ticketflow tables ({reason}); "
                "run `ticketflow migrate`"
            )
        return f"cannot use the database {url.render_as_string()}: {reason}"
    return f"unexpected {type(exc).__name__}: {reason}; set TICKETFLOW_DEBUG=1 to see the traceback"
