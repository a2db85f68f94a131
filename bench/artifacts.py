"""Artifact upload and download throughput through the HTTP API, against a plain file copy.

One run starts one embedded Temporal dev server the way `ticketflow dev` does (bench/harness.py),
and the Ticketflow worker (`python -m ticketflow worker`) and API (`python -m ticketflow api`,
uvicorn) as processes on a migrated SQLite app database, the API's artifact store in the run's
temp dir. One ticket's first stage takes a `file` deliverable; an agent holds the stage. Then,
for 1 KB, 1 MB and 50 MB artifacts, each sample alternates:

* upload: `POST /tickets/{key}/deliverables/collect/blob` with httpx streaming a multipart body
  from a file on disk (fresh random bytes each time, so no upload finds its hash stored). The
  API streams it to its store's temporary file (hashed, counted, type-probed, fsynced), sends
  the workflow its `attach_deliverable` Update, whose answer comes after the projection wrote
  the version row, and links the file under its hash;
* download: `GET .../versions/{n}`, streamed by httpx into a file on disk, checked by SHA-256;
* plain copy: the same bytes copied file to file on the same disk, with the fsync the store
  does (the floor any upload path has to pay).

Printed: MB/s per size and direction (median of the samples), the ratios to the copy, and the
API process's resident memory: before each size's uploads and its peak during them (VmHWM from
/proc, reset through /proc/<pid>/clear_refs before each size), so a 50 MB upload that held its
body in memory would show as a 50 MB rise over the 1 MB case. Linux only.

Run from the repository root:
    .venv/bin/python bench/artifacts.py [--samples-1kb 40] [--samples-1mb 20] [--samples-50mb 4]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from harness import (
    API,
    HOST,
    HTTP_TIMEOUT,
    TEMPORAL,
    TICKET_QUEUE,
    TICKET_WORKER,
    BenchError,
    byte_compile,
    connect_temporal,
    exit_now,
    free_ports,
    guarded,
    note,
    prepare_database,
    run_stack,
    start_child,
    wait_for_api,
)

from ticketflow.devstack import Child
from ticketflow.temporal_server import dev_server_command, temporal_binary

DEPARTMENT = "bench-desk"
USERS = {"owner": ("process-office", "process_owner"), "rita": ("sales", "requester")}
USERS["ava"] = (DEPARTMENT, "agent")
DEFINITION: dict[str, Any] = {
    "key": "bench-artifacts",
    "title": "Artifact bench",
    "key_prefix": "ART",
    "department": DEPARTMENT,
    "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
    "stages": [
        {
            "key": "collect",
            "title": "Collect",
            "group": DEPARTMENT,
            # Any content, up to the 100 MiB default per version.
            "deliverables": [{"key": "blob", "kind": "file", "title": "Blob"}],
        }
    ],
}
UPLOAD_PATH = "/deliverables/collect/blob"
SIZES = {"1 KB": 1024, "1 MB": 1024 * 1024, "50 MB": 50 * 1024 * 1024}
MB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Size:
    """One artifact size's samples (seconds each) and the API's memory around its uploads."""

    upload: list[float] = field(default_factory=list)
    download: list[float] = field(default_factory=list)
    copy: list[float] = field(default_factory=list)
    rss_before_kb: int = 0
    peak_kb: int = 0


@dataclass
class Report:
    """Everything the run prints."""

    sizes: dict[str, Size]
    load_before: tuple[float, float, float]


def memory_kb(pid: int, field_name: str) -> int:
    """A process's VmRSS or VmHWM in kB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field_name}")


