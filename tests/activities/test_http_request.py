"""`http.request` run directly in an ActivityEnvironment against a real loopback HTTP server."""

from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.actions.http import HttpRequestAction, Resolver, resolve
from domain.action_failures import FAILED, REFUSED, UNAVAILABLE
from domain.actions import ActionInput
from tests.activities.endpoint import DOCUMENT, Endpoint


def environment(timeout: timedelta = timedelta(seconds=10)) -> ActivityEnvironment:
    """An activity environment whose attempt has `timeout` to run."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, start_to_close_timeout=timeout)
    return env


async def run(
    allowed: list[str],
    params: dict[str, Any],
    *,
    resolver: Resolver = resolve,
    timeout: timedelta = timedelta(seconds=10),  # noqa: ASYNC109 (the attempt's, for the action)
    max_response_bytes: int = 1024 * 1024,
) -> dict[str, Any]:
    """The output of one http.request with these parameters under this allow-list."""
    action = HttpRequestAction(allowed, resolver=resolver, max_response_bytes=max_response_bytes)
    call = ActionInput(ticket_key="T-1", stage="call", action="http.request", params=params)
    result = await environment(timeout).run(action.request, call)
    return result.output


async def refusal(allowed: list[str], params: dict[str, Any], **options: Any) -> ApplicationError:
    """The ApplicationError the call raises (the test fails if it succeeds)."""
    with pytest.raises(ApplicationError) as raised:
        await run(allowed, params, **options)
    return raised.value


def pinned(names: dict[str, list[str]]) -> Resolver:
    """A resolver answering `names` from the table and every other name from the system."""

    async def lookup(host: str, port: int) -> list[str]:
        return names[host] if host in names else await resolve(host, port)

    return lookup


async def test_select_takes_fields_by_json_pointer(endpoint: Endpoint) -> None:
    select = {
        "order_id": "/order/id",
        "first_sku": "/order/lines/0/sku",
        "lines": "/order/lines",
        "slashed": "/a~1b",
        "tilded": "/m~0n",
        "everything": "",
    }
    output = await run([endpoint.allowed], {"url": endpoint.url("/document"), "select": select})
    assert output == {
        "status": 200,
        "order_id": 7,
        "first_sku": "A-1",
        "lines": DOCUMENT["order"]["lines"],  # type: ignore[index]
        "slashed": "slash",
        "tilded": "tilde",
        "everything": DOCUMENT,
    }


async def test_method_query_headers_and_json_body_are_sent(endpoint: Endpoint) -> None:
    params = {
        "method": "POST",
        "url": endpoint.url("/echo"),
        "query": {"q": "pump 7", "page": "2"},
        "headers": {"X-Token": "s3cret"},
        "body": {"ticket": "T-1", "lines": [1, 2]},
        "select": {"sent": ""},
    }
    sent = (await run([endpoint.allowed], params))["sent"]
    assert sent["method"] == "POST"
    assert sent["query"] == {"q": "pump 7", "page": "2"}
    assert sent["json"] == {"ticket": "T-1", "lines": [1, 2]}
    assert sent["token"] == "s3cret"
    assert sent["accept_encoding"] == "identity"


async def test_without_select_the_output_is_the_status_and_the_body_is_not_read(
    endpoint: Endpoint,
) -> None:
    output = await run([endpoint.allowed], {"url": endpoint.url("/text")})
    assert output == {"status": 200}


async def test_a_missing_pointer_fails_naming_it(endpoint: Endpoint) -> None:
    params = {"url": endpoint.url("/document"), "select": {"id": "/order/id", "x": "/order/nope"}}
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert "x (/order/nope)" in error.message
    assert "id (" not in error.message


async def test_a_response_that_is_not_json_fails_when_select_needs_it(endpoint: Endpoint) -> None:
    error = await refusal([endpoint.allowed], {"url": endpoint.url("/text"), "select": {"a": ""}})
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert "not JSON" in error.message


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
async def test_a_4xx_fails_for_good(endpoint: Endpoint, code: int) -> None:
    error = await refusal([endpoint.allowed], {"url": endpoint.url(f"/status/{code}")})
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert f"answered {code}" in error.message
    assert error.details == ({"status": code},)


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503])
async def test_408_429_and_5xx_are_retryable(endpoint: Endpoint, code: int) -> None:
    error = await refusal([endpoint.allowed], {"url": endpoint.url(f"/status/{code}")})
    assert (error.type, error.non_retryable) == (UNAVAILABLE, False)
    assert error.next_retry_delay is None


async def test_retry_after_sets_the_next_retry_delay_within_a_bound(endpoint: Endpoint) -> None:
    error = await refusal([endpoint.allowed], {"url": endpoint.url("/status/429?retry_after=7")})
    assert error.next_retry_delay == timedelta(seconds=7)
    error = await refusal([endpoint.allowed], {"url": endpoint.url("/status/503?retry_after=9999")})
    assert error.next_retry_delay == timedelta(minutes=1)


async def test_a_host_not_on_the_allow_list_is_refused_before_any_request(
    endpoint: Endpoint,
) -> None:
    url = endpoint.url("/echo?unlisted=1")
    before = endpoint.hits["/echo"]
    error = await refusal([f"{endpoint.host}:{endpoint.port + 1}", "crm.example.com"], {"url": url})
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert "not on the allowed hosts" in error.message
    # The message shows the origin only: a query may carry a credential.
    assert "unlisted" not in error.message
    assert endpoint.hits["/echo"] == before


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/x", "file:///etc/passwd", "http://user:pw@127.0.0.1/", "not a url"],
)
async def test_other_schemes_credentials_and_junk_urls_are_refused(url: str) -> None:
    error = await refusal(["127.0.0.1"], {"url": url})
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert "pw" not in error.message


async def test_a_redirect_to_an_allowed_host_is_followed(endpoint: Endpoint) -> None:
    params = {"url": endpoint.url("/redirect?to=/document"), "select": {"id": "/order/id"}}
    assert await run([endpoint.allowed], params) == {"status": 200, "id": 7}


async def test_a_redirect_to_another_host_is_refused(endpoint: Endpoint) -> None:
    elsewhere = f"http://localhost:{endpoint.port}/echo"
    params = {"url": endpoint.url(f"/redirect?to={elsewhere}")}
    before = endpoint.hits["/echo"]
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert f"localhost:{endpoint.port} is not on the allowed hosts" in error.message
    assert endpoint.hits["/echo"] == before


async def test_endless_redirects_fail(endpoint: Endpoint) -> None:
    error = await refusal([endpoint.allowed], {"url": endpoint.url("/loop")})
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert "redirected more than" in error.message


async def test_a_body_declared_larger_than_the_bound_is_refused(endpoint: Endpoint) -> None:
    params = {"url": endpoint.url("/big?bytes=5000"), "select": {"b": "/blob"}}
    assert (await run([endpoint.allowed], params, max_response_bytes=6000))["b"] == "x" * 5000
    error = await refusal([endpoint.allowed], params, max_response_bytes=4000)
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert "larger than 4000 bytes" in error.message


async def test_a_streamed_body_over_the_bound_is_cut_off(endpoint: Endpoint) -> None:
    # 24 chunks of 64 KiB with no Content-Length: over the default 1 MiB only once read.
    params = {"url": endpoint.url("/stream?chunks=24"), "select": {"b": "/blob"}}
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert f"larger than {1024 * 1024} bytes" in error.message


async def test_selected_output_over_its_bound_fails(endpoint: Endpoint) -> None:
    params = {"url": endpoint.url("/big?bytes=100000"), "select": {"b": "/blob"}}
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (FAILED, True)
    assert "selected output is unfit" in error.message


async def test_a_slow_answer_is_a_retryable_timeout_within_the_attempt(endpoint: Endpoint) -> None:
    # The attempt has 1 s, so the request gives up at 0.8 s, before Temporal's timeout would.
    params = {"url": endpoint.url("/slow/direct?delay=3")}
    error = await refusal([endpoint.allowed], params, timeout=timedelta(seconds=1))
    assert (error.type, error.non_retryable) == (UNAVAILABLE, False)
    assert "did not answer within" in error.message


async def test_a_closed_port_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # Bound but not listening: connecting is refused while the port stays ours.
        error = await refusal([f"127.0.0.1:{port}"], {"url": f"http://127.0.0.1:{port}/"})
    assert (error.type, error.non_retryable) == (UNAVAILABLE, False)
    assert "ConnectError" in error.message


async def test_a_listed_link_local_address_is_refused() -> None:
    url = "http://169.254.169.254/latest/meta-data/"
    error = await refusal(["169.254.169.254"], {"url": url})
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert "link-local" in error.message


@pytest.mark.parametrize(
    "addresses", [["169.254.169.254"], ["127.0.0.1", "169.254.169.254"], ["fd00:ec2::254"]]
)
async def test_a_listed_name_resolving_to_a_metadata_address_is_refused(
    endpoint: Endpoint, addresses: list[str]
) -> None:
    resolver = pinned({"crm.test": addresses})
    url = f"http://crm.test:{endpoint.port}/echo"
    before = endpoint.hits["/echo"]
    error = await refusal([f"crm.test:{endpoint.port}"], {"url": url}, resolver=resolver)
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert "crm.test resolves to" in error.message
    assert endpoint.hits["/echo"] == before


async def test_the_connection_goes_to_the_checked_address_with_the_listed_name(
    endpoint: Endpoint,
) -> None:
    resolver = pinned({"crm.test": ["127.0.0.1"]})
    params = {"url": f"http://crm.test:{endpoint.port}/echo", "select": {"host": "/host"}}
    output = await run([f"crm.test:{endpoint.port}"], params, resolver=resolver)
    assert output == {"status": 200, "host": f"crm.test:{endpoint.port}"}


async def test_proxy_variables_are_ignored(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    params = {"url": endpoint.url("/document"), "select": {"id": "/order/id"}}
    assert await run([endpoint.allowed], params) == {"status": 200, "id": 7}


@pytest.mark.parametrize(
    "header", ["Host", "content-length", "Transfer-Encoding", "Connection", "Accept-Encoding"]
)
async def test_headers_that_reroute_or_reframe_the_request_are_refused(
    endpoint: Endpoint, header: str
) -> None:
    params = {"url": endpoint.url("/echo"), "headers": {header: "x"}}
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert header in error.message


async def test_select_may_not_shadow_the_status(endpoint: Endpoint) -> None:
    params = {"url": endpoint.url("/document"), "select": {"status": "/order/id"}}
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (REFUSED, True)


async def test_parameters_off_the_schema_are_refused_without_echoing_values(
    endpoint: Endpoint,
) -> None:
    params = {"url": endpoint.url("/echo"), "headers": {"X-Token": 12345}, "verb": "GET"}
    error = await refusal([endpoint.allowed], params)
    assert (error.type, error.non_retryable) == (REFUSED, True)
    pointers = {problem["pointer"] for problem in error.details[0]}
    assert pointers == {"", "/headers/X-Token"}
    assert "12345" not in error.message
