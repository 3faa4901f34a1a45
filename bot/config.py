"""Configuration from the environment (and a `.env` file): one class per concern."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# An empty variable (TELEGRAM_WEBHOOK_URL=) means "not set", as a person writing .env means it.
_COMMON = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
)


def _split(value: object) -> object:
    """Accept "a,b c" as well as a JSON list for list settings."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return value


class DatabaseSettings(BaseSettings):
    model_config = _COMMON

    database_url: str = "sqlite:///wasl.db"


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON, env_prefix="TELEGRAM_")

    bot_token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    webhook_secret: SecretStr | None = None
    webhook_url: str | None = None  # set: `wasl run` registers the webhook instead of polling
    bot_username: str | None = None  # for printing invite links (t.me/<username>?start=CODE)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())


class WhatsAppSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON, env_prefix="WHATSAPP_")

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


class Settings:
    """Every concern's settings, read once."""

    def __init__(self) -> None:
        self.database = DatabaseSettings()
        self.telegram = TelegramSettings()
        self.whatsapp = WhatsAppSettings()
        self.wasl = WaslSettings()
