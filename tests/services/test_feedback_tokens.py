"""Feedback tokens: the same for every process of one deployment, refused when forged."""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import SecretStr

from services.feedback_tokens import feedback_token, feedback_url, ticket_of_token
from ticketflow.settings import Settings


def test_a_token_names_its_ticket_and_is_the_same_on_every_issue(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    token = feedback_token(settings=settings, ticket_key="AS-000012")
    assert token == feedback_token(settings=Settings(data_dir=tmp_path), ticket_key="AS-000012")
    assert ticket_of_token(settings=settings, token=token) == "AS-000012"
    assert stat.S_IMODE((tmp_path / "signing.key").stat().st_mode) == 0o600


def test_forged_altered_and_foreign_tokens_name_no_ticket(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "a")
    token = feedback_token(settings=settings, ticket_key="AS-000012")
    other = feedback_token(settings=settings, ticket_key="AS-000013")
    spliced = token.split(".")[0] + "." + other.split(".")[1]
    foreign = feedback_token(settings=Settings(data_dir=tmp_path / "b"), ticket_key="AS-000012")
    for bad in [spliced, foreign, token[:-1], "", ".", "nodot", "%%%.abc", "x" * 600]:
        assert ticket_of_token(settings=settings, token=bad) is None, bad


def test_a_configured_key_signs_alike_in_any_data_dir_and_links_use_the_public_url(
    tmp_path: Path,
) -> None:
    one = Settings(data_dir=tmp_path / "a", signing_key=SecretStr("k" * 32))
    two = Settings(
        data_dir=tmp_path / "b", signing_key=SecretStr("k" * 32), public_url="https://t.example/"
    )
    token = feedback_token(settings=one, ticket_key="AS-1")
    assert ticket_of_token(settings=two, token=token) == "AS-1"
    assert feedback_url(settings=two, ticket_key="AS-1") == f"https://t.example/feedback/{token}"
    assert not (tmp_path / "a" / "signing.key").exists()
