"""Random bodies, ids and query strings never produce a 500 or a non-problem error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["definition", "version", "data", "title", "key", "stages", "reason", "body", "schema"]
)
BODIES = JSON | st.dictionaries(FIELDS, JSON, max_size=5)
SEGMENTS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/?#%"),
    min_size=1,
    max_size=12,
)


def check(response: Any) -> None:
    """An error answer is a problem document below 500."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM


async def some_ticket(api: Api) -> str:
    """A ticket to aim at, made on first use for this test's stack."""
    if not api.scratch:
        await publish_incident(api)
        api.scratch["key"] = await create_ticket(api)
    return api.scratch["key"]


TARGETS = [
    ("/tickets", "rita"),
    ("/definitions", "owner"),
    ("/definitions/validate", "owner"),
    ("/definitions/graph", "owner"),
    ("/forms", "owner"),
    ("/tickets/{key}/comments", "dana"),
    ("/tickets/{key}/cancel", "dana"),
    ("/tickets/{key}/reopen", "rita"),
    ("/tickets/{key}/tasks/triage/complete", "dana"),
    ("/tickets/{key}/tasks/triage/reassign", "dana"),
    ("/tickets/{key}/signals/customer_reply", "monitor"),
]
QUERIES = st.dictionaries(
    st.sampled_from(["status", "limit", "cursor", "after", "group", "definition"]),
    st.text(max_size=30) | st.integers().map(str),
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(TARGETS), body=BODIES)
@example(target=("/tickets", "rita"), body={"definition": "incident", "data": {"n": 2**63}})
@example(target=("/tickets", "rita"), body={"definition": "incident", "version": 2**63})
@example(target=("/definitions", "owner"), body={"key": "x", "version": -(2**63) - 1})
async def test_random_bodies_never_yield_a_server_error(
    api: Api, target: tuple[str, str], body: Any
) -> None:
    path, user = target
    path = path.format(key=await some_ticket(api))
    check(await api.http.post(path, json=body, headers=api.auth(user)))


# JSON texts a client can send that Python's values cannot carry to the stores.
HOSTILE_VALUES = st.one_of(
    st.integers(min_value=2**63, max_value=10**4000).map(str),
    st.integers(min_value=-(10**4000), max_value=-(2**63) - 1).map(str),
    st.integers(min_value=4301, max_value=6000).map(lambda n: "9" * n),  # int() refuses these
    st.integers(min_value=0xD800, max_value=0xDFFF).map(lambda c: f'"\\u{c:04x}"'),
    st.integers(min_value=63, max_value=20_000).map(lambda d: "[" * d + "]" * d),
    st.integers(min_value=63, max_value=2_000).map(lambda d: "[" * d + '"\\u0000"' + "]" * d),
    st.sampled_from(["NaN", "Infinity", "-1e400"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(TARGETS), value=HOSTILE_VALUES, as_key=st.booleans())
@example(target=("/tickets", "rita"), value='"\\ud800"', as_key=False)
@example(target=("/tickets", "rita"), value="[" * 900 + "]" * 900, as_key=False)
@example(target=("/tickets", "rita"), value="9" * 4301, as_key=False)
@example(target=("/tickets", "rita"), value="[" * 900 + '"\\u0000"' + "]" * 900, as_key=False)
@example(target=("/forms", "owner"), value='"\\udfff"', as_key=True)
async def test_hostile_json_values_are_refused_with_a_problem(
    api: Api, target: tuple[str, str], value: str, as_key: bool
) -> None:
    path, user = target
    path = path.format(key=await some_ticket(api))
    inner = f"{{{value}: 1}}" if as_key and value.startswith('"') else value
    body = '{"definition": "incident", "data": {"title": "VPN down", "x": ' + inner + "}}"
    response = await api.http.post(
        path, content=body.encode(), headers={**api.auth(user), "Content-Type": "application/json"}
    )
    check(response)
    assert response.status_code in (413, 422), response.text


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(segment=SEGMENTS, query=QUERIES)
async def test_random_ids_and_queries_never_yield_a_server_error(
    api: Api, segment: str, query: dict[str, str]
) -> None:
    for path in (
        f"/tickets/{segment}",
        f"/tickets/{segment}/events",
        "/tickets",
        f"/definitions/{segment}",
        "/tasks",
    ):
        check(await api.http.get(path, params=query, headers=api.auth("dana")))
