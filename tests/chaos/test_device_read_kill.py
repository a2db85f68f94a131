"""The edge worker SIGKILLed mid-way through a device.snapshot read of a real pymodbus server.

The pymodbus server kills the stack's edge worker when the read's first request reaches it,
before answering, so the read is in flight. The snapshot must come back whole: the readings of
an undisturbed one, or (when the restarted edge worker is later than the snapshot's wait for a
worker) every reading bad with its reason; the next one clean; every stored one sealed right.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from domain.devices import canonical_json
from tests.activities.devices.servers import ModbusDevice, modbus_device
from tests.api.test_devices_api import MODBUS
from tests.chaos.conftest import FULL, ChaosStack, call
from tests.chaos.driver import RETRYABLE, STEP_TIMEOUT
from tests.chaos.faults import RESTART_TIMEOUT, child
from tests.devstack_util import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 900)]


class EdgeKiller:
    """Kills the edge worker at the first read request it sees once armed."""

    def __init__(self, supervisor: int) -> None:
        self.supervisor = supervisor
        self.armed = False
        self.killed_at: str | None = None

    def __call__(self, request: str) -> None:
        """Called by the device for each read request, before it answers."""
        if self.armed:
            self.armed = False
            self.killed_at = request
            os.kill(child(self.supervisor, "edge"), signal.SIGKILL)


@contextmanager
def device_in_thread(on_request: EdgeKiller) -> Iterator[ModbusDevice]:
    """A pymodbus server on its own loop: temperature 21.5 (scaled), running."""
    started = threading.Event()
    stop = threading.Event()
    found: list[ModbusDevice] = []

    async def serve() -> None:
        async with modbus_device(on_request) as device:
            await device.write("holding", 0, [215])
            await device.write("coil", 0, [True])
            found.append(device)
            started.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="modbus", daemon=True)
    thread.start()
    assert started.wait(30), "the pymodbus server did not start"
    try:
        yield found[0]
    finally:
        stop.set()
        thread.join(30)


def snapshot(stack: ChaosStack, device_id: str) -> dict[str, Any]:
    """Take a snapshot as the desk agent, retrying only what a restarting stack answers."""
    for _ in range(3):
        response = httpx.post(
            f"{stack.base_url}/devices/{device_id}/snapshot",
            headers={"Authorization": f"Bearer {stack.tokens['dana']}"},
            timeout=STEP_TIMEOUT,
            trust_env=False,
        )
        if response.status_code not in RETRYABLE:
            break
    assert response.status_code == 201, response.text
    taken: dict[str, Any] = response.json()
    return taken


def readings(taken: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """Each reading's point, value and quality."""
    return [(r["point"], r["value"], r["quality"]) for r in taken["readings"]]


def test_edge_worker_killed_mid_device_read_gives_a_whole_snapshot(
    sqlite_stack: ChaosStack,
) -> None:
    stack = sqlite_stack
    killer = EdgeKiller(stack.supervisor)
    with device_in_thread(killer) as device:
        pump = {**MODBUS, "id": "chaos-pump", "endpoint": f"tcp://{device.endpoint}"}
        call(stack, "paula", "POST", "/devices", pump)
        clean = snapshot(stack, "chaos-pump")
        assert readings(clean) == [("temperature", 21.5, "good"), ("running", True, "good")]
        edge = child(stack.supervisor, "edge")
        killer.armed = True
        disturbed = snapshot(stack, "chaos-pump")
        assert killer.killed_at is not None, "no read reached the device while armed"
        assert child(stack.supervisor, "edge", RESTART_TIMEOUT) != edge
        # The read the kill cut off is retried by the restarted edge worker; one that does not
        # come back within the snapshot's wait for a worker gives a whole unreadable snapshot,
        # every reading bad with its reason, never a half-read one. The next read is clean.
        if readings(disturbed) != readings(clean):
            assert all(r["quality"] == "bad" and r["reason"] for r in disturbed["readings"]), (
                killer.killed_at,
                disturbed,
            )
            wait_until(
                lambda: readings(snapshot(stack, "chaos-pump")) == readings(clean),
                "a clean read from the restarted edge worker",
                RESTART_TIMEOUT,
            )
    listed = call(stack, "dana", "GET", "/devices/chaos-pump/snapshots", None)["items"]
    assert disturbed in listed
    for stored in listed:
        body = {k: v for k, v in stored.items() if k != "sha256"}
        assert hashlib.sha256(canonical_json(body)).hexdigest() == stored["sha256"], stored
