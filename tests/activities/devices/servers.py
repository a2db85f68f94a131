"""Real devices on 127.0.0.1 for the readers: pymodbus' and asyncua's own servers, and sockets
that misbehave (accept and close, accept and stay silent)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.server.server import Server
from cryptography.x509.oid import ExtendedKeyUsageOID
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer

from domain.devices import Order, RegisterKind, ValueType
from tests.devstack_util import HOST, free_port

UNIT = 1
# Addresses 0..SIZE-1 exist for every kind; a read beyond them is an illegal address.
SIZE = 100
FUNCTION_CODES: dict[RegisterKind, int] = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
SERVER_URI = "urn:ticketflow:test:server"
# The reader announces the application URI its certificate names.
CLIENT_URI = "urn:ticketflow:edge"
FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}


def registers_of(value: Any, type_: ValueType, byte_order: Order, word_order: Order) -> list[int]:
    """The registers a device stores `value` in, built with struct (not the code under test)."""
    if type_ == "bool":
        return [1 if value else 0]
    packed = struct.pack(f">{FORMATS[type_]}", value)
    words = [packed[i : i + 2] for i in range(0, len(packed), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [word[::-1] for word in words]
    return [int.from_bytes(word, "big") for word in words]


@dataclass
class ModbusDevice:
    """A running pymodbus server: its port, and the read requests it has seen."""

    server: ModbusTcpServer
    port: int
    requests: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """host:port"""
        return f"{HOST}:{self.port}"

    async def write(self, kind: RegisterKind, address: int, values: list[int] | list[bool]) -> None:
        """Set values in the server's datastore, as the device itself would."""
        await self.server.async_setValues(UNIT, FUNCTION_CODES[kind], address, values)


@asynccontextmanager
async def modbus_device(
    on_request: Callable[[str], None] | None = None,
) -> AsyncIterator[ModbusDevice]:
    """A Modbus TCP server with SIZE coils, discrete inputs, holding and input registers;
    `on_request` sees each read request before it is answered."""

    def block(value: int | bool) -> ModbusSequentialDataBlock:
        # pymodbus' sequential blocks count from 1 for protocol address 0.
        return ModbusSequentialDataBlock(1, [value] * SIZE)

    context = ModbusServerContext(
        devices={
            UNIT: ModbusDeviceContext(co=block(False), di=block(False), hr=block(0), ir=block(0))
        }
    )
    port = free_port()
    seen: list[str] = []

    def trace(sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            seen.append(f"{pdu.function_code}:{pdu.address}+{pdu.count}")
            if on_request is not None:
                on_request(seen[-1])
        return pdu

    server = ModbusTcpServer(context, address=(HOST, port), trace_pdu=trace)
    await server.serve_forever(background=True)
    try:
        yield ModbusDevice(server, port, seen)
    finally:
        await server.shutdown()


@asynccontextmanager
async def misbehaving(*, silent: bool) -> AsyncIterator[int]:
    """A TCP server that accepts and closes at once, or (silent) accepts and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if silent:
            held.append(writer)
            return
        writer.close()

    server = await asyncio.start_server(handle, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@dataclass
class OpcuaDevice:
    """A running asyncua server and its namespace index."""

    endpoint: str
    namespace: int


@asynccontextmanager
async def opcua_device() -> AsyncIterator[OpcuaDevice]:
    """An OPC UA server with a press: temperature, speed, running, and a text node."""
    server = Server()
    await server.init()
    endpoint = f"opc.tcp://{HOST}:{free_port()}/ticketflow/"
    server.set_endpoint(endpoint)
    namespace = await server.register_namespace("urn:ticketflow:test")
    press = await server.nodes.objects.add_object(namespace, "Press")
    await press.add_variable(ua.NodeId("Press.Temp", namespace), "Temp", 21.5)
    await press.add_variable(
        ua.NodeId("Press.Speed", namespace), "Speed", ua.Variant(1450, ua.VariantType.Int32)
    )
    await press.add_variable(ua.NodeId("Press.Running", namespace), "Running", True)
    await press.add_variable(ua.NodeId("Press.Label", namespace), "Label", "line 3")
    await server.start()
    try:
        yield OpcuaDevice(endpoint, namespace)
    finally:
        await server.stop()


@dataclass
class Certificates:
    """A self-signed certificate and key each for the server and the client."""

    server_certificate: Path
    server_key: Path
    client_certificate: Path
    client_key: Path


async def certificates(folder: Path) -> Certificates:
    """Generate the server's and the client's certificates into `folder`."""
    made = Certificates(
        folder / "server.der", folder / "server.pem", folder / "client.der", folder / "client.pem"
    )
    for certificate, key, uri, use in (
        (made.server_certificate, made.server_key, SERVER_URI, ExtendedKeyUsageOID.SERVER_AUTH),
        (made.client_certificate, made.client_key, CLIENT_URI, ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        await setup_self_signed_certificate(key, certificate, uri, HOST, [use], {"commonName": uri})
    return made


@asynccontextmanager
async def secure_opcua_device(made: Certificates) -> AsyncIterator[OpcuaDevice]:
    """An OPC UA server that only speaks Basic256Sha256 with SignAndEncrypt."""
    server = Server()
    await server.init()
    await server.set_application_uri(SERVER_URI)
    endpoint = f"opc.tcp://{HOST}:{free_port()}/secure/"
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(made.server_certificate))
    await server.load_private_key(str(made.server_key))
    namespace = await server.register_namespace("urn:ticketflow:test")
    press = await server.nodes.objects.add_object(namespace, "Press")
    await press.add_variable(ua.NodeId("Press.Temp", namespace), "Temp", 21.5)
    await server.start()
    try:
        yield OpcuaDevice(endpoint, namespace)
    finally:
        await server.stop()
