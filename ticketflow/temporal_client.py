"""The one way to reach Temporal: same data converter for client, workers and replayer."""

from __future__ import annotations

import dataclasses

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from ticketflow.payload_codec import EncryptionCodec, key_ring
from ticketflow.settings import Settings
from ticketflow.telemetry import tracing_interceptors
from workflows import search_attributes

# Plain JSON payloads: what `data_converter` gives when no payload key is configured.
DATA_CONVERTER: DataConverter = pydantic_data_converter


def data_converter(settings: Settings) -> DataConverter:
    """The converter of every client, worker and replayer: encrypting when keys are configured.

    With encryption, failure messages and stack traces move into the encrypted payload too
    (an activity's error may quote a ticket's fields); their type names stay readable.
    """
    ring = key_ring(settings)
    if ring.active is None:
        return DATA_CONVERTER
    return dataclasses.replace(
        DATA_CONVERTER,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _tls(settings: Settings) -> TLSConfig | bool:
    if not (settings.temporal_tls_cert or settings.temporal_tls_ca):
        return False
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes()
        if settings.temporal_tls_key
        else None,
        server_root_ca_cert=settings.temporal_tls_ca.read_bytes()
        if settings.temporal_tls_ca
        else None,
    )


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """Connect to the configured Temporal namespace with Ticketflow's data converter, traced
    when tracing is on; `runtime` is a worker's (its SDK metrics), else the default one."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=_tls(settings),
        interceptors=tracing_interceptors(settings),
        runtime=runtime,
    )


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register Ticketflow's search attributes the namespace lacks; returns those it added."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        present = set(listed.custom_attributes)
    except RPCError as exc:
        # The time-skipping test server cannot list attributes; it starts with none.
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        present = set()
    missing = {
        key.name: IndexedValueType.ValueType(
            SearchAttributeIndexedValueType(key.indexed_value_type)
        )
        for key in search_attributes.ALL
        if key.name not in present
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
