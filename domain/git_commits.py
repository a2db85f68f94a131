"""Commits a git server pushes: the delivery's signature, the ticket keys a message names, and
which open tickets each commit is signalled to.

A delivery is authenticated by its signature alone (GitHub: an HMAC-SHA256 of the raw body
under the shared secret; GitLab: the secret itself as a token), compared in constant time.
Each commit is signalled once to each open ticket its message names, under an id derived from
the delivery and the commit, so a redelivery changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Literal

from pydantic import BaseModel, Field

from domain.deliverables import MAX_COMMIT_MESSAGE, CommitAuthor, GitCommit

GIT_COMMIT_SIGNAL = "git_commit"
GITHUB_SIGNATURE_PREFIX = "sha256="
Provider = Literal["github", "gitlab"]
# A ticket key as store/keys.py hands them out: a definition's prefix (domain/definitions.py),
# a dash and a zero-padded number; not part of a longer word, path or key.
TICKET_KEY = re.compile(r"(?<![A-Za-z0-9_-])([A-Z][A-Z0-9]{0,9}-[0-9]{6,12})(?![A-Za-z0-9_-])")
# Keys one commit message may name; the rest are ignored (and counted).
MAX_KEYS_PER_COMMIT = 20


class GitCommitInput(BaseModel):
    """A pushed commit that names the ticket, with the id its delivery gives it."""

    commit: GitCommit
    signal_id: str = Field(min_length=1, max_length=64)


class PushedCommit(BaseModel):
    """One commit of a push, with the ticket keys its whole message names."""

    commit: GitCommit
    keys: list[str] = Field(default_factory=list)
    dropped: int = Field(default=0, description="Keys named beyond MAX_KEYS_PER_COMMIT.")


class CommitSignal(BaseModel):
    """One signal to send: this commit to this ticket."""

    ticket: str
    signal: GitCommitInput


class SignalPlan(BaseModel):
    """What a delivery signals, and how many of the keys it names were ignored."""

    signals: list[CommitSignal] = Field(default_factory=list)
    ignored: int = 0


def github_signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for this body."""
    return GITHUB_SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def github_signature_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the body's signature under `secret` (in constant time)."""
    if header is None:
        return False
    # Starlette decodes headers as latin-1: encoding back gives the bytes that were sent.
    given = header.encode("latin-1", errors="replace")
    return hmac.compare_digest(github_signature(secret, body).encode(), given)


def gitlab_token_valid(secret: bytes, header: str | None) -> bool:
    """Whether `header` (`X-Gitlab-Token`) is the secret (in constant time)."""
    if header is None:
        return False
    return hmac.compare_digest(secret, header.encode("latin-1", errors="replace"))


def referenced_keys(message: str) -> tuple[list[str], int]:
    """The ticket keys a message names, first mention first, and how many beyond the cap."""
    keys = list(dict.fromkeys(TICKET_KEY.findall(message)))
    return keys[:MAX_KEYS_PER_COMMIT], max(0, len(keys) - MAX_KEYS_PER_COMMIT)


def pushed_commit(
    *,
    repository: str,
    repository_url: str,
    sha: str,
    url: str,
    author: CommitAuthor,
    message: str,
) -> PushedCommit:
    """A commit as a push reports it: the keys of its whole message, the message kept short."""
    keys, dropped = referenced_keys(message)
    commit = GitCommit(
        repository=repository,
        repository_url=repository_url,
        sha=sha,
        url=url,
        author=author,
        message=message[:MAX_COMMIT_MESSAGE],
    )
    return PushedCommit(commit=commit, keys=keys, dropped=dropped)


def signal_id(provider: Provider, delivery: str, sha: str) -> str:
    """The signal's id: the same for every redelivery of this delivery's commit."""
    scoped = json.dumps([provider, delivery, sha], ensure_ascii=False)
    return hashlib.sha256(scoped.encode()).hexdigest()


def all_keys(commits: list[PushedCommit]) -> list[str]:
    """Every key the push names, once each, to look up."""
    return list(dict.fromkeys(key for pushed in commits for key in pushed.keys))


def plan_signals(
    provider: Provider, delivery: str, commits: list[PushedCommit], open_keys: set[str]
) -> SignalPlan:
    """One signal per commit and open ticket it names; each other key named is ignored.

    A commit listed twice in one push is signalled once.
    """
    plan = SignalPlan()
    seen: set[tuple[str, str]] = set()
    for pushed in commits:
        plan.ignored += pushed.dropped
        sha = pushed.commit.sha
        for key in pushed.keys:
            if key not in open_keys:
                plan.ignored += 1
                continue
            if (key, sha) in seen:
                continue
            seen.add((key, sha))
            signal = GitCommitInput(
                commit=pushed.commit, signal_id=signal_id(provider, delivery, sha)
            )
            plan.signals.append(CommitSignal(ticket=key, signal=signal))
    return plan
