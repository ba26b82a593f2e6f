"""Slack settings from the environment (pydantic-settings). A missing or malformed one is a
:class:`~bot.errors.ConfigError` in one line naming the variable, never its value; tokens are
``SecretStr`` so they never show in a repr or a log line."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.slack_bot import manifest as slack_manifest
from bot.errors import ConfigError
from bot.registry import REGISTRY

DEFAULT_API_URL = "https://slack.com/api/"


class SlackSettings(BaseSettings):
    """Read from the environment; errors name the variable, never its value (see :func:`load_settings`)."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    slack_bot_token: SecretStr
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = DEFAULT_API_URL
    careerbot_command_prefix: str = ""

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().strip().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return SecretStr(v.get_secret_value().strip())

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().strip().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (Socket Mode)")
        return SecretStr(v.get_secret_value().strip()) if v is not None else None

    @field_validator("slack_signing_secret")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and (not v.get_secret_value().strip() or any(c.isspace() for c in v.get_secret_value())):
            raise ValueError("must be the app's signing secret, without spaces")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v.strip()):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return v.strip().rstrip("/") + "/"

    @field_validator("careerbot_command_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        try:
            return slack_manifest.check_prefix(v.strip(), REGISTRY)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix(f"{slack_manifest.PREFIX_VARIABLE} ")) from None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(variable, what is wrong with it) for each setting pydantic refused; never the value."""
    found = []
    for err in exc.errors():
        name = str(err["loc"][0]).upper() if err["loc"] else "a Slack setting"
        reason = "is not set" if err["type"] == "missing" else str(err["msg"]).removeprefix("Value error, ")
        found.append((name, reason))
    return found


def load_settings(**overrides: Any) -> SlackSettings:
    """Settings from the environment (``overrides`` win); :class:`ConfigError` in one line otherwise."""
    try:
        settings = SlackSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError("; ".join(f"{name} {reason}" for name, reason in problems(exc))) from None
    if not settings.socket_mode and settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set (HTTP mode needs it; or set SLACK_APP_TOKEN for Socket Mode)"
        )
    return settings
