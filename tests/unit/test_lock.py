"""The lock files pin every dependency pyproject.toml names, at a version its range accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    found = {canonicalize_name(name): version for name, version in PIN.findall(text)}
    assert found, f"{lock} pins nothing"
    return found


def requirements(dev: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = list(project["dependencies"])
    if dev:
        names += project["optional-dependencies"]["dev"]
    return [Requirement(r) for r in names]


@pytest.mark.parametrize(
    ("lock", "dev"), [("requirements.lock", False), ("requirements-dev.lock", True)]
)
def test_lock_pins_every_dependency_within_its_range(lock: str, dev: bool) -> None:
    pinned = pins(lock)
    for requirement in requirements(dev):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is missing from {lock}: run make lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, outside {requirement.specifier}: run make lock"
        )


def test_every_pin_has_a_hash() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text(encoding="utf-8"))
        unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
        assert not unhashed, f"{lock}: no hash for {unhashed}"
