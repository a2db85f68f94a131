"""Temporal's codec server protocol: the Web UI and CLI decode (and encode) payloads here."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer
from temporalio.api.common.v1 import Payload

from api.deps import require_roles
from api.problems import ProblemError
from domain.problems import Problem
from policies.authorization import CODEC
from ticketflow.payload_codec import EncryptionCodec, PayloadKeyError

router = APIRouter(tags=["codec"], dependencies=[Depends(require_roles(*CODEC))])

# A page of the Web UI's history asks for a few hundred payloads at most.
MAX_PAYLOADS = 1000


def _strict_base64(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not standard base64") from None
    return value


Base64 = Annotated[
    bytes,
    BeforeValidator(_strict_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode(), return_type=str),
]


class JsonPayload(BaseModel):
    """A Temporal payload in protobuf JSON: metadata values and data in base64."""

    metadata: dict[str, Base64] = {}
    data: Base64 = b""


class Payloads(BaseModel):
    """The codec server's request and response body."""

    payloads: list[JsonPayload] = Field(max_length=MAX_PAYLOADS)


async def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec = request.app.state.payload_codec
    return codec


CodecDep = Annotated[EncryptionCodec, Depends(_codec)]


def _to_proto(payload: JsonPayload) -> Payload:
    return Payload(metadata=payload.metadata, data=payload.data)


def _to_json(payload: Payload) -> JsonPayload:
    return JsonPayload(metadata=dict(payload.metadata), data=payload.data)


@router.post("/codec/decode", response_model=Payloads)
async def decode(body: Payloads, codec: CodecDep) -> Payloads:
    """The payloads decrypted with the key each names; unencrypted ones are returned as is."""
    decoded: list[JsonPayload] = []
    problems: list[Problem] = []
    for index, payload in enumerate(body.payloads):
        try:
            [plain] = await codec.decode([_to_proto(payload)])
        except PayloadKeyError as exc:
            problems.append(Problem(pointer=f"/payloads/{index}", detail=str(exc)))
            continue
        decoded.append(_to_json(plain))
    if problems:
        raise ProblemError(422, "some payloads cannot be decrypted", problems=problems)
    return Payloads(payloads=decoded)


@router.post("/codec/encode", response_model=Payloads)
async def encode(body: Payloads, codec: CodecDep) -> Payloads:
    """The payloads encrypted under the active key (unchanged when encryption is off)."""
    encoded = await codec.encode([_to_proto(p) for p in body.payloads])
    return Payloads(payloads=[_to_json(p) for p in encoded])
