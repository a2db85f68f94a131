"""One Modbus and one OPC UA server per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.activities.devices.servers import ModbusDevice, OpcuaDevice, modbus_device, opcua_device


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
