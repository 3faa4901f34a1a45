"""Field updates as the core sees them."""

from __future__ import annotations

from typing import Protocol


class Updates(Protocol):
    """Field update reads and writes (storage.updates.UpdateRepository)."""
