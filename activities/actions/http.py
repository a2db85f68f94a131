"""`http.request`: an outbound HTTP call to an allow-listed host; chosen JSON fields as output.

Where a call may go is checked three times: the URL as written against the allow-list, every
request httpx sends (redirects included) against the allow-list, and every address the host
name resolves to, at connect time, against link-local and metadata addresses (so a listed name
that resolves, or is re-pointed, to 169.254.169.254 is refused). The connection goes to the
address that was checked, not to a second resolution.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from jsonpointer import JsonPointerException, resolve_pointer
from temporalio import activity

from activities.actions.errors import checked_params, failed, refused, unavailable
from domain.action_values import output_problems
from domain.actions import HTTP_REQUEST, ActionInput, ActionOutput, action_activity
from domain.outbound import address_refusal, header_refusals, host_refusal, url_refusal

log = logging.getLogger("ticketflow.actions.http")

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
# The request gives up before the attempt's start-to-close timeout does, so the failure says
# what timed out instead of being a bare activity timeout.
BUDGET_SHARE = 0.8
# When the activity runs with no start-to-close timeout.
DEFAULT_BUDGET = timedelta(seconds=30)
# The longest Retry-After (429/503) honoured; a longer wait is the stage's retry policy's call.
MAX_RETRY_AFTER = timedelta(minutes=1)
# Statuses that say "later": everything else outside 2xx is an answer retrying will not change.
RETRYABLE_STATUSES = frozenset({408, 429})

# Host, port -> the IP addresses to try, in order.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Refused(Exception):
    """A call the allow-list or the address rules do not admit."""


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses that pass `address_refusal`, resolved once and connected to."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A stream to the first reachable address of `host`, if none of them is refused."""
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        for address in addresses:
            refusal = address_refusal(address)
            if refusal is not None:
                raise Refused(f"{host} resolves to {refusal}")
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} resolves to no address")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the inner backend's event loop."""
        await self._inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, connecting through `CheckedBackend`, with no proxy and no retries."""

    def __init__(self, resolver: Resolver) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx takes no network backend, so its pool is replaced by one that has ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=CheckedBackend(resolver),
            max_connections=4,
        )


class HttpRequestAction:
    """Holds the allow-list and the resolver; one client per call, closed when it returns."""

    def __init__(
        self,
        allowed_hosts: Sequence[str],
        *,
        resolver: Resolver = resolve,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._allowed = tuple(allowed_hosts)
        self._resolver = resolver
        self._max_bytes = max_response_bytes

    @activity.defn(name=action_activity(HTTP_REQUEST.name))
    async def request(self, call: ActionInput) -> ActionOutput:
        """Send the stage's request; output its status and the selected fields of its JSON."""
        params = checked_params(HTTP_REQUEST, call.params)
        url: str = params["url"]
        method: str = params.get("method", "GET")
        headers: dict[str, str] = params.get("headers", {})
        select: dict[str, str] = params.get("select", {})
        self._check(url, headers, select)
        budget = _budget(activity.info().start_to_close_timeout)
        shown = _shown(url)
        log.info(
            "http.request %s %s for %s stage %s (attempt %d)",
            method,
            shown,
            call.ticket_key,
            call.stage,
            activity.info().attempt,
        )
        try:
            async with (
                asyncio.timeout(budget.total_seconds()),
                httpx.AsyncClient(
                    transport=CheckedTransport(self._resolver),
                    follow_redirects=True,
                    max_redirects=MAX_REDIRECTS,
                    timeout=budget.total_seconds(),
                    trust_env=False,
                    event_hooks={"request": [self._check_request]},
                ) as client,
                client.stream(
                    method,
                    url,
                    params=params.get("query"),
                    # Identity only: a compressed body would be inflated before the size bound.
                    headers={**headers, "Accept-Encoding": "identity"},
                    json=params.get("body"),
                ) as response,
            ):
                _check_status(response, method, shown)
                document = await self._read_json(response, shown) if select else None
        except Refused as exc:
            raise refused(str(exc)) from None
        except (TimeoutError, httpx.TimeoutException):
            raise unavailable(f"{method} {shown} did not answer within {budget}") from None
        except httpx.TooManyRedirects:
            raise failed(f"{method} {shown} redirected more than {MAX_REDIRECTS} times") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise refused(f"{method} {shown}: {exc}") from None
        except httpx.TransportError as exc:
            raise unavailable(f"{method} {shown}: {type(exc).__name__}: {exc}") from None
        log.info("http.request %s %s answered %d", method, shown, response.status_code)
        output = {"status": response.status_code, **_selected(document, select, shown)}
        problems = output_problems(output)
        if problems:
            raise failed(f"{method} {shown}: the selected output is unfit: {problems[0].detail}")
        return ActionOutput(output=output)

    def _check(self, url: str, headers: dict[str, str], select: dict[str, str]) -> None:
        refusal = url_refusal(url, self._allowed)
        if refusal is not None:
            raise refused(f"http.request to {_shown(url)} refused: {refusal}")
        forbidden = header_refusals(headers)
        if forbidden:
            raise refused(f"http.request may not set the headers {', '.join(sorted(forbidden))}")
        if "status" in select:
            raise refused("select may not name an output `status`: it holds the response status")

    async def _check_request(self, request: httpx.Request) -> None:
        # Every request httpx sends passes here, the redirects it follows included, parsed the
        # way httpx will connect (the URL check above parsed the text with urllib).
        url = request.url
        refusal = host_refusal(url.scheme, url.raw_host.decode("ascii"), url.port, self._allowed)
        if refusal is not None:
            raise Refused(f"{request.method} {_shown(str(url))} refused: {refusal}")

    async def _read_json(self, response: httpx.Response, shown: str) -> Any:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise _too_large(shown, self._max_bytes)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self._max_bytes:
                raise _too_large(shown, self._max_bytes)
            activity.heartbeat()
        try:
            return json.loads(body)
        except ValueError:
            content_type = response.headers.get("Content-Type", "no content type")
            raise failed(
                f"{shown} answered {content_type}, not JSON, and `select` needs JSON"
            ) from None


