"""`.env.example` names every setting Wasl reads, so nobody has to read the code to find one."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"


def every_setting() -> set[str]:
    settings = Settings()
    wanted = {"DATABASE_URL"}
    for part in ("telegram", "whatsapp", "wasl"):
        group = getattr(settings, part)
        prefix = group.model_config["env_prefix"]
        wanted |= {f"{prefix}{name}".upper() for name in type(group).model_fields}
    return wanted


def test_every_setting_is_in_the_example() -> None:
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text("utf-8"), re.M))
    assert every_setting() - named == set(), "add these to .env.example"
    assert named - every_setting() == set(), "these in .env.example are read by nothing"


def test_every_setting_is_in_the_readme_table() -> None:
    rows = set(
        re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "README.md").read_text("utf-8"), re.M)
    )
    assert every_setting() - rows == set(), "add these to the README's configuration table"
