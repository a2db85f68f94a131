"""`ticketflow edge --site S`: serves the site's snapshots until Ctrl-C, then stops cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.device_snapshot import (
    DEVICE_SNAPSHOT_WORKFLOW,
    DeviceSnapshotInput,
    DeviceSnapshotResult,
    snapshot_workflow_id,
)
from domain.devices import Device, ModbusPoint
from tests.activities.devices.servers import modbus_device
from tests.devstack_util import cli_env
from tests.temporal_env import dev_server_env
from workflows.device_snapshot import DeviceSnapshotWorkflow

# Bounds the waits on the subprocess, so a broken command fails the test instead of hanging it.
WAIT_BOUND = 60


async def said(stream: asyncio.StreamReader, text: str) -> None:
    """Read lines until one holds `text`; fail if the stream ends first."""
    seen = []
    while text not in (line := (await stream.readline()).decode()):
        assert line, f"no line with {text!r} in:\n{''.join(seen)}"
        seen.append(line)


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server the command connects to by its address."""
    environment = await dev_server_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


async def test_edge_reads_the_sites_devices_until_ctrl_c(dev_env: WorkflowEnvironment) -> None:
    site, queue = f"t{uuid.uuid4().hex[:8]}", f"snapshots-{uuid.uuid4().hex[:8]}"
    address = dev_env.client.service_client.config.target_host
    edge = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "ticketflow", "--temporal-address", address),
        *("edge", "--site", site),
        env=cli_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert edge.stderr is not None
    try:
        await asyncio.wait_for(said(edge.stderr, f"polling task queue 'edge-{site}'"), WAIT_BOUND)
        async with (
            modbus_device() as modbus,
            Worker(dev_env.client, task_queue=queue, workflows=[DeviceSnapshotWorkflow]),
        ):
            await modbus.write("holding", 3, [77])
            device = Device(
                id="press-1",
                site=site,
                model="P1",
                protocol="modbus-tcp",
                endpoint=f"tcp://{modbus.endpoint}",
                unit_id=1,
                points=[ModbusPoint(name="temp", register="holding", address=3)],
            )
            result = await dev_env.client.execute_workflow(
                DEVICE_SNAPSHOT_WORKFLOW,
                DeviceSnapshotInput(device=device),
                id=snapshot_workflow_id(device.id, uuid.uuid4().hex),
                task_queue=queue,
                result_type=DeviceSnapshotResult,
            )
        assert (result.unreachable, [(r.value, r.quality) for r in result.snapshot.readings]) == (
            None,
            [(77, "good")],
        )
        edge.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(edge.wait(), WAIT_BOUND)
        rest = await edge.stderr.read()
        assert code == 0, rest.decode()
        assert b"Traceback" not in rest
    finally:
        if edge.returncode is None:
            edge.kill()
            await edge.wait()


async def test_edge_refuses_a_site_that_is_not_a_site_name() -> None:
    refused = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "ticketflow", "edge", "--site", "Plant_A"),
        env=cli_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(refused.communicate(), WAIT_BOUND)
    assert refused.returncode == 2
    assert "'Plant_A' is not a site name" in err.decode()
    assert "Traceback" not in err.decode()
