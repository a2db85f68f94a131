"""The OPC UA reader against asyncua's own server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from asyncua.crypto import uacrypto

from activities.devices.opcua import application_uri
from activities.devices.reader import DeviceUnreachableError, reader_for
from domain.devices import Device, OpcuaPoint, OpcuaSecurity, Reading
from tests.activities.devices.servers import CLIENT_URI, Certificates, OpcuaDevice, misbehaving
from tests.devstack_util import HOST, refusing_socket


def device(endpoint: str, points: list[OpcuaPoint], **extra: Any) -> Device:
    """An OPC UA device at `endpoint` with these points."""
    return Device(
        id="press-9",
        site="plant-a",
        model="P9",
        protocol="opcua",
        endpoint=endpoint,
        points=points,
        **extra,
    )


def values(readings: list[Reading]) -> dict[str, Any]:
    """Each reading's value, or its reason when bad."""
    return {r.point: r.value if r.quality == "good" else r.reason for r in readings}


async def test_a_good_read_of_every_node(opcua: OpcuaDevice) -> None:
    ns = opcua.namespace
    points = [
        OpcuaPoint(name="temp", node_id=f"ns={ns};s=Press.Temp", unit="°C"),
        OpcuaPoint(name="speed", node_id=f"ns={ns};s=Press.Speed", unit="rpm"),
        OpcuaPoint(name="running", node_id=f"ns={ns};s=Press.Running"),
    ]
    readings = await reader_for(device(opcua.endpoint, points)).read()
    assert (
        values(readings),
        [type(r.value) for r in readings],
        [(r.unit, r.source_time is not None, r.server_time is not None) for r in readings],
        {r.server_time.tzname() for r in readings if r.server_time},
    ) == (
        {"temp": 21.5, "speed": 1450, "running": True},
        [float, int, bool],
        [("°C", True, True), ("rpm", True, True), ("", True, True)],
        {"UTC"},
    )


async def test_unknown_wrong_typed_and_malformed_nodes_are_bad(opcua: OpcuaDevice) -> None:
    ns = opcua.namespace
    points = [
        OpcuaPoint(name="temp", node_id=f"ns={ns};s=Press.Temp"),
        OpcuaPoint(name="ghost", node_id=f"ns={ns};s=Press.Nothing"),
        OpcuaPoint(name="label", node_id=f"ns={ns};s=Press.Label"),
        OpcuaPoint(name="typo", node_id="ns=x;q=what"),
    ]
    readings = await reader_for(device(opcua.endpoint, points)).read()
    assert values(readings) == {
        "temp": 21.5,
        "ghost": "BadNodeIdUnknown",
        "label": "type: String is not a number or bool",
        "typo": "config: not a node id: ns=x;q=what",
    }


async def test_missing_certificate_files_are_a_configuration_error(opcua: OpcuaDevice) -> None:
    security = OpcuaSecurity(
        mode="SignAndEncrypt",
        policy="Basic256Sha256",
        certificate="/nonexistent/client.der",
        private_key="/nonexistent/client.pem",
        server_certificate="/nonexistent/server.der",
    )
    points = [OpcuaPoint(name="temp", node_id=f"ns={opcua.namespace};s=Press.Temp")]
    readings = await reader_for(device(opcua.endpoint, points, security=security)).read()
    assert [(r.quality, (r.reason or "")[:28]) for r in readings] == [
        ("bad", "config: security: FileNotFou")
    ]


@pytest.mark.timeout(10)
async def test_nothing_listening_raises_unreachable() -> None:
    with refusing_socket() as holder:
        endpoint = f"opc.tcp://{HOST}:{holder.getsockname()[1]}/"
        points = [OpcuaPoint(name="temp", node_id="ns=2;s=Press.Temp")]
        with pytest.raises(DeviceUnreachableError, match=r"opc\.tcp"):
            await reader_for(device(endpoint, points), timeout=60).read()


@pytest.mark.parametrize("silent", [False, True], ids=["closes", "silent"])
async def test_a_server_that_drops_or_ignores_us_raises_unreachable(silent: bool) -> None:
    async with misbehaving(silent=silent) as port:
        points = [OpcuaPoint(name="temp", node_id="ns=2;s=Press.Temp")]
        with pytest.raises(DeviceUnreachableError, match=r"opc\.tcp"):
            await reader_for(device(f"opc.tcp://{HOST}:{port}/", points), timeout=0.3).read()


@pytest.mark.parametrize("pinned", [True, False], ids=["server-certificate-given", "fetched"])
async def test_a_signed_and_encrypted_read(
    secure_opcua: tuple[OpcuaDevice, Certificates], pinned: bool
) -> None:
    server, made = secure_opcua
    security = OpcuaSecurity(
        mode="SignAndEncrypt",
        policy="Basic256Sha256",
        certificate=str(made.client_certificate),
        private_key=str(made.client_key),
        server_certificate=str(made.server_certificate) if pinned else None,
    )
    points = [OpcuaPoint(name="temp", node_id=f"ns={server.namespace};s=Press.Temp")]
    readings = await reader_for(device(server.endpoint, points, security=security)).read()
    assert values(readings) == {"temp": 21.5}


async def test_a_plain_client_is_refused_by_a_secure_server(
    secure_opcua: tuple[OpcuaDevice, Certificates],
) -> None:
    server, _ = secure_opcua
    points = [OpcuaPoint(name="temp", node_id=f"ns={server.namespace};s=Press.Temp")]
    readings = await reader_for(device(server.endpoint, points)).read()
    assert [(r.quality, (r.reason or "")[:30]) for r in readings] == [
        ("bad", "refused: No matching endpoints")
    ]


async def test_the_client_announces_its_certificates_application_uri(
    secure_opcua: tuple[OpcuaDevice, Certificates],
) -> None:
    _, made = secure_opcua
    certificate = await uacrypto.load_certificate(str(made.client_certificate))
    assert application_uri(certificate) == CLIENT_URI


@pytest.mark.parametrize(
    "endpoint", ["127.0.0.1:4840", "opc.tcp://", "http://h/x", "opc.tcp://h:x/"]
)
async def test_a_bad_endpoint_is_a_configuration_error(endpoint: str) -> None:
    points = [OpcuaPoint(name="temp", node_id="ns=2;s=Press.Temp")]
    readings = await reader_for(device(endpoint, points)).read()
    assert [(r.quality, (r.reason or "")[:7]) for r in readings] == [("bad", "config:")]


async def test_credentials_in_the_endpoint_stay_out_of_the_error() -> None:
    with refusing_socket() as holder:
        endpoint = f"opc.tcp://edge:s3cret@{HOST}:{holder.getsockname()[1]}/"
        points = [OpcuaPoint(name="temp", node_id="ns=2;s=Press.Temp")]
        with pytest.raises(DeviceUnreachableError) as failure:
            await reader_for(device(endpoint, points)).read()
    assert ("s3cret" in str(failure.value), f"{HOST}:" in str(failure.value)) == (False, True)
