"""Typed dependencies: settings, database session, Temporal client, the calling user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.limits import FailedAuthLimit
from api.problems import ProblemError
from domain.ticket import Actor
from policies.access import AccessControl
from policies.authorization import may_call
from services.published_definitions import PublishedDefinitions
from store.users import user_by_token
from ticketflow.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="A token from `ticketflow users add`.")

# The dependencies below that do no I/O are coroutines all the same: FastAPI runs a plain
# function dependency on a worker thread, a thread hop per dependency per request.


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_temporal(request: Request) -> Client:
    """The app's Temporal client."""
    client: Client = request.app.state.temporal
    return client


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for this request; views commit explicitly when they write."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """The app's session factory, for work that commits before it calls Temporal."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


async def get_definitions(request: Request) -> PublishedDefinitions:
    """The published definitions this process has parsed."""
    definitions: PublishedDefinitions = request.app.state.definitions
    return definitions


DefinitionsDep = Annotated[PublishedDefinitions, Depends(get_definitions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The authenticated caller; 401 without a valid bearer token.

    A client that sent too many invalid tokens lately is refused (429) before its token is
    even looked up, so guessing tokens is slow whatever the guesses are.
    """
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ProblemError(401, "a bearer token is required", headers=challenge)
    failures: FailedAuthLimit = request.app.state.auth_failures
    client = request.client.host if request.client else "-"
    wait = await failures.retry_after(client)
    if wait is not None:
        raise ProblemError(
            429,
            "too many invalid bearer tokens from this client; retry later",
            headers={"Retry-After": str(wait)},
        )
    caller = await user_by_token(session=session, token=credentials.credentials)
    if caller is None:
        await failures.failed(client)
        raise ProblemError(401, "the bearer token is not valid", headers=challenge)
    user, request.state.policy_version = caller
    return Actor(user=user.name, department=user.department, role=user.role)


ActorDep = Annotated[Actor, Depends(get_actor)]


def require_roles(*roles: str) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    """A dependency admitting only callers with one of these roles (admins always)."""

    async def check(actor: ActorDep) -> Actor:
        if not may_call(actor.role, roles):
            raise ProblemError(
                403, f"role {actor.role!r} may not do this; needs one of {sorted(roles)}"
            )
        return actor

    return check


MAX_IDEMPOTENCY_KEY = 200


async def idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY,
            description="Retrying a change with the same key returns its first outcome "
            "instead of changing the ticket twice; reusing it for another request is a 422.",
        ),
    ] = None,
) -> str | None:
    """The caller's Idempotency-Key for a state-changing request, if given."""
    return idempotency_key


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


async def get_access(request: Request, session: SessionDep) -> AccessControl:
    """This process's access control, reloaded first if the policy changed anywhere.

    Authentication read the policy version with the caller's user; without it, it is read here.
    """
    access: AccessControl = request.app.state.access
    await access.refresh(session, version=getattr(request.state, "policy_version", None))
    return access


AccessDep = Annotated[AccessControl, Depends(get_access)]


@dataclass(frozen=True)
class Caller:
    """What a change needs: who asks, under which Idempotency-Key, and the connections to use."""

    actor: Actor
    session: AsyncSession
    temporal: Client
    idempotency_key: str | None
    access: AccessControl


async def get_caller(
    actor: ActorDep,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKeyDep,
    access: AccessDep,
) -> Caller:
    """The caller of a change (the session is the same one authentication used)."""
    return Caller(
        actor=actor,
        session=session,
        temporal=temporal,
        idempotency_key=idempotency_key,
        access=access,
    )


CallerDep = Annotated[Caller, Depends(get_caller)]
