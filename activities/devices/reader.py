"""One interface over the protocol adapters: a reader per device, answering a list of readings."""

from __future__ import annotations

from typing import Protocol

from activities.devices.errors import DeviceUnreachableError, Progress, no_progress
from activities.devices.modbus import ModbusReader
from activities.devices.opcua import OpcuaReader
from domain.device_reading import READ_TIMEOUT_SECONDS
from domain.devices import Device, Reading

__all__ = ["DeviceReader", "DeviceUnreachableError", "Progress", "no_progress", "reader_for"]


class DeviceReader(Protocol):
    """Reads every point of one device once.

    Each point's reading is good with its value, or bad with the reason (the device refused
    the request, the point is misconfigured, the value is not a number or bool). Only a device
    that cannot be asked at all raises DeviceUnreachableError.
    """

    async def read(self, *, progress: Progress = no_progress) -> list[Reading]:
        """The device's readings, in the order of its points."""
        ...


def reader_for(device: Device, *, timeout: float = READ_TIMEOUT_SECONDS) -> DeviceReader:
    """The reader for the device's protocol; `timeout` bounds each request."""
    if device.protocol == "modbus-tcp":
        return ModbusReader(device, timeout=timeout)
    return OpcuaReader(device, timeout=timeout)
