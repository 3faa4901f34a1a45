"""Secrets from files (`NAME_FILE`, as Docker and systemd secrets are mounted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot import cli
from bot.config import SecretFileError, Settings, TelegramSettings, invalid_settings

NAMES = (
    "DATABASE_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
)


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    return tmp_path


def _secret(folder: Path, name: str, value: str) -> str:
    path = folder / name.lower()
    path.write_text(value, "utf-8")
    return str(path)


def test_every_secret_comes_from_its_file(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        # `echo value > file` leaves a line break: it is not part of the secret.
        monkeypatch.setenv(f"{name}_FILE", _secret(clean, name, f"{name.lower()}-value\n"))
    settings = Settings()
    assert settings.database.database_url == "database_url-value"
    telegram, whatsapp = settings.telegram, settings.whatsapp
    assert telegram.bot_token is not None and telegram.webhook_secret is not None
    assert telegram.bot_token.get_secret_value() == "telegram_bot_token-value"
    assert telegram.webhook_secret.get_secret_value() == "telegram_webhook_secret-value"
    assert whatsapp.access_token is not None and whatsapp.app_secret is not None
    assert whatsapp.verify_token is not None
    assert whatsapp.access_token.get_secret_value() == "whatsapp_access_token-value"
    assert whatsapp.app_secret.get_secret_value() == "whatsapp_app_secret-value"
    assert whatsapp.verify_token.get_secret_value() == "whatsapp_verify_token-value"


def test_the_file_wins_over_the_variable(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The image sets DATABASE_URL to its SQLite file: a deployment's DATABASE_URL_FILE must win.
    monkeypatch.setenv("DATABASE_URL", "sqlite:////data/wasl.db")
    url = "postgresql://wasl:pw@postgres:5432/wasl"
    monkeypatch.setenv("DATABASE_URL_FILE", _secret(clean, "database_url", url + "\n"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", _secret(clean, "token", "from-file"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "from-variable")
    settings = Settings()
    assert settings.database.database_url == url
    token = settings.telegram.bot_token
    assert token is not None and token.get_secret_value() == "from-file"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", "")  # empty means "not set"
    token = Settings().telegram.bot_token
    assert token is not None and token.get_secret_value() == "from-variable"


def test_a_file_named_in_dot_env_is_read(clean: Path) -> None:
    secret = _secret(clean, "app_secret", "s3cret")
    (clean / ".env").write_text(f"WHATSAPP_APP_SECRET_FILE={secret}\n", "utf-8")
    app_secret = Settings().whatsapp.app_secret
    assert app_secret is not None and app_secret.get_secret_value() == "s3cret"


def test_an_unreadable_file_is_named_not_ignored(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET_FILE", str(clean / "missing"))
    with pytest.raises(
        SecretFileError, match=r"TELEGRAM_WEBHOOK_SECRET_FILE: cannot read .*missing"
    ):
        Settings()


def test_without_files_nothing_changes(clean: Path) -> None:
    settings = Settings()
    assert settings.database.database_url == "sqlite:///wasl.db"
    assert settings.telegram.bot_token is None
    assert settings.whatsapp.app_secret is None


def test_the_command_line_says_which_file_and_stops(
    clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL_FILE", str(clean / "missing"))
    assert cli.main(["migrate", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wasl: DATABASE_URL_FILE: cannot read ")
    assert "No such file or directory" in err


def test_a_setting_of_the_wrong_kind_is_named_in_one_line_each(
    clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WASL_PORT", "eighty")
    monkeypatch.setenv("WASL_LOG_FORMAT", "xml")
    assert cli.main(["migrate", "--check"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "wasl: WASL_PORT: Input should be a valid integer, unable to parse string as an integer"
        " (given: 'eighty')",
        "wasl: WASL_LOG_FORMAT: Input should be 'auto', 'text' or 'json' (given: 'xml')",
    ]


def test_what_may_hold_a_secret_is_never_repeated(clean: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        TelegramSettings(bot_token=73512468, api_base=["x"])  # type: ignore[arg-type]
    lines = invalid_settings(raised.value)
    assert [line.split(":")[0] for line in lines] == ["TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE"]
    assert not any("73512468" in line for line in lines), "a token, even a wrong one, is not shown"
