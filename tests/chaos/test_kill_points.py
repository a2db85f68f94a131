"""The worker SIGKILLed at chosen points of tickets' lives and of the capabilities they use.

The stack's workers carry the kill points of `workers/kill_points.py`; this test arms each
point (its Nth call, seeded) and the hook writes a marker before it kills, so the test knows
every point was hit: mid-triage, mid-Update, in the projection before and after its commit,
mid-SLA firing, in a care action falling due, and (the receiver kills the worker while a
webhook post is unanswered) mid-delivery to a subscriber. Then the tickets must match their
workflows and the undisturbed runs, every care action must reach the connector exactly once,
and every event must reach the subscriber at least once, once after dedupe, in seq order.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from store.db import make_sync_engine
from store.models import TicketEventRow
from tests.chaos.checker import care_findings, delivery_findings, findings, outbox_of
from tests.chaos.conftest import FULL, SCALE, SEED, ChaosStack, call
from tests.chaos.driver import DEFINITION, Driver, Finding, Life, run_lives
from tests.chaos.faults import child
from tests.chaos.receiver import CARE_PATH, HOOK_PATH, Arrival
from tests.devstack_util import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 900)]

CARE_STRATEGY = {
    "key": "chaos-care",
    "title": "Chaos care",
    "rules": [{"name": "everyone", "actions": [{"action": "survey", "delay": "PT1S"}]}],
}
CUSTOMER = "C-CHAOS"
# The same life, opted into care: every closed ticket gets a survey a second after close.
CARE_DEFINITION: dict[str, Any] = {
    **DEFINITION,
    "key": "chaos-care-life",
    "title": "Chaos life with care",
    "key_prefix": "CC",
    "intake_form": {
        "type": "object",
        "required": ["title", "customer_id"],
        "properties": {
            "title": {"type": "string", "minLength": 3},
            "customer_id": {"type": "string"},
        },
    },
    "care": {"strategy": CARE_STRATEGY["key"]},
}
# How long after the lives the markers, surveys and deliveries may take to arrive (a worker
# killed mid-triage or mid-send costs its activity's start-to-close timeout): a bound.
AFTERMATH = 600.0


def prepare_care_and_subscription(stack: ChaosStack) -> None:
    """The care strategy, the opted-in definition, a consenting customer, an admin's webhook."""
    call(stack, "paula", "POST", "/care/strategies", CARE_STRATEGY)
    call(stack, "paula", "POST", "/definitions", CARE_DEFINITION)
    call(stack, "carla", "POST", "/customers", {"id": CUSTOMER, "name": "Chaos", "tier": "vip"})
    consent = {"purpose": "care_messages", "channel": "phone", "text": "May we follow up?"}
    call(stack, "carla", "POST", f"/customers/{CUSTOMER}/consents", consent)
    secret = "whsec_" + base64.b64encode(bytes([7]) * 32).decode()
    call(
        stack,
        "root",
        "POST",
        "/subscriptions",
        {"url": stack.receiver.url(HOOK_PATH), "secret": secret},
    )


def events_of(stack: ChaosStack, key: str) -> list[str]:
    """The projected event types of one ticket, in seq order."""
    engine = make_sync_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    select(TicketEventRow.type)
                    .where(TicketEventRow.ticket_key == key)
                    .order_by(TicketEventRow.seq)
                )
            )
    finally:
        engine.dispose()


def arm(stack: ChaosStack, points: dict[str, int]) -> None:
    """Arm each point at its Nth call (a nonce keeps a re-armed point's count apart)."""
    for name, nth in points.items():
        (stack.kills / f"{name}.hit").unlink(missing_ok=True)
        (stack.kills / f"{name}.arm").write_text(f"{nth} {time.monotonic_ns()}")


