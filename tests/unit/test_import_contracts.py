"""The layers stay apart: the import contracts of pyproject.toml ([tool.importlinter], run by
`make lint`) hold, and each one breaks when the import it forbids appears."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.application.use_cases import read_user_options
from importlinter.configuration import configure
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.protected import ProtectedContract

ROOT = Path(__file__).resolve().parents[2]
KINDS: dict[str, Any] = {
    "acyclic_siblings": AcyclicSiblingsContract,
    "forbidden": ForbiddenContract,
    "layers": LayersContract,
    "protected": ProtectedContract,
}
CORE = "The core imports nothing above it: no layer, no platform, no database, no web"
LAYERS = "Conversations over services over the core"
STORAGE = "Storage implements the core's ports, and knows nothing above them"
DELIVERY = "Delivery depends on the core's ports, not on storage"
CHANNELS = "Channel adapters only translate: the core's messages, never a layer above it"
HANDLERS = "Conversations know no platform and no database"
TELEGRAM = "Only the Telegram adapter imports telegram"
ROUTER_ONLY = "Nothing calls a handler but the router's wiring (bot.app)"
ACYCLIC = "No two modules or packages import each other"
ALL = [CORE, LAYERS, STORAGE, DELIVERY, CHANNELS, HANDLERS, TELEGRAM, ROUTER_ONLY, ACYCLIC]


@cache
def options() -> Any:
    configure()  # what the lint-imports command does first
    return read_user_options(str(ROOT / "pyproject.toml"))


@cache
def graph() -> grimp.ImportGraph:
    roots = options().session_options["root_packages"]
    return grimp.build_graph(*roots, include_external_packages=True, cache_dir=None)


def kept(name: str, extra: tuple[str, str] | None = None) -> bool:
    """Whether contract `name` holds on the code, with one more import when `extra` is given."""
    found = [c for c in options().contracts_options if c["name"] == name]
    assert len(found) == 1, f"no contract named {name!r}"
    contract = KINDS[found[0]["type"]](
        name=name, session_options=options().session_options, contract_options=found[0]
    )
    checked = copy.deepcopy(graph())
    if extra is not None:
        checked.add_import(importer=extra[0], imported=extra[1], line_number=1, line_contents="")
    return bool(contract.check(checked, verbose=False).kept)


def test_every_contract_is_named_here() -> None:
    names = {c["name"] for c in options().contracts_options}
    assert names == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_the_code_keeps_every_contract(name: str) -> None:
    assert kept(name)


@pytest.mark.parametrize(
    ("name", "importer", "imported"),
    [
        (CORE, "bot.core.models", "storage.store"),
        (CORE, "bot.core.router", "sqlalchemy"),
        (CORE, "bot.core.clock", "sqlite3"),
        (CORE, "bot.core.messages", "httpx"),
        (CORE, "bot.core.router", "bot.delivery.worker"),
        (CORE, "bot.core.router", "bot.channels.console"),
        (CORE, "bot.core.context", "bot.app"),
        (LAYERS, "bot.core.router", "handlers.common"),
        (LAYERS, "bot.core.actors", "bot.services.notices"),
        (LAYERS, "bot.services.notices", "handlers.common"),
        (STORAGE, "storage.outbox", "bot.delivery.worker"),
        (STORAGE, "storage.store", "handlers.common"),
        (STORAGE, "storage.store", "bot.services.notices"),
        (DELIVERY, "bot.delivery.worker", "storage.outbox"),
        (CHANNELS, "bot.channels.console", "storage.store"),
        (CHANNELS, "bot.channels.telegram", "bot.runtime"),
        (CHANNELS, "bot.channels.telegram", "bot.web"),
        (CHANNELS, "bot.channels.whatsapp", "bot.services.notices"),
        (HANDLERS, "handlers.onboarding", "httpx"),
        (HANDLERS, "handlers.onboarding", "storage.store"),
        (HANDLERS, "handlers.updates", "sqlalchemy"),
        (TELEGRAM, "handlers.onboarding", "telegram"),
        (TELEGRAM, "bot.web", "telegram"),
        (TELEGRAM, "storage.store", "telegram"),
        (ROUTER_ONLY, "bot.scheduler", "handlers.tips"),
        (ROUTER_ONLY, "bot.cli", "handlers.invites"),
        (ROUTER_ONLY, "bot.services.notices", "handlers.common"),
        (ACYCLIC, "bot.channels.telegram", "bot.web"),  # bot.web imports the adapter
        (ACYCLIC, "bot.app", "bot.bootstrap"),  # the bootstrap imports the app
        (ACYCLIC, "storage.engine", "storage.store"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(name: str, importer: str, imported: str) -> None:
    assert not kept(name, (importer, imported))


def test_an_allowed_import_keeps_them() -> None:
    assert kept(LAYERS, ("handlers.tips", "bot.services.notices"))
    assert kept(ROUTER_ONLY, ("bot.app", "handlers.tips"))
    assert kept(CHANNELS, ("bot.channels.console", "bot.core.clock"))


def files(folder: str) -> list[Path]:
    found = sorted((ROOT / folder).rglob("*.py"))
    assert found, f"no Python files under {folder}"
    return found


@pytest.mark.parametrize("path", files("handlers"), ids=str)
def test_handlers_speak_no_whatsapp_json_nor_telegram_types(path: Path) -> None:
    text = path.read_text()
    for marker in ("whatsapp_business_account", "InlineKeyboard", "callback_query"):
        assert marker not in text
