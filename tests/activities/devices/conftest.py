"""One Modbus, one OPC UA and one secure OPC UA server per test module (as it needs them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.activities.devices.servers import (
    Certificates,
    ModbusDevice,
    OpcuaDevice,
    certificates,
    modbus_device,
    opcua_device,
    secure_opcua_device,
)


@pytest.fixture(scope="module")
async def modbus() -> AsyncIterator[ModbusDevice]:
    """A pymodbus server on a free port."""
    async with modbus_device() as device:
        yield device


@pytest.fixture(scope="module")
async def opcua() -> AsyncIterator[OpcuaDevice]:
    """An asyncua server on a free port."""
    async with opcua_device() as device:
        yield device


@pytest.fixture(scope="module")
async def secure_opcua(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[OpcuaDevice, Certificates]]:
    """An asyncua server that only accepts signed and encrypted channels, and the certificates."""
    made = await certificates(tmp_path_factory.mktemp("certificates"))
    async with secure_opcua_device(made) as device:
        yield device, made