def _check_status(response: httpx.Response, method: str, shown: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    answer = f"{method} {shown} answered {status} {response.reason_phrase}".rstrip()
    if status >= 500 or status in RETRYABLE_STATUSES:
        raise unavailable(answer, retry_after=_retry_after(response))
    raise failed(answer, status=status)


def _retry_after(response: httpx.Response) -> timedelta | None:
    # Only the delay-seconds form: an HTTP date would need the wall clock of a server we
    # do not trust to agree with ours.
    value = response.headers.get("Retry-After", "")
    if not value.isdigit():
        return None
    return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)


def _selected(document: Any, select: dict[str, str], shown: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    missing: list[str] = []
    for field, path in select.items():
        try:
            values[field] = resolve_pointer(document, path)
        except JsonPointerException:
            missing.append(f"{field} ({path})")
    if missing:
        raise failed(f"the response of {shown} has nothing at {', '.join(missing)}")
    return values


def _too_large(shown: str, limit: int) -> Exception:
    return failed(f"the response of {shown} is larger than {limit} bytes")


def _budget(start_to_close: timedelta | None) -> timedelta:
    if start_to_close is None:
        return DEFAULT_BUDGET
    return start_to_close * BUDGET_SHARE


def _shown(url: str) -> str:
    # The origin only: user info, a query string and even a path (webhook URLs) may carry a
    # credential, and this text goes to the logs and the ticket's timeline. The definition
    # has the whole URL.
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an invalid URL"
    shown = f"[{host}]" if host and ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


@cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle is the slow part of a client; one context serves every call.
    return httpx.create_ssl_context(trust_env=False)
