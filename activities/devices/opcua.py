"""OPC UA servers through asyncua: every node in one Read, each DataValue to a reading."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua.uaerrors import UaError, UaStatusCodeError, UaStringParsingError
from cryptography import x509

from activities.devices.errors import DeviceUnreachableError, Progress, no_progress
from domain.device_reading import READ_TIMEOUT_SECONDS, bad, finite, opcua_url
from domain.devices import Device, OpcuaPoint, OpcuaSecurity, Reading

POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128Sha256RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256Sha256RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
# Status codes a server answers while it cannot serve now; any other refusal to connect (a
# rejected certificate or policy) is the device's configuration, which a retry would not fix.
TRANSIENT = frozenset(
    {
        "BadTooManySessions",
        "BadServerHalted",
        "BadServerNotConnected",
        "BadTimeout",
        "BadCommunicationError",
        "BadConnectionClosed",
        "BadSecureChannelClosed",
        "BadResourceUnavailable",
        "BadShutdown",
    }
)


def application_uri(certificate: x509.Certificate) -> str | None:
    """The application URI a certificate names in its subject alternative names, if any."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = names.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def utc(moment: datetime | None) -> datetime | None:
    """The timestamp as an aware UTC datetime (asyncua gives naive UTC ones)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def reading_of(point: OpcuaPoint, value: ua.DataValue) -> Reading:
    """The point's reading from its DataValue: good only for a good status and a number/bool."""
    base = Reading(
        point=point.name,
        unit=point.unit,
        source_time=utc(value.SourceTimestamp),
        server_time=utc(value.ServerTimestamp),
    )
    status = value.StatusCode
    if status is not None and not status.is_good():
        return base.model_copy(update={"quality": "bad", "reason": status.name})
    raw: Any = value.Value.Value if value.Value is not None else None
    if not isinstance(raw, bool | int | float):
        kind = value.Value.VariantType.name if value.Value is not None else "empty"
        if isinstance(raw, list):
            kind = f"array of {kind}"
        reason = f"type: {kind} is not a number or bool"
        return base.model_copy(update={"quality": "bad", "reason": reason})
    if not finite(raw):
        return base.model_copy(update={"quality": "bad", "reason": f"not finite: {raw}"})
    return base.model_copy(update={"value": raw})


class OpcuaReader:
    """Reads an OPC UA server's nodes with one Read request."""

    def __init__(self, device: Device, *, timeout: float = READ_TIMEOUT_SECONDS) -> None:
        self._device = device
        self._timeout = timeout

    async def read(self, *, progress: Progress = no_progress) -> list[Reading]:
        """The device's readings, in the order of its points."""
        points = [point for point in self._device.points if isinstance(point, OpcuaPoint)]
        if len(points) != len(self._device.points):
            return bad(self._device, "config: an OPC UA device needs OPC UA points")
        try:
            url = opcua_url(self._device.endpoint)
        except ValueError as exc:
            return bad(self._device, f"config: {exc}")
        readings: list[Reading | None] = [None] * len(points)
        nodes: dict[int, ua.NodeId] = {}
        for index, point in enumerate(points):
            try:
                nodes[index] = ua.NodeId.from_string(point.node_id)
            except UaStringParsingError:
                readings[index] = Reading(
                    point=point.name,
                    unit=point.unit,
                    quality="bad",
                    reason=f"config: not a node id: {point.node_id}",
                )
        if nodes:
            values = await self._values(url, list(nodes.values()), progress)
            if isinstance(values, str):
                return bad(self._device, values)
            for index, value in zip(nodes, values, strict=True):
                readings[index] = reading_of(points[index], value)
        return [reading for reading in readings if reading is not None]

    async def _values(
        self, url: str, ids: list[ua.NodeId], progress: Progress
    ) -> list[ua.DataValue] | str:
        """The nodes' DataValues from one Read, or why the server refused us (configuration)."""
        client = Client(url, timeout=self._timeout)
        where = shown(url)
        try:
            progress()
            try:
                async with asyncio.timeout(self._timeout * 2):
                    if self._device.security is not None:
                        problem = await secure(client, self._device.security)
                        if problem is not None:
                            return problem
                    await client.connect()
            except UaStatusCodeError as exc:
                return _refusal(where, exc)
            except UaError as exc:
                # asyncua's own refusals (no endpoint for our security, a certificate that does
                # not match): the transport's failures are OSError and TimeoutError.
                return f"refused: {exc}"
            except (OSError, TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
                raise DeviceUnreachableError(f"{where}: {reason}") from exc
            progress()
            try:
                async with asyncio.timeout(self._timeout):
                    values = await client.read_attributes([client.get_node(i) for i in ids])
            except UaStatusCodeError as exc:
                return _refusal(where, exc)
            except (OSError, TimeoutError, UaError) as exc:
                reason = str(exc) or type(exc).__name__
                raise DeviceUnreachableError(f"reading {where}: {reason}") from exc
            progress()
            if len(values) != len(ids):
                return f"refused: {len(values)} results for {len(ids)} nodes"
            return values
        finally:
            with suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await client.disconnect()


def shown(url: str) -> str:
    """The endpoint for messages: without any credentials in it."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _refusal(where: str, exc: UaStatusCodeError) -> str:
    """A server's status code as a bad reading's reason; a transient one raises instead."""
    name = ua.StatusCode(exc.code).name
    if name in TRANSIENT:
        raise DeviceUnreachableError(f"{where}: {name}") from exc
    return f"refused: {name}"


async def secure(client: Client, security: OpcuaSecurity) -> str | None:
    """Sign or encrypt the channel with the client's certificate and key; or why not."""
    try:
        certificate = await uacrypto.load_certificate(security.certificate)
        # Servers check that the client announces the application URI its certificate names.
        client.application_uri = application_uri(certificate) or client.application_uri
        await client.set_security(
            POLICIES[security.policy],
            security.certificate,
            security.private_key,
            server_certificate=security.server_certificate,
            mode=MODES[security.mode],
        )
    except (FileNotFoundError, IsADirectoryError, PermissionError, ValueError) as exc:
        # The client's own files are missing or unreadable: nothing a retry would change.
        return f"config: security: {type(exc).__name__}: {exc}"
    return None
