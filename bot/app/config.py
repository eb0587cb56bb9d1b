"""Settings read from the environment, once, by the composition root (bot.app.cli)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.actions.rules import Pairs, parse_required
from bot.app.db import DEFAULT_POOL_SIZE
from bot.slack.admins import split_ids

DEFAULT_BASETEN_API_URL = "https://api.baseten.co"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """A missing or malformed setting; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Every environment variable in the README's configuration table; tokens are secrets and never printed."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    baseten_api_key: SecretStr
    baseten_api_url: str = DEFAULT_BASETEN_API_URL
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = "sqlite:///baseten-bot.db"
    database_pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=1000)
    poll_interval_seconds: float = Field(default=60.0, ge=1)
    hot_poll_seconds: float = Field(default=5.0, ge=1)  # a model with a deployment in motion (bot.polling.schedule)
    baseten_max_rps: float = Field(default=50.0, gt=0)
    admin_user_ids: str | None = None
    operator_user_ids: str | None = None
    lease_seconds: float = Field(default=20.0, ge=2, le=300)
    guard_seconds: float = Field(default=30.0, ge=1, le=3600)  # the promotion guard's period (bot.guard.job)
    guard_after_minutes: float = Field(default=15.0, ge=0, le=1440)  # a promotion's new current, compared after
    # replicas up with (almost) no requests this long are idle (bot.idle.job); Baseten's metrics reach 7 days
    idle_after_minutes: float = Field(default=120.0, gt=0, le=10080)
    # issue 26: who may acknowledge a failure, and a burst of notices to one channel sent as one message
    ack_operators_only: bool = False
    group_over: int = Field(default=5, ge=1, le=1000)
    # at most 5 minutes: a burst waiting holds its channel's later notices (promotion controls among them)
    group_wait_seconds: float = Field(default=10.0, ge=0, le=300)
    # issue 27: `verb:environment` pairs needing a second operator's approval, and how long a request lives
    approval_required: str | None = None
    approval_ttl_minutes: float = Field(default=30.0, gt=0, le=10080)
    retention_days: int = Field(default=30, ge=1, le=3650)  # older done rows are pruned (bot.store.retention)
    host: str = "0.0.0.0"  # noqa: S104 - a server inside a container listens on every interface
    port: int = Field(default=3000, ge=0, le=65535)
    log_level: str = "INFO"
    # tests only: a file holding seconds to add to the bot's clock, so an end-to-end test can move a
    # running process's time forward (bot.app.runtime.MovableClock); never set it in production
    bot_test_clock_file: str | None = None

    @field_validator("baseten_api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("baseten_api_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("admin_user_ids", "operator_user_ids")
    @classmethod
    def _admin_ids_shape(cls, value: str | None) -> str | None:
        split_ids(value or "")
        return value

    @field_validator("approval_required")
    @classmethod
    def _approval_pairs(cls, value: str | None) -> str | None:
        parse_required(value or "")
        return value

    @property
    def approvals(self) -> Pairs:
        """APPROVAL_REQUIRED's `verb:environment` pairs (bot.actions.rules); empty: none needs approval."""
        return parse_required(self.approval_required or "")

    @property
    def admin_ids(self) -> tuple[frozenset[str], frozenset[str]]:
        """Slack user ids and user group ids allowed to change subscriptions; both empty: everyone."""
        return split_ids(self.admin_user_ids or "")

    @property
    def operator_ids(self) -> tuple[frozenset[str], frozenset[str]]:
        """Slack user ids and user group ids allowed to act on deployments; both empty: nobody."""
        return split_ids(self.operator_user_ids or "")

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def require_serve(self) -> None:
        """Checks what `serve` needs beyond what every command needs."""
        if self.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN: required by `serve` (an xoxb- bot token)")
        if not self.socket_mode and self.slack_signing_secret is None:
            raise ConfigError("SLACK_SIGNING_SECRET: required in HTTP mode (set SLACK_APP_TOKEN for Socket Mode)")


def load_settings() -> Settings:
    """Reads the environment; raises ConfigError with one line naming the first bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        if first["type"] == "missing":
            raise ConfigError(f"{name}: required but not set") from None
        reason = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name}: {reason}") from None
