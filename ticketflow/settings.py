"""One settings object: flags, then TICKETFLOW_* variables, then the dev stack's state file."""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from limits import parse
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.customers import band_problems
from domain.outbound import parse_allowed_host, url_refusal

STATE_FILE = "stack.json"
# A shared secret short enough to guess is no authentication.
MIN_WEBHOOK_SECRET = 16
# AES-GCM takes 128-, 192- and 256-bit keys.
PAYLOAD_KEY_BYTES = (16, 24, 32)
PAYLOAD_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Settings(BaseSettings):
    """Deployment settings; every process (API, worker, dev stack) reads the same ones."""

    # Inputs stay out of error messages: a bad setting may be a secret (a payload key).
    model_config = SettingsConfigDict(
        env_prefix="TICKETFLOW_", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Path(".ticketflow")
    database_url: str | None = None
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    task_queue: str = "tickets"
    training_task_queue: str = "training"
    # Workflows the ticket worker keeps in memory between their tasks. One that is evicted
    # (the least recently used, once there are more) is replayed from its whole history, in a
    # new sandbox, when its next timer or activity comes back: after a burst of closings, each
    # care workflow and each recurrence watch is one entry.
    worker_cached_workflows: int = Field(default=1000, ge=1, le=1_000_000)
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
    # Invalid feedback links (POST /feedback/{token}) one client address may send, likewise.
    feedback_failure_limit: str = "20/minute"
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
    # How long `ticketflow dev` waits for the Temporal dev server, then for the API, to come
    # up before giving up; a busy machine importing five processes at once may need more.
    dev_startup_seconds: float = Field(default=60.0, gt=0)
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
    # The secret git servers sign webhook deliveries with (GitHub's HMAC key, GitLab's token);
    # without one, `POST /integrations/git/webhook` refuses every delivery.
    git_webhook_secret: SecretStr | None = None
    # Where care actions are posted (a webhook into the CRM or messaging system); its host must
    # be on http_allowed_hosts. Without it, each action is recorded with no channel.
    care_webhook_url: str | None = None
    # The account the care channel reads customers as: the policy decides which customer
    # fields a posted action carries (none but what is granted to it).
    care_channel_user: str = "care-channel"
    # How long a `confirm` care action waits for a person before it lapses.
    care_confirm_hours: float = Field(default=48.0, gt=0, le=24 * 365)
    # How long one event is retried for a subscription before the subscription is paused,
    # and the longest wait between two attempts (the backoff doubles from one second).
    subscription_retry_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    subscription_max_backoff_seconds: float = Field(default=300.0, ge=1, le=24 * 3600)
    # Payload encryption at rest (TICKETFLOW_PAYLOAD_KEYS, as JSON {key id: base64 key}):
    # every key decrypts the payloads written under it; `payload_key_id` names the one that
    # encrypts new payloads. No keys: payloads are stored as plain JSON (the dev default).
    payload_keys: dict[str, SecretStr] = {}
    payload_key_id: str | None = None
    # Browser origins (the Temporal Web UI's, `scheme://host[:port]`, comma-separated) that may
    # call the codec endpoints across origins; none by default, and only /codec/* ever answers.
    codec_cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("auth_failure_limit", "feedback_failure_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse(value)  # a ValueError here names the bad setting at startup
        return value

    @field_validator("git_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_WEBHOOK_SECRET:
            raise ValueError(
                f"the git webhook secret needs at least {MIN_WEBHOOK_SECRET} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("tier_bands")
    @classmethod
    def _bands(cls, value: dict[str, float]) -> dict[str, float]:
        problems = band_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key_id, secret in value.items():
            if not PAYLOAD_KEY_ID.fullmatch(key_id):
                raise ValueError(
                    f"payload key id {key_id!r}: letters, digits, '.', '_' and '-', at most 64"
                )
            try:
                size = len(base64.b64decode(secret.get_secret_value(), validate=True))
            except (binascii.Error, ValueError):
                raise ValueError(f"payload key {key_id!r} is not base64") from None
            if size not in PAYLOAD_KEY_BYTES:
                raise ValueError(
                    f"payload key {key_id!r} has {size} bytes; AES-GCM needs 16, 24 or 32 "
                    "(e.g. `openssl rand -base64 32`)"
                )
        return value

    @field_validator("http_allowed_hosts", "codec_cors_origins", mode="before")
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

    @field_validator("codec_cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(
                    f"codec CORS origin {origin!r} is not an origin like https://temporal-ui:8080"
                )
        return value

    @model_validator(mode="after")
    def _payload_key_id(self) -> Settings:
        if self.payload_key_id is None and self.payload_keys:
            raise ValueError("payload_keys given: set payload_key_id to the key that encrypts")
        if self.payload_key_id is not None and self.payload_key_id not in self.payload_keys:
            raise ValueError(f"payload_key_id {self.payload_key_id!r} is not in payload_keys")
        return self

    @model_validator(mode="after")
    def _care_webhook(self) -> Settings:
        if self.care_webhook_url is not None:
            refusal = url_refusal(self.care_webhook_url, self.http_allowed_hosts)
            if refusal is not None:
                raise ValueError(f"care_webhook_url: {refusal}")
        return self

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