def reset_peak(pid: int) -> None:
    """Reset the process's peak resident size (VmHWM) to its current one."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as exc:
        raise BenchError(f"cannot reset the API's peak memory: {exc}") from exc


def plain_copy(source: Path, target: Path) -> float:
    """Copy a file and fsync the copy, as the store fsyncs an upload; seconds taken."""
    start = time.perf_counter()
    shutil.copyfile(source, target)
    with target.open("rb") as copied:
        os.fsync(copied.fileno())
    return time.perf_counter() - start


def mb_per_s(size: int, seconds: list[float]) -> float:
    """Throughput of the median sample."""
    return size / MB / statistics.median(seconds)


class Bench:
    """The HTTP client, the bench ticket and the scratch directory."""

    def __init__(self, http: httpx.AsyncClient, tokens: dict[str, str], scratch: Path) -> None:
        self.http, self.tokens, self.scratch = http, tokens, scratch
        self.key = ""
        self.versions = 0

    def auth(self, user: str) -> dict[str, str]:
        """The bearer header of a bench user."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def post(self, user: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """POST as `user`; BenchError unless it succeeds."""
        response = await self.http.post(path, headers=self.auth(user), **kwargs)
        if response.status_code not in (200, 201):
            raise BenchError(f"POST {path}: HTTP {response.status_code}: {response.text[:500]}")
        answer: dict[str, Any] = response.json()
        return answer

    async def open_ticket(self) -> None:
        """Publish the definition, file a ticket and claim its stage."""
        await self.post("owner", "/definitions", json=DEFINITION)
        filed = await self.post(
            "rita", "/tickets", json={"definition": DEFINITION["key"], "data": {"title": "b"}}
        )
        self.key = str(filed["key"])
        await self.post("ava", f"/tickets/{self.key}/tasks/collect/claim")

    async def upload(self, source: Path) -> float:
        """Upload the file as the next version; seconds taken."""
        start = time.perf_counter()
        with source.open("rb") as handle:
            files = {"file": (source.name, handle, "application/octet-stream")}
            await self.post("ava", f"/tickets/{self.key}{UPLOAD_PATH}", files=files)
        seconds = time.perf_counter() - start
        self.versions += 1
        return seconds

    async def download(self, target: Path, sha256: str) -> float:
        """Stream the latest version into a file; seconds taken (checked by its hash)."""
        path = f"/tickets/{self.key}{UPLOAD_PATH}/versions/{self.versions}"
        digest = hashlib.sha256()
        start = time.perf_counter()
        async with self.http.stream("GET", path, headers=self.auth("ava")) as response:
            if response.status_code != 200:
                raise BenchError(f"GET {path}: HTTP {response.status_code}")
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
        seconds = time.perf_counter() - start
        if digest.hexdigest() != sha256:
            raise BenchError(f"version {self.versions} came back with other bytes")
        return seconds


async def sample_size(bench: Bench, api_pid: int, size: int, samples: int) -> Size:
    """Alternate copy, upload and download `samples` times with fresh bytes each time."""
    found = Size(rss_before_kb=memory_kb(api_pid, "VmRSS"))
    reset_peak(api_pid)
    peak = 0
    for n in range(samples):
        source = bench.scratch / f"source-{size}-{n}.bin"
        source.write_bytes(os.urandom(size))
        sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
        found.copy.append(plain_copy(source, bench.scratch / "copy.bin"))
        found.upload.append(await bench.upload(source))
        # The peak of the uploads alone: a download streams from the store, read back after.
        peak = max(peak, memory_kb(api_pid, "VmHWM"))
        found.download.append(await bench.download(bench.scratch / "download.bin", sha256))
        source.unlink()
    found.peak_kb = peak
    return found


async def run_bench(args: argparse.Namespace, workdir: Path, children: dict[str, Child]) -> Report:
    """Start the dev server, the worker and the API, then sample each size."""
    load_before = os.getloadavg()
    byte_compile()
    temporal_port, ui_port, api_port = free_ports(3)
    address = f"{HOST}:{temporal_port}"
    note(f"starting the Temporal dev server on {address} (state in {workdir})")
    command = dev_server_command(
        binary=temporal_binary(),
        db_file=workdir / "temporal.db",
        port=temporal_port,
        ui_port=ui_port,
        ip=HOST,
    )
    start_child(children, Child(TEMPORAL, command, log_path=workdir / "temporal.log"))
    await connect_temporal(address, children[TEMPORAL])
    database_url = f"sqlite:///{workdir / 'ticketflow.db'}"
    tokens = await prepare_database(database_url, USERS)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETFLOW_")}
    env |= {
        "TICKETFLOW_DATABASE_URL": database_url,
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_TASK_QUEUE": TICKET_QUEUE,
        "TICKETFLOW_DATA_DIR": str(workdir / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    for name, argv in (
        (TICKET_WORKER, [sys.executable, "-m", "ticketflow", "worker"]),
        (API, [sys.executable, "-m", "ticketflow", "api", "--port", str(api_port)]),
    ):
        log_path = workdir / f"{name.lower().replace(' ', '-')}.log"
        start_child(children, Child(name, argv, env, log_path=log_path))
    scratch = workdir / "scratch"
    scratch.mkdir()
    counts = {"1 KB": args.samples_1kb, "1 MB": args.samples_1mb, "50 MB": args.samples_50mb}
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{api_port}", timeout=HTTP_TIMEOUT
    ) as http:
        await wait_for_api(http, children)
        bench = Bench(http, tokens, scratch)
        await guarded(children, bench.open_ticket())
        process = children[API].process
        assert process is not None
        sizes = {}
        for label, size in SIZES.items():
            note(f"{counts[label]} samples of {label}")
            sizes[label] = await guarded(
                children, sample_size(bench, process.pid, size, counts[label])
            )
    return Report(sizes=sizes, load_before=load_before)


def print_report(args: argparse.Namespace, report: Report) -> None:
    """The figures as plain-text tables."""
    load = ", ".join(f"{x:.2f}" for x in report.load_before)
    print(f"Ticketflow artifact bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, load average before the run "
        f"{load}; Python {platform.python_version()}"
    )
    print(
        f"samples: 1 KB x{args.samples_1kb}, 1 MB x{args.samples_1mb}, 50 MB x{args.samples_50mb}"
        " (copy, upload, download alternating; medians)"
    )
    print()
    print(
        f"{'size':>6}  {'p50 ms: copy':>12}  {'upload':>7}  {'download':>8}  "
        f"{'MB/s: copy':>10}  {'upload':>7}  {'download':>8}  {'upload/copy':>11}  "
        f"{'download/copy':>13}"
    )
    for label, found in report.sizes.items():
        size = SIZES[label]
        times = [statistics.median(s) * 1000 for s in (found.copy, found.upload, found.download)]
        copy, up, down = (mb_per_s(size, s) for s in (found.copy, found.upload, found.download))
        print(
            f"{label:>6}  {times[0]:>12.2f}  {times[1]:>7.1f}  {times[2]:>8.1f}  "
            f"{copy:>10.1f}  {up:>7.1f}  {down:>8.1f}  {up / copy:>11.3f}  {down / copy:>13.3f}"
        )
    print()
    print("API process resident memory (kB) around each size's uploads:")
    for label, found in report.sizes.items():
        rise = found.peak_kb - found.rss_before_kb
        print(
            f"  {label:>6}: before {found.rss_before_kb}, peak {found.peak_kb}, "
            f"rise {rise} ({rise / 1024:.1f} MB)"
        )
    one, fifty = report.sizes["1 MB"], report.sizes["50 MB"]
    print(
        f"peak during 50 MB uploads - peak during 1 MB uploads: "
        f"{(fifty.peak_kb - one.peak_kb) / 1024:.1f} MB (an upload held in memory would be ~50)"
    )


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples-1kb", type=int, default=40)
    parser.add_argument("--samples-1mb", type=int, default=20)
    parser.add_argument("--samples-50mb", type=int, default=4)
    args = parser.parse_args()
    if min(args.samples_1kb, args.samples_1mb, args.samples_50mb) < 1:
        parser.error("every count must be at least 1")
    return args


def main() -> None:
    """Run the bench and leave through os._exit."""
    args = parse_args()
    exit_now(
        run_stack(
            lambda workdir, children: run_bench(args, workdir, children),
            lambda report: print_report(args, report),
        )
    )


if __name__ == "__main__":
    main()
