"""One settings object: flags, then TICKETFLOW_* variables, then the dev stack's state file."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from limits import parse
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.customers import band_problems
from domain.outbound import parse_allowed_host

STATE_FILE = "stack.json"


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
    # Uploaded deliverables stream past max_body_bytes to the artifact store, up to their
    # contract's max_bytes and never beyond this.
    max_artifact_bytes: int = 1024 * 1024 * 1024
    # Where artifacts are kept (content-addressed); default: `artifacts` in the data dir.
    artifacts_dir: Path | None = None
    # Invalid bearer tokens one client address may send before it is refused (429) for the
    # rest of the window; a `limits` rate string ("20/minute", "100/hour").
    auth_failure_limit: str = "20/minute"
    # The hosts `http.request` may call, `host` or `host:port` (comma-separated in the
    # environment); a host listed without a port is allowed on its scheme's default port only.
    http_allowed_hosts: Annotated[list[str], NoDecode] = []
    # The endpoint hosts each site's devices may have (TICKETFLOW_DEVICE_HOSTS, as JSON): a
    # device registered with any other host is refused.
    device_hosts: dict[str, list[str]] = {"local": ["127.0.0.1", "localhost"]}
    # How long `POST /devices/{id}/snapshot` waits for its workflow before answering 504: by
    # default a little longer than the workflow's longest run (domain.device_snapshot's
    # SNAPSHOT_LONGEST, 38 s; a test holds the two together), so it comes back in time.
    snapshot_wait_seconds: float = Field(default=45.0, gt=0)
    # The department whose agents care for customers: customers are in its policy domain.
    care_department: str = "customer-care"
    # Who confirms or declines an expedite the customer's sentiment proposes, and gets the
    # task when it is confirmed; and how sure the model must be of anger or anxiety.
    sentiment_supervisor_group: str = "care-supervisors"
    sentiment_expedite_threshold: float = Field(default=0.5, ge=0, le=1)
    # A customer given no tier gets the highest tier whose lowest lifetime value theirs reaches
    # (TICKETFLOW_TIER_BANDS, as JSON).
    tier_bands: dict[str, float] = {"vip": 10_000.0, "standard": 1_000.0, "basic": 0.0}
    # The process definition an alarm files its ticket on, by device model
    # (TICKETFLOW_ALARM_DEFINITIONS, as JSON); a model not listed files on `alarm_definition`.
    alarm_definitions: dict[str, str] = {}
    alarm_definition: str = "device-alarm"
    # How often an edge worker reads its site's registry again (a new device is watched then).
    edge_refresh_seconds: float = Field(default=30.0, gt=0)
    # The key that signs links sent to customers (feedback tokens); by default a random key
    # kept in the data dir's `signing.key`, created on first use.
    signing_key: SecretStr | None = None
    # The API's address as customers reach it, for links in messages; default: api_host:api_port.
    public_url: str | None = None

    @field_validator("auth_failure_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse(value)  # a ValueError here names the bad setting at startup
        return value

    @field_validator("tier_bands")
    @classmethod
    def _bands(cls, value: dict[str, float]) -> dict[str, float]:
        problems = band_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("http_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        return value

    @field_validator("http_allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_allowed_host(entry)  # a ValueError here names the bad entry at startup
        return value

    @property
    def effective_artifacts_dir(self) -> Path:
        """Where the artifact store keeps its files."""
        return self.artifacts_dir or self.data_dir / "artifacts"

    @property
    def effective_public_url(self) -> str:
        """The base of links sent outside, without a trailing slash."""
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ticketflow.db').resolve()}"


class StackState(BaseModel):
    """What a running `ticketflow dev` tells the CLI about itself (`stack.json` in the data dir)."""

    database_url: str
    temporal_address: str
    temporal_namespace: str
    task_queue: str
    api_url: str
    pid: int


def state_path(data_dir: Path) -> Path:
    """Where the dev stack of `data_dir` writes its state file."""
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> StackState | None:
    """The state file of `data_dir`, or None when there is none (or it is unreadable)."""
    try:
        return StackState.model_validate_json(state_path(data_dir).read_bytes())
    except (OSError, ValidationError):
        return None


def write_state(data_dir: Path, state: StackState) -> None:
    """Write the state file atomically, so a concurrent reader never sees half of it."""
    target = state_path(data_dir)
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(state.model_dump(), indent=2) + "\n")
    partial.replace(target)


def load_settings(**flags: Any) -> Settings:
    """Settings by precedence: explicit flags, TICKETFLOW_* variables, the state file, defaults."""
    given = {name: value for name, value in flags.items() if value is not None}
    settings = Settings(**given)
    state = read_state(settings.data_dir)
    if state is None:
        return settings
    # Set fields came from a flag or the environment; the state file fills only the rest.
    from_state = {
        name: value
        for name, value in state.model_dump().items()
        if name in Settings.model_fields and name not in settings.model_fields_set
    }
    return settings.model_copy(update=from_state)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
