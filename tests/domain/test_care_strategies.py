"""Care strategies: one failing document per problem, and plan_care as a table."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.calendars import BusinessCalendar
from domain.care import CareStrategy, PlannedAction, TicketContext, plan_care, strategy_problems
from domain.customers import Customer, Product

STRATEGY: dict[str, Any] = {
    "key": "after-repair",
    "title": "After a repair",
    "rules": [
        {
            "name": "vip",
            "when": {"tiers": ["vip"]},
            "actions": [
                {"action": "supervisor_call", "delay": "PT0S", "mode": "confirm"},
                {"action": "survey", "delay": "PT4H"},
                {"action": "warranty_offer", "delay": "P7D", "mode": "confirm"},
            ],
        },
        {
            "name": "winter",
            "when": {"season": {"start": "11-15", "end": "02-28"}, "regions": ["north"]},
            "actions": [{"action": "maintenance_reminder", "delay": "P14D"}],
        },
        {
            "name": "new-product",
            "when": {"product_age": {"max_days": 90}, "definitions": ["repair"]},
            "actions": [{"action": "usage_tips", "delay": "P7D"}],
        },
        {
            "name": "everyone",
            "actions": [{"action": "survey", "delay": "P1D"}],
        },
    ],
}


def with_rule_changes(i: int, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(STRATEGY)
    document["rules"][i].update(changes)
    return document


def problems_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.pointer, p.detail) for p in strategy_problems(CareStrategy.model_validate(document))]


def test_the_example_strategy_has_no_problem() -> None:
    assert problems_of(STRATEGY) == []


def action(name: str, delay: str, **more: Any) -> dict[str, Any]:
    return {"action": name, "delay": delay, **more}


@pytest.mark.parametrize(
    ("document", "where", "says"),
    [
        (
            with_rule_changes(3, actions=[action("fax", "P1D")]),
            "/rules/3/actions/0/action",
            "unknown action 'fax'",
        ),
        (
            with_rule_changes(3, actions=[action("survey", "-P1D")]),
            "/rules/3/actions/0/delay",
            "cannot be negative",
        ),
        (
            with_rule_changes(3, actions=[action("coupon", "PT0S")]),
            "/rules/3/actions/0/delay",
            "coupon needs a delay after close",
        ),
        (
            with_rule_changes(3, actions=[action("survey", "P800D")]),
            "/rules/3/actions/0/delay",
            "at most 730 days",
        ),
        (with_rule_changes(0, when={"tiers": ["gold"]}), "/rules/0/when/tiers/0", "unknown tier"),
        (with_rule_changes(3, actions=[]), "/rules/3/actions", "at least one action"),
        (
            with_rule_changes(1, when={"dates": {"start": "2026-12-31", "end": "2026-12-01"}}),
            "/rules/1/when/dates/end",
            "ends (2026-12-01) before it starts (2026-12-31)",
        ),
        (
            with_rule_changes(1, when={"season": {"start": "02-30", "end": "03-10"}}),
            "/rules/1/when/season/start",
            "not a day of the year",
        ),
        (
            with_rule_changes(2, when={"product_age": {"min_days": 90, "max_days": 30}}),
            "/rules/2/when/product_age/max_days",
            "below min_days",
        ),
        (with_rule_changes(2, when={"product_age": {}}), "/rules/2/when/product_age", "give min"),
        (with_rule_changes(1, when={"regions": ["North!"]}), "/rules/1/when/regions/0", "region"),
        (with_rule_changes(3, name="vip"), "/rules/3/name", "taken by /rules/0"),
        ({**STRATEGY, "rules": []}, "/rules", "at least one rule"),
        ({**STRATEGY, "timezone": "Mars/Olympus"}, "/timezone", "unknown timezone"),
    ],
)
def test_one_problem_per_bad_strategy(document: dict[str, Any], where: str, says: str) -> None:
    problems = problems_of(document)
    assert [p for p, _ in problems] == [where]
    assert says in problems[0][1]


def test_every_problem_is_listed_at_once() -> None:
    document = copy.deepcopy(STRATEGY)
    document["rules"][0]["when"]["tiers"] = ["gold"]
    document["rules"][3]["actions"] = [action("fax", "P1D"), action("survey", "-PT1H")]
    assert [p for p, _ in problems_of(document)] == [
        "/rules/0/when/tiers/0",
        "/rules/3/actions/0/action",
        "/rules/3/actions/1/delay",
    ]


CLOSED_SUMMER = datetime(2026, 7, 1, 10, tzinfo=UTC)
CLOSED_WINTER = datetime(2026, 12, 1, 10, tzinfo=UTC)
TICKET = TicketContext(key="REP-000001", definition="repair")


def customer(tier: str, region: str = "south", bought: date = date(2024, 1, 1)) -> Customer:
    return Customer(
        id=f"C-{tier}",
        name="A customer",
        tier=tier,  # type: ignore[arg-type]
        region=region,
        products=[Product(product_id="AC-200", name="Air conditioner", purchased_on=bought)],
    )


def planned(plan: list[PlannedAction], closed: datetime) -> list[tuple[str, timedelta, str, str]]:
    return [(p.action, p.due_at - closed, p.mode, p.rule) for p in plan]


DAY, HOUR = timedelta(days=1), timedelta(hours=1)


@pytest.mark.parametrize(
    ("who", "closed", "expected"),
    [
        (
            customer("vip"),
            CLOSED_SUMMER,
            [
                ("supervisor_call", timedelta(0), "confirm", "vip"),
                ("survey", 4 * HOUR, "automatic", "vip"),
                ("warranty_offer", 7 * DAY, "confirm", "vip"),
            ],
        ),
        (customer("standard"), CLOSED_SUMMER, [("survey", DAY, "automatic", "everyone")]),
        # A rule for a season applies only inside it, and only in its regions.
        (customer("standard", "north"), CLOSED_SUMMER, [("survey", DAY, "automatic", "everyone")]),
        (
            customer("standard", "north"),
            CLOSED_WINTER,
            [
                ("survey", DAY, "automatic", "everyone"),
                ("maintenance_reminder", 14 * DAY, "automatic", "winter"),
            ],
        ),
        (
            customer("basic", "north"),
            datetime(2027, 2, 28, 23, tzinfo=UTC),  # the season's last day, wrapping the year
            [
                ("survey", DAY, "automatic", "everyone"),
                ("maintenance_reminder", 14 * DAY, "automatic", "winter"),
            ],
        ),
        (
            customer("basic", "north"),
            datetime(2027, 3, 1, 0, tzinfo=UTC),
            [("survey", DAY, "automatic", "everyone")],
        ),
        # A product bought within 90 days of close gets usage tips.
        (
            customer("basic", bought=date(2026, 5, 1)),
            CLOSED_SUMMER,
            [
                ("survey", DAY, "automatic", "everyone"),
                ("usage_tips", 7 * DAY, "automatic", "new-product"),
            ],
        ),
    ],
)
def test_plan_care(who: Customer, closed: datetime, expected: list[Any]) -> None:
    strategy = CareStrategy.model_validate(STRATEGY)
    plan = plan_care(strategy, who, TICKET, closed)
    assert planned(plan, closed) == expected
    assert {(p.customer_id, p.ticket_key) for p in plan} == {(who.id, TICKET.key)}


def test_the_ticket_category_and_definition_select_rules() -> None:
    document = copy.deepcopy(STRATEGY)
    document["rules"].insert(
        0,
        {
            "name": "cooling",
            "when": {"categories": ["cooling"]},
            "actions": [action("coupon", "P2D")],
        },
    )
    strategy = CareStrategy.model_validate(document)
    young = customer("basic", bought=date(2026, 6, 1))
    cooling = TicketContext(key="REP-2", definition="install", category="cooling")
    assert [p.action for p in plan_care(strategy, young, cooling, CLOSED_SUMMER)] == [
        "survey",
        "coupon",
    ]


def test_business_delays_count_on_the_calendar() -> None:
    weekdays = BusinessCalendar(
        key="office",
        version=1,
        hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    )
    document = {
        "key": "k",
        "rules": [{"name": "all", "actions": [action("survey", "PT8H", calendar="office@1")]}],
    }
    strategy = CareStrategy.model_validate(
        {**document, "calendars": {"office@1": weekdays.model_dump()}}
    )
    friday_noon = datetime(2026, 7, 3, 12, tzinfo=UTC)
    [survey] = plan_care(strategy, customer("basic"), TICKET, friday_noon)
    assert survey.due_at == datetime(2026, 7, 6, 12, tzinfo=UTC)  # Monday noon


def test_the_day_is_read_in_the_strategy_timezone() -> None:
    document = {
        "key": "k",
        "timezone": "Asia/Shanghai",
        "rules": [
            {
                "name": "new-year",
                "when": {"dates": {"start": "2027-01-01", "end": "2027-01-01"}},
                "actions": [action("coupon", "P1D")],
            }
        ],
    }
    strategy = CareStrategy.model_validate(document)
    late_in_utc = datetime(2026, 12, 31, 17, tzinfo=UTC)  # 01:00 on 1 January in Shanghai
    assert [p.action for p in plan_care(strategy, customer("basic"), TICKET, late_in_utc)] == [
        "coupon"
    ]


def test_the_readme_example_has_no_problem() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("key: after-repair\ntitle: After a repair\ntimezone:")
    document = yaml.safe_load(readme[start : readme.index("```", start)])
    strategy = CareStrategy.model_validate(document)
    assert strategy_problems(strategy) == []  # its calendar is checked on publish
    vip = plan_care(strategy, customer("vip"), TICKET, CLOSED_SUMMER)
    assert [p.action for p in vip] == ["supervisor_call", "survey", "warranty_offer"]