def hits(stack: ChaosStack) -> dict[str, dict[str, Any]]:
    """The markers the hook wrote before each kill, by point."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(stack.kills.glob("*.hit"))}


class MidDelivery:
    """Kills the worker while the receiver holds its `nth` webhook post unanswered."""

    def __init__(self, stack: ChaosStack, nth: int) -> None:
        self.stack = stack
        self.nth = nth
        self.killed: Arrival | None = None

    def __call__(self, arrival: Arrival, count: int) -> None:
        """Called by the receiver before it answers."""
        if arrival.path == HOOK_PATH and count == self.nth and self.killed is None:
            self.killed = arrival
            os.kill(child(self.stack.supervisor, "worker"), signal.SIGKILL)


def test_worker_sigkilled_at_chosen_points_of_lives_care_and_deliveries(
    sqlite_stack: ChaosStack,
) -> None:
    stack = sqlite_stack
    prepare_care_and_subscription(stack)
    care_intake = {"customer_id": CUSTOMER}
    clean_care = Driver(stack.base_url, stack.tokens, "care-clean", CARE_DEFINITION, care_intake)
    clean_key = clean_care.live(0).key
    wait_until(lambda: "care_ended" in events_of(stack, clean_key), "the clean care run", AFTERMATH)
    (clean_care_record,) = stack.records([clean_key])
    assert findings([clean_care_record], clean_care_record) == []

    rng = random.Random(SEED + 3)
    points = {
        "triage": rng.randint(1, 2),
        "update": rng.randint(1, SCALE.tickets),
        "projection": rng.randint(1, 2 * SCALE.tickets),
        "projection-done": rng.randint(1, 2 * SCALE.tickets),
        "sla": rng.randint(1, SCALE.tickets),
        "care-send": 1,
    }
    mid_delivery = MidDelivery(stack, len(stack.receiver.at(HOOK_PATH)) + rng.randint(5, 20))
    stack.receiver.on_arrival = mid_delivery
    arm(stack, points)
    lives_driver = Driver(stack.base_url, stack.tokens, "points")
    care_driver = Driver(stack.base_url, stack.tokens, "points-care", CARE_DEFINITION, care_intake)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            plain = pool.submit(run_lives, lives_driver, list(range(SCALE.tickets)))
            cared = pool.submit(run_lives, care_driver, list(range(SCALE.care_tickets)))
            lives: list[Life] = plain.result()
            care_lives: list[Life] = cared.result()
    except Finding as exc:
        raise Finding(f"{exc}\narmed: {points}\nhit: {hits(stack)}\nseed: {SEED}") from exc
    finally:
        stack.receiver.on_arrival = None
    care_keys = [life.key for life in care_lives]
    wait_until(
        lambda: set(hits(stack)) == set(points),
        f"every armed point to be hit; armed {points}, hit {sorted(hits(stack))}",
        AFTERMATH,
    )
    wait_until(
        lambda: all("care_ended" in events_of(stack, key) for key in care_keys),
        "every care run to end",
        AFTERMATH,
    )
    problems = findings(stack.records([life.key for life in lives]), stack.clean)
    problems += findings(stack.records(care_keys), clean_care_record)
    problems += care_findings({key: ["survey"] for key in care_keys}, stack.receiver.at(CARE_PATH))
    keys = [life.key for life in lives] + care_keys
    outbox = outbox_of(database_url=stack.database_url, keys=keys)

    def all_delivered() -> bool:
        return not delivery_findings(outbox, stack.receiver.at(HOOK_PATH))

    try:
        wait_until(all_delivered, "every event at the subscriber", AFTERMATH)
    except AssertionError:
        problems += delivery_findings(outbox, stack.receiver.at(HOOK_PATH))
    held = mid_delivery.killed
    assert held is not None, "no webhook post was held when the worker died"
    # The post the dead worker never saw answered was sent again.
    again = [a for a in stack.receiver.at(HOOK_PATH) if a.json()["id"] == held.json()["id"]]
    assert len(again) >= 2, f"the held post {held.json()['id']} was never redelivered"
    found = hits(stack)
    assert not problems, "\n".join([*problems, f"armed {points}", f"hit {found}", f"seed {SEED}"])
    # Each marker names the call that was running when its worker died.
    for name, marker in found.items():
        assert marker["call"] == points[name], marker
