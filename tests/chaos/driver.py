"""Drives tickets through one fixed life over HTTP, retrying only what a restart explains."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

# A short life that passes through every kind of worker activity the chaos aims at: triage at
# creation, an SLA ladder firing on real timers, claims and completions (Updates, each with
# its projection), the requester's confirmation and the close.
DEFINITION: dict[str, Any] = {
    "key": "chaos-life",
    "title": "Chaos life",
    "key_prefix": "CH",
    "department": "service-desk",
    "intake_form": {
        "type": "object",
        "required": ["title"],
        "properties": {"title": {"type": "string", "minLength": 3}},
    },
    # Triage runs on every ticket; at a threshold of 1 it never routes, so every run of the
    # same life ends alike whatever the model answers.
    "triage": {"dispatcher_group": "service-desk", "routed_stages": ["work"], "threshold": 1.0},
    "stages": [
        {
            "key": "work",
            "title": "Work it",
            "group": "service-desk",
            "form": {
                "type": "object",
                "required": ["note"],
                "properties": {"note": {"type": "string"}},
            },
            "sla": {
                "target": "PT2S",
                "ladder": [
                    {
                        "name": "half",
                        "at_fraction": 0.5,
                        "actions": [{"type": "notify", "recipients": ["group:service-desk"]}],
                    },
                    {
                        "name": "due",
                        "at_fraction": 1.0,
                        "actions": [{"type": "notify", "recipients": ["requester"]}],
                    },
                ],
            },
        },
        {
            "key": "check",
            "title": "Check it",
            "group": "ops",
            "depends_on": ["work"],
            "form": {
                "type": "object",
                "required": ["ok"],
                "properties": {"ok": {"type": "boolean"}},
            },
        },
    ],
    "confirmation": {"timeout_hours": 24},
}
USERS = {
    "paula": ("service-desk", "process_owner"),
    "dana": ("service-desk", "agent"),
    "otto": ("ops", "agent"),
    "rita": ("sales", "requester"),
    "carla": ("customer-care", "agent"),
    "root": ("it", "admin"),
}
# Answers a restarting stack gives (a dead API is a transport error): retried with the same
# Idempotency-Key. Anything else, a 500 above all, is a finding.
RETRYABLE = frozenset({502, 503, 504})
# How long one request may go unanswered through restarts and outages: a bound, not a figure.
# A worker killed mid-triage leaves its activity to time out (60 s) before the retry, and a
# worker killed several times in a row restarts after up to 30 s of backoff, then imports the
# app (minutes on a loaded machine).
STEP_TIMEOUT = 600.0
RETRY_PAUSE = 0.5
POLL_PAUSE = 0.3


class Finding(AssertionError):
    """Something a chaos run must never show: a 500, a refusal, a ticket that never arrives."""


@dataclass
class Life:
    """What the driver saw of one ticket's life."""

    index: int
    key: str = ""
    create_replayed: bool = False
    phase: str = "not started"


class Driver:
    """Files and works tickets as their people would, each life on its own thread."""

    def __init__(
        self,
        base_url: str,
        tokens: dict[str, str],
        label: str,
        definition: dict[str, Any] = DEFINITION,
        intake: dict[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.label = label
        self.definition = definition["key"]
        self.intake = intake or {}
        self.lives: dict[int, Life] = {}
        self._lock = threading.Lock()

    def phases(self) -> dict[str, str]:
        """Where each ticket's life is now (for the injector's record of what a fault hit)."""
        with self._lock:
            return {life.key or f"#{i}": life.phase for i, life in self.lives.items()}

    def idempotency_key(self, index: int, step: str) -> str:
        """The Idempotency-Key of one step of one life, the same on every retry."""
        return f"{self.label}-{index}-{step}"

    def request(
        self,
        http: httpx.Client,
        user: str,
        method: str,
        path: str,
        *,
        life: Life,
        step: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One call, retried through restarts; a non-2xx answer other than those is a Finding."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if step is not None:
            headers["Idempotency-Key"] = self.idempotency_key(life.index, step)
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                response = http.request(method, path, headers=headers, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return response
                last = f"{response.status_code} {response.text[:500]}"
                if response.status_code not in RETRYABLE:
                    raise Finding(f"ticket #{life.index} {life.key}: {method} {path} -> {last}")
            if time.monotonic() > deadline:
                raise Finding(
                    f"ticket #{life.index} {life.key}: {method} {path} unanswered for "
                    f"{STEP_TIMEOUT:.0f} s; last: {last}"
                )
            time.sleep(RETRY_PAUSE)

    def until(
        self, http: httpx.Client, life: Life, what: str, ready: Callable[[Any], bool], path: str
    ) -> None:
        """Poll a GET as the desk agent until `ready(body)`; a stuck ticket is a Finding."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            body = self.request(http, "dana", "GET", path, life=life).json()
            if ready(body):
                return
            if time.monotonic() > deadline:
                raise Finding(f"ticket #{life.index} {life.key} stuck: never {what}; saw {body}")
            time.sleep(POLL_PAUSE)

    def live(self, index: int) -> Life:
        """Run ticket `index` from filing to close."""
        life = Life(index)
        with self._lock:
            self.lives[index] = life
        with httpx.Client(base_url=self.base_url, timeout=STEP_TIMEOUT, trust_env=False) as http:

            def step(user: str, name: str, path: str, body: dict[str, Any]) -> None:
                life.phase = name
                self.request(http, user, "POST", path, life=life, step=name, body=body)

            life.phase = "create"
            intake = {"title": f"{self.label} ticket {index}", **self.intake}
            created = self.request(
                http,
                "rita",
                "POST",
                "/tickets",
                life=life,
                step="create",
                body={"definition": self.definition, "data": intake},
            )
            life.key = created.json()["key"]
            life.create_replayed = created.headers.get("Idempotent-Replayed") == "true"
            key = life.key
            life.phase = "sla"
            self.until(
                http,
                life,
                "breached its SLA",
                lambda events: "sla_breached" in {e["type"] for e in events},
                f"/tickets/{key}/events",
            )
            step("dana", "claim-work", f"/tickets/{key}/tasks/work/claim", {})
            step("dana", "complete-work", f"/tickets/{key}/tasks/work/complete", WORK_DATA)
            step("otto", "claim-check", f"/tickets/{key}/tasks/check/claim", {})
            step("otto", "complete-check", f"/tickets/{key}/tasks/check/complete", CHECK_DATA)
            step("rita", "confirm", f"/tickets/{key}/confirm", {"comment": "works"})
            life.phase = "closing"
            self.until(
                http,
                life,
                "closed",
                lambda ticket: ticket["status"] == "closed",
                f"/tickets/{key}",
            )
            life.phase = "closed"
        return life


WORK_DATA: dict[str, Any] = {"data": {"note": "done as asked"}}
CHECK_DATA: dict[str, Any] = {"data": {"ok": True}}


def run_lives(driver: Driver, indices: list[int], concurrency: int = 16) -> list[Life]:
    """Run these lives concurrently; every Finding of any of them fails, all listed."""
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(indices)))) as pool:
        futures = [pool.submit(driver.live, i) for i in indices]
    lives, findings = [], []
    for future in futures:
        try:
            lives.append(future.result())
        except Finding as exc:
            findings.append(str(exc))
    if findings:
        raise Finding(f"{len(findings)} of {len(indices)} lives failed:\n" + "\n".join(findings))
    return lives
