"""The git webhook: GitHub and GitLab push deliveries signal the open tickets their commits name.

A git server has no bearer token: a delivery is authenticated by its signature (GitHub) or
token (GitLab) under the configured secret, checked over the raw body before anything of it
is parsed. Nothing else about the caller is trusted: not its address, not the payload's pusher
or sender; what it changes is attributed to the system actor `git`.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Request, status
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from api.body_guard import DETAIL, body_problems
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.problems import PROBLEM_JSON, ProblemError
from api.workflow_calls import rpc_problem
from domain.deliverables import COMMIT_PATTERN, MAX_URL_LENGTH, CommitAuthor
from domain.git_commits import (
    GIT_COMMIT_SIGNAL,
    CommitSignal,
    Provider,
    PushedCommit,
    all_keys,
    github_signature_valid,
    gitlab_token_valid,
    plan_signals,
    pushed_commit,
)
from domain.problems import Problem, pointer
from store.tickets import open_ticket_keys

# GitHub lists at most 2048 commits in a push payload; GitLab fewer.
MAX_COMMITS = 2048
MAX_DELIVERY_ID = 200
GITHUB_PUSH = "push"
GITLAB_PUSH = "Push Hook"
# A commit message may be long; the body size limit bounds it with everything else.
_TEXT = 1_000_000


class _Payload(BaseModel):
    """A part of a git server's payload: what is not named here is ignored."""

    model_config = ConfigDict(extra="ignore")


class PushAuthor(_Payload):
    """A commit's author as the git server reports it."""

    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)


class PushCommit(_Payload):
    """One pushed commit (GitHub and GitLab name these fields alike)."""

    id: str = Field(pattern=COMMIT_PATTERN, description="The commit id.")
    message: str = Field(default="", max_length=_TEXT)
    url: str = Field(default="", max_length=MAX_URL_LENGTH)
    author: PushAuthor = Field(default_factory=PushAuthor)


class GitHubRepository(_Payload):
    """The repository of a GitHub push."""

    full_name: str = Field(min_length=1, max_length=300)
    html_url: str = Field(default="", max_length=MAX_URL_LENGTH)


class GitHubPush(_Payload):
    """A GitHub `push` event (the fields read of it)."""

    repository: GitHubRepository
    commits: list[PushCommit] = Field(default_factory=list, max_length=MAX_COMMITS)


class GitLabProject(_Payload):
    """The project of a GitLab push."""

    path_with_namespace: str = Field(min_length=1, max_length=300)
    web_url: str = Field(default="", max_length=MAX_URL_LENGTH)


class GitLabPush(_Payload):
    """A GitLab `Push Hook` event (the fields read of it)."""

    project: GitLabProject
    commits: list[PushCommit] = Field(default_factory=list, max_length=MAX_COMMITS)


class SignalledCommit(BaseModel):
    """One commit signalled to one ticket."""

    ticket: str
    sha: str


class DeliveryAnswer(BaseModel):
    """What a delivery signalled."""

    provider: Provider
    event: str
    delivery: str
    commits: int = Field(description="Commits the push lists (0 for another event).")
    signalled: list[SignalledCommit] = Field(
        description="Each commit sent to each open ticket its message names."
    )
    ignored_keys: int = Field(
        description="Keys named that are no open ticket (unknown, resolved, closed, "
        "cancelled) or beyond 20 in one message."
    )


_PUSH_SCHEMAS = TypeAdapter(GitHubPush | GitLabPush).json_schema(
    ref_template="#/components/schemas/{model}"
)
# The body is read raw (its signature is checked first), so FastAPI does not describe it.
DELIVERY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"anyOf": _PUSH_SCHEMAS["anyOf"]}}},
    },
    "x-component-schemas": _PUSH_SCHEMAS["$defs"],
}

router = APIRouter(tags=["integrations"])


def _problem(status_code: int, detail: str, at: str) -> ProblemError:
    return ProblemError(status_code, detail, problems=[Problem(pointer=at, detail=detail)])


def _authenticated(
    secret: bytes, body: bytes, signature: str | None, token: str | None
) -> Provider:
    """The provider whose credential this delivery carries and proves; 401 otherwise."""
    if signature is not None:
        if github_signature_valid(secret, body, signature):
            return "github"
    elif token is not None:
        if gitlab_token_valid(secret, token):
            return "gitlab"
    else:
        raise ProblemError(
            401, "a delivery is signed: send X-Hub-Signature-256 (GitHub) or X-Gitlab-Token"
        )
    raise ProblemError(401, "the delivery's signature does not match the configured secret")


