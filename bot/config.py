"""Configuration from the environment (and a `.env` file): one class per concern.

Each secret can also come from a file (a Docker or systemd secret): `NAME_FILE` names the file
that holds `NAME`'s value, e.g. TELEGRAM_BOT_TOKEN_FILE=/run/secrets/telegram_bot_token. When
both are set the file wins: the image sets DATABASE_URL to its SQLite file, and that default
must not hide the database a deployment names in DATABASE_URL_FILE. WASL_SECRET_KEY_FILE is a
setting of its own (below).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# An empty variable (TELEGRAM_WEBHOOK_URL=) means "not set", as a person writing .env means it.
_COMMON = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
)


class SecretFileError(ValueError):
    """A `NAME_FILE` variable names a file that cannot be read."""


class _SecretFiles(PydanticBaseSettingsSource):
    """The values of `fields` read from the files their `<VARIABLE>_FILE` names, looked up in
    the environment, then in `.env`. A trailing line break (as `echo` leaves) is dropped."""

    def __init__(self, settings_cls: type[BaseSettings], fields: tuple[str, ...]) -> None:
        super().__init__(settings_cls)
        self.fields = fields

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        prefix = self.config.get("env_prefix", "")
        env_file = self.config.get("env_file")
        dotenv: dict[str, str | None] = {}
        if isinstance(env_file, str) and Path(env_file).is_file():
            dotenv = dotenv_values(env_file)
        values: dict[str, Any] = {}
        for name in self.fields:
            variable = f"{prefix}{name}".upper() + "_FILE"
            path = os.environ.get(variable) or dotenv.get(variable)
            if not path:
                continue
            try:
                values[name] = Path(path).read_text("utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or "not UTF-8 text"
                raise SecretFileError(f"{variable}: cannot read {path} ({reason})") from error
        return values


class _Settings(BaseSettings):
    """Settings whose `secret_files` may also come from `<VARIABLE>_FILE`."""

    secret_files: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The files first: a NAME_FILE that is set wins over NAME (an image's default).
        files = _SecretFiles(settings_cls, cls.secret_files)
        return init_settings, files, env_settings, dotenv_settings, file_secret_settings


def _split(value: object) -> object:
    """Accept "a,b c" as well as a JSON list for list settings."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return value


class DatabaseSettings(_Settings):
    model_config = _COMMON
    secret_files = ("database_url",)

    database_url: str = "sqlite:///wasl.db"  # or DATABASE_URL_FILE (it may hold a password)


class TelegramSettings(_Settings):
    model_config = SettingsConfigDict(**_COMMON, env_prefix="TELEGRAM_")
    secret_files = ("bot_token", "webhook_secret")

    bot_token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    webhook_secret: SecretStr | None = None
    webhook_url: str | None = None  # set: `wasl run` registers the webhook instead of polling
    bot_username: str | None = None  # for printing invite links (t.me/<username>?start=CODE)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())


class WhatsAppSettings(_Settings):
    model_config = SettingsConfigDict(**_COMMON, env_prefix="WHATSAPP_")
    secret_files = ("access_token", "app_secret", "verify_token")

    access_token: SecretStr | None = None
    phone_number_id: str | None = None
    phone_number: str | None = None  # the number people write to, for wa.me invitation links
    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    api_base: str = "https://graph.facebook.com/v21.0"

    @property
    def enabled(self) -> bool:
        return self.access_token is not None and bool(self.phone_number_id)


