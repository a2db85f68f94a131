"""One settings object, read from TICKETFLOW_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from limits import parse
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings; every process (API, worker, dev stack) reads the same ones."""

    model_config = SettingsConfigDict(env_prefix="TICKETFLOW_", extra="ignore")

    data_dir: Path = Path(".ticketflow")
    database_url: str | None = None
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    task_queue: str = "tickets"
    training_task_queue: str = "training"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = 1_000_000
    # Invalid bearer tokens one client address may send before it is refused (429) for the
    # rest of the window; a `limits` rate string ("20/minute", "100/hour").
    auth_failure_limit: str = "20/minute"

    @field_validator("auth_failure_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse(value)  # a ValueError here names the bad setting at startup
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ticketflow.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
