"""The layers stay apart: the core and handlers know no platform, the core no database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_LIBS = {"telegram", "aiogram", "httpx", "requests", "aiohttp"}
SQL_LIBS = {"sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "asyncpg", "psycopg", "sqlite3"}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports (including inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def files(folder: str) -> list[Path]:
    found = sorted((ROOT / folder).rglob("*.py"))
    assert found, f"no Python files under {folder}"
    return found


@pytest.mark.parametrize("path", files("bot/core") + files("handlers"), ids=str)
def test_core_and_handlers_import_no_platform_library(path: Path) -> None:
    assert not imported_modules(path) & PLATFORM_LIBS


@pytest.mark.parametrize("path", files("bot/core"), ids=str)
def test_core_imports_no_sql_library(path: Path) -> None:
    assert not imported_modules(path) & SQL_LIBS
    assert "storage" not in imported_modules(path)


@pytest.mark.parametrize("path", files("handlers"), ids=str)
def test_handlers_speak_no_whatsapp_json_nor_telegram_types(path: Path) -> None:
    text = path.read_text()
    for marker in ("whatsapp_business_account", "InlineKeyboard", "callback_query"):
        assert marker not in text


def test_the_check_itself_sees_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from telegram import Bot\nimport sqlalchemy.orm\n")
    assert imported_modules(probe) == {"telegram", "sqlalchemy"}


def test_only_the_telegram_adapter_imports_telegram() -> None:
    importers = {
        str(p.relative_to(ROOT))
        for folder in ("bot", "handlers", "storage")
        for p in files(folder)
        if "telegram" in imported_modules(p)
    }
    assert importers <= {"bot/channels/telegram.py"}
