"""Settings read from TICKETFLOW_* variables."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from domain.device_snapshot import SNAPSHOT_LONGEST
from ticketflow.settings import Settings


def test_allowed_hosts_parse_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKETFLOW_HTTP_ALLOWED_HOSTS", " crm.example.com, 127.0.0.1:8080,,[::1]:9")
    assert Settings().http_allowed_hosts == ["crm.example.com", "127.0.0.1:8080", "[::1]:9"]


def test_no_allowed_hosts_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETFLOW_HTTP_ALLOWED_HOSTS", raising=False)
    assert Settings().http_allowed_hosts == []


def test_an_allowed_host_that_is_a_url_is_an_error_at_startup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKETFLOW_HTTP_ALLOWED_HOSTS", "crm.example.com,https://api.example.com/")
    with pytest.raises(ValidationError, match=re.escape("https://api.example.com/")):
        Settings()


def test_device_hosts_default_to_the_local_site_and_parse_from_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TICKETFLOW_DEVICE_HOSTS", raising=False)
    assert Settings().device_hosts == {"local": ["127.0.0.1", "localhost"]}
    monkeypatch.setenv("TICKETFLOW_DEVICE_HOSTS", '{"plant-a": ["10.0.0.5"]}')
    assert Settings().device_hosts == {"plant-a": ["10.0.0.5"]}


def test_the_snapshot_wait_outlasts_the_snapshot_workflow_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TICKETFLOW_SNAPSHOT_WAIT_SECONDS", raising=False)
    assert Settings().snapshot_wait_seconds > SNAPSHOT_LONGEST.total_seconds()
    monkeypatch.setenv("TICKETFLOW_SNAPSHOT_WAIT_SECONDS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_a_git_webhook_secret_too_short_to_be_one_is_an_error_at_startup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().git_webhook_secret is None
    monkeypatch.setenv("TICKETFLOW_GIT_WEBHOOK_SECRET", "hunter2")
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings()
    monkeypatch.setenv("TICKETFLOW_GIT_WEBHOOK_SECRET", "a" * 16)
    secret = Settings().git_webhook_secret
    assert secret is not None
    assert secret.get_secret_value() == "a" * 16
    assert "a" * 16 not in repr(Settings())


def test_the_ticket_workers_workflow_cache_is_set_by_a_variable_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TICKETFLOW_WORKER_CACHED_WORKFLOWS", raising=False)
    assert Settings().worker_cached_workflows == 1000  # the SDK's own default
    monkeypatch.setenv("TICKETFLOW_WORKER_CACHED_WORKFLOWS", "25000")
    assert Settings().worker_cached_workflows == 25000
    monkeypatch.setenv("TICKETFLOW_WORKER_CACHED_WORKFLOWS", "0")
    with pytest.raises(ValidationError, match="worker_cached_workflows"):
        Settings()
