"""Good-practice tips as the core sees them (filled in by the tips work)."""

from __future__ import annotations

from typing import Protocol


class Tips(Protocol):
    """Tip reads and writes (storage.tips.TipRepository)."""
