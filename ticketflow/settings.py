"""One settings object, read from TICKETFLOW_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = 1_000_000

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
