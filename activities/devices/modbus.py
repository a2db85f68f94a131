"""Modbus TCP devices through pymodbus: the planned reads, then each point decoded from them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from activities.devices.errors import DeviceUnreachableError, Progress, no_progress
from domain.device_reading import READ_TIMEOUT_SECONDS, Value, bad, finite, scaled
from domain.devices import Device, ModbusPoint, Reading
from domain.modbus_plan import BIT_KINDS, ReadRequest, Slot, isolate, modbus_target, plan_reads

DEFAULT_UNIT = 1
DATATYPE = AsyncModbusTcpClient.DATATYPE
DATATYPES = {
    "int16": DATATYPE.INT16,
    "uint16": DATATYPE.UINT16,
    "int32": DATATYPE.INT32,
    "uint32": DATATYPE.UINT32,
    "float32": DATATYPE.FLOAT32,
}


@dataclass(frozen=True)
class Answer:
    """One request's answer: when it came, and its registers or bits, or the device's refusal."""

    at: datetime
    values: Sequence[int] | Sequence[bool] = ()
    refusal: str | None = None
    code: int | None = None


def swap_bytes(register: int) -> int:
    """The register with its two bytes exchanged."""
    return ((register & 0xFF) << 8) | (register >> 8)


def decode(point: ModbusPoint, values: Sequence[int] | Sequence[bool]) -> Value:
    """The point's value (scaled) from its slice of an answer.

    pymodbus' `convert_from_registers` handles the types and the word order, but reads each
    register's two bytes big-endian as the Modbus spec has them; devices that store them the
    other way round (`byte_order: little`) get their bytes swapped here first.
    """
    if point.register in BIT_KINDS or point.type == "bool":
        return bool(values[0])
    registers = [int(value) for value in values]
    if point.byte_order == "little":
        registers = [swap_bytes(register) for register in registers]
    raw = AsyncModbusTcpClient.convert_from_registers(
        registers, DATATYPES[point.type], word_order=point.word_order
    )
    return scaled(cast(int | float, raw), scale=point.scale, offset=point.offset)


def refusal(response: ModbusPDU) -> str:
    """The device's exception response, named: `ILLEGAL_ADDRESS (2)`."""
    code = response.exception_code
    try:
        name = ExcCodes(code).name
    except ValueError:
        name = "UNKNOWN_EXCEPTION"
    return f"{name} ({code})"


class ModbusReader:
    """Reads a Modbus TCP device's points in the fewest requests its protocol allows."""

    def __init__(self, device: Device, *, timeout: float = READ_TIMEOUT_SECONDS) -> None:
        self._device = device
        self._timeout = timeout

    async def read(self, *, progress: Progress = no_progress) -> list[Reading]:
        """The device's readings, in the order of its points."""
        points = [point for point in self._device.points if isinstance(point, ModbusPoint)]
        if len(points) != len(self._device.points):
            return bad(self._device, "config: a Modbus device needs Modbus points")
        try:
            host, port = modbus_target(self._device.endpoint)
        except ValueError as exc:
            return bad(self._device, f"config: {exc}")
        plan = plan_reads(points)
        answers: list[Answer] = []
        if plan.requests:
            async with self._connected(host, port, progress) as client:
                answers = await self._ask(client, plan.requests, progress)
                refused = [
                    i for i, answer in enumerate(answers) if answer.code == ExcCodes.ILLEGAL_ADDRESS
                ]
                if refused:
                    plan = isolate(plan, points, refused)
                    answers += await self._ask(client, plan.requests[len(answers) :], progress)
        return [
            self._reading(point, plan.slots[index], plan.problems.get(index), answers)
            for index, point in enumerate(points)
        ]

    @asynccontextmanager
    async def _connected(
        self, host: str, port: int, progress: Progress
    ) -> AsyncIterator[AsyncModbusTcpClient]:
        """One connection for all of a read's requests; no retries here (Temporal retries)."""
        client = AsyncModbusTcpClient(
            host, port=port, timeout=self._timeout, retries=0, reconnect_delay=0
        )
        try:
            progress()
            try:
                async with asyncio.timeout(self._timeout):
                    connected = await client.connect()
            except (OSError, TimeoutError) as exc:
                reason = str(exc) or "connect timed out"
                raise DeviceUnreachableError(f"{host}:{port}: {reason}") from exc
            if not connected:
                raise DeviceUnreachableError(f"{host}:{port}: connection refused or timed out")
            yield client
        finally:
            client.close()

    async def _ask(
        self, client: AsyncModbusTcpClient, requests: list[ReadRequest], progress: Progress
    ) -> list[Answer]:
        """Each request's answer in turn, with a heartbeat after each."""
        answers = []
        for request in requests:
            answers.append(await self._one(client, request))
            progress()
        return answers

    async def _one(self, client: AsyncModbusTcpClient, request: ReadRequest) -> Answer:
        """One request's answer; a lost or silent connection raises DeviceUnreachableError."""
        unit = DEFAULT_UNIT if self._device.unit_id is None else self._device.unit_id
        read = {
            "coil": client.read_coils,
            "discrete": client.read_discrete_inputs,
            "holding": client.read_holding_registers,
            "input": client.read_input_registers,
        }[request.kind]
        try:
            async with asyncio.timeout(self._timeout):
                response = await read(request.address, count=request.count, device_id=unit)
        except (ConnectionException, ModbusIOException, OSError, TimeoutError) as exc:
            where = f"{request.kind} {request.address}+{request.count}"
            raise DeviceUnreachableError(f"reading {where}: {exc or 'timed out'}") from exc
        except ModbusException as exc:
            return Answer(at=datetime.now(UTC), refusal=f"request refused: {exc}")
        now = datetime.now(UTC)
        if response.isError():
            return Answer(at=now, refusal=refusal(response), code=response.exception_code)
        values = response.bits if request.kind in BIT_KINDS else response.registers
        return Answer(at=now, values=values)

    def _reading(
        self, point: ModbusPoint, slot: Slot | None, problem: str | None, answers: list[Answer]
    ) -> Reading:
        """The point's reading from its slot of the answers, or why there is none."""
        if slot is None:
            return Reading(point=point.name, unit=point.unit, quality="bad", reason=problem)
        answer = answers[slot.request]
        base = Reading(point=point.name, unit=point.unit, source_time=answer.at)
        if answer.refusal is not None:
            return base.model_copy(update={"quality": "bad", "reason": answer.refusal})
        piece = answer.values[slot.offset : slot.offset + slot.width]
        if len(piece) < slot.width:
            return base.model_copy(update={"quality": "bad", "reason": "short answer"})
        value = decode(point, piece)
        if not finite(value):
            return base.model_copy(update={"quality": "bad", "reason": f"not finite: {value}"})
        return base.model_copy(update={"value": value})