def _commits(provider: Provider, body: bytes) -> list[PushedCommit]:
    """The push's commits with the keys their messages name; 422 for a payload that is not one."""
    try:
        push = (GitHubPush if provider == "github" else GitLabPush).model_validate_json(body)
    except ValidationError as exc:
        problems = [Problem(pointer=pointer(*e["loc"]), detail=e["msg"]) for e in exc.errors()]
        raise ProblemError(422, f"the body is not a {provider} push", problems=problems) from exc
    if isinstance(push, GitHubPush):
        repository, repository_url = push.repository.full_name, push.repository.html_url
    else:
        repository, repository_url = push.project.path_with_namespace, push.project.web_url
    return [
        pushed_commit(
            repository=repository,
            repository_url=repository_url,
            sha=c.id,
            url=c.url,
            author=CommitAuthor(name=c.author.name, email=c.author.email or ""),
            message=c.message,
        )
        for c in push.commits
    ]


async def _send(temporal: TemporalDep, planned: CommitSignal) -> bool:
    """Signal one ticket; False when its workflow is gone meanwhile (closed since)."""
    try:
        await temporal.get_workflow_handle(planned.ticket).signal(GIT_COMMIT_SIGNAL, planned.signal)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise rpc_problem(planned.ticket, exc) from exc
    return True


@router.post(
    "/integrations/git/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=DELIVERY_BODY,
    responses={
        503: {
            "description": "The workflow service is unavailable: redeliver.",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
        }
    },
)
async def git_webhook(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    temporal: TemporalDep,
    signature: Annotated[
        str | None,
        Header(alias="X-Hub-Signature-256", description="GitHub: `sha256=<HMAC-SHA256 hex>`."),
    ] = None,
    token: Annotated[
        str | None, Header(alias="X-Gitlab-Token", description="GitLab: the secret.")
    ] = None,
    github_event: Annotated[str | None, Header(alias="X-GitHub-Event")] = None,
    github_delivery: Annotated[str | None, Header(alias="X-GitHub-Delivery")] = None,
    gitlab_event: Annotated[str | None, Header(alias="X-Gitlab-Event")] = None,
    gitlab_delivery: Annotated[str | None, Header(alias="X-Gitlab-Event-UUID")] = None,
) -> DeliveryAnswer:
    """A git server's delivery (GitHub `push`, GitLab `Push Hook`), signed with the secret
    `TICKETFLOW_GIT_WEBHOOK_SECRET`; each commit is signalled once to each open ticket its
    message names, and attached to its stages that expect a `git_commit`.

    403 when no secret is configured; 401 for a missing or wrong signature (nothing is read or
    signalled); other events (GitHub's `ping`) are acknowledged and signal nothing. A
    redelivery (same delivery id) attaches nothing twice.
    """
    secret = settings.git_webhook_secret
    if secret is None:
        raise ProblemError(
            403,
            "the git webhook is off: no secret is configured (TICKETFLOW_GIT_WEBHOOK_SECRET)",
        )
    body = await request.body()
    provider = _authenticated(secret.get_secret_value().encode(), body, signature, token)
    if provider == "github":
        event, delivery, push_event = github_event, github_delivery, GITHUB_PUSH
        names = ("X-GitHub-Event", "X-GitHub-Delivery")
    else:
        event, delivery, push_event = gitlab_event, gitlab_delivery, GITLAB_PUSH
        names = ("X-Gitlab-Event", "X-Gitlab-Event-UUID")
    if not event:
        raise _problem(422, f"{names[0]} names the event", f"header:/{names[0]}")
    if not delivery or len(delivery) > MAX_DELIVERY_ID:
        detail = f"{names[1]} identifies the delivery (1 to {MAX_DELIVERY_ID} characters)"
        raise _problem(422, detail, f"header:/{names[1]}")
    answer = DeliveryAnswer(
        provider=provider, event=event, delivery=delivery, commits=0, signalled=[], ignored_keys=0
    )
    if event != push_event:
        return answer
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise _problem(415, "send the payload as application/json", "header:/Content-Type")
    problems = await to_thread.run_sync(body_problems, body)
    if problems:
        raise ProblemError(422, DETAIL, problems=problems)
    commits = _commits(provider, body)
    keys = all_keys(commits)
    open_keys = await open_ticket_keys(session=session, keys=keys)
    await session.rollback()  # the signals may take a while: no transaction held open
    plan = plan_signals(provider, delivery, commits, open_keys)
    answer.commits, answer.ignored_keys = len(commits), plan.ignored
    for planned in plan.signals:
        if await _send(temporal, planned):
            sha = planned.signal.commit.sha
            answer.signalled.append(SignalledCommit(ticket=planned.ticket, sha=sha))
        else:
            answer.ignored_keys += 1
    return answer