class WaslSettings(BaseSettings):
    """Wasl's own behaviour."""

    model_config = SettingsConfigDict(**_COMMON, env_prefix="WASL_")

    default_locale: str = "en"
    admin_telegram_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    open_join: bool = False
    countries: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["IQ", "SY", "LB", "JO", "YE", "LY", "NG", "PK"]
    )
    approval_threshold: int = 200  # campaigns to more people need a second coordinator
    update_retention_days: int = 180  # raw update text is deleted after this
    min_cell: int = Field(default=5, ge=2)  # reports hide groups of fewer people than this
    # Updates a minute one person may send (per worker); beyond, one "please wait", then
    # silence until the minute is over. 0 turns the limit off.
    flood_per_minute: int = Field(default=20, ge=0)
    telegram_rate: int = 30  # broadcast messages per second (Telegram's bulk limit)
    # Most sends in flight; the worker keeps as few as the API's round trip needs to reach the
    # rate (one on a fast link). A crash may repeat the ones in flight, never more.
    delivery_concurrency: int = 8
    max_body: int = Field(default=1024 * 1024, ge=1024)  # bytes of a webhook body, else 413
    # /healthz fails when an inbox row waited this long (s) and none was processed meanwhile.
    inbox_stall: float = Field(default=60.0, gt=0)
    inbox_lease: float = Field(default=30.0, gt=0)  # s a worker holds a row; then it is retried
    public_url: str | None = None  # e.g. https://bot.example.org: links to the web dashboard
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    # "auto": key=value lines at a terminal, JSON lines otherwise; or "text", "json"
    log_format: Literal["auto", "text", "json"] = "auto"
    # The key every keyed hash derives from (`wasl secret generate`); kept outside the database.
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None  # or a file holding it (a Docker or systemd secret)

    def master_key(self) -> bytes | None:
        """The secret key's bytes from WASL_SECRET_KEY or WASL_SECRET_KEY_FILE; None when
        neither is set. Raises InvalidKey (naming the variable) when it is not a usable key."""
        from bot.core.keys import InvalidKey, decode

        if self.secret_key is not None:
            text, name = self.secret_key.get_secret_value(), "WASL_SECRET_KEY"
        elif self.secret_key_file is not None:
            name = "WASL_SECRET_KEY_FILE"
            try:
                text = self.secret_key_file.read_text("utf-8")
            except OSError as error:
                raise InvalidKey(f"{name}: cannot read the file ({error.strerror})") from error
        else:
            return None
        try:
            return decode(text)
        except InvalidKey as error:
            raise InvalidKey(f"{name}: {error} (make one with `wasl secret generate`)") from error

    @field_validator("admin_telegram_ids", "countries", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("countries")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [code.upper() for code in value]


def missing_secrets(settings: Settings, *, telegram_webhook: bool) -> list[str]:
    """The secrets a configured channel needs and does not have: it must not start without
    them (an empty WhatsApp app secret would let anyone sign a webhook)."""
    missing: list[str] = []
    if settings.whatsapp.enabled:
        for name, value in (
            ("WHATSAPP_APP_SECRET", settings.whatsapp.app_secret),
            ("WHATSAPP_VERIFY_TOKEN", settings.whatsapp.verify_token),
        ):
            if value is None or not value.get_secret_value():
                missing.append(name)
    secret = settings.telegram.webhook_secret
    if (
        telegram_webhook
        and settings.telegram.enabled
        and (secret is None or not secret.get_secret_value())
    ):
        missing.append("TELEGRAM_WEBHOOK_SECRET")
    return missing


def invalid_settings(error: ValidationError) -> list[str]:
    """One line per wrong setting, named as it is set (WASL_LOG_FORMAT), with what is wanted
    and, unless it may be a secret or hold one (a token, a key, a database URL), what was
    given: what a misconfigured deployment prints instead of a traceback."""
    kinds = (DatabaseSettings, TelegramSettings, WhatsAppSettings, WaslSettings)
    kind = next((k for k in kinds if k.__name__ == error.title), None)
    prefix = kind.model_config.get("env_prefix", "") if kind is not None else ""
    lines = []
    for problem in error.errors():
        field = "_".join(str(part) for part in problem["loc"])
        given = problem.get("input")
        private = kind is None or _may_hold_a_secret(kind, field)
        plain = isinstance(given, str | int | float) and not private
        lines.append(
            f"{(prefix + field).upper()}: {problem['msg']}"
            + (f" (given: {given!r})" if plain else "")
        )
    return lines


def _may_hold_a_secret(kind: type[BaseSettings], field: str) -> bool:
    info = kind.model_fields.get(field)
    return info is None or "SecretStr" in str(info.annotation) or field.endswith(("url", "key"))


class Settings:
    """Every concern's settings, read once."""

    def __init__(self) -> None:
        self.database = DatabaseSettings()
        self.telegram = TelegramSettings()
        self.whatsapp = WhatsAppSettings()
        self.wasl = WaslSettings()
