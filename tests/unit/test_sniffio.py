"""httpcore asks sniffio which event loop runs each request: it must find it installed.

httpcore imports sniffio inside every request and treats a missing one as asyncio, so
without it each request pays for a failed import (a search of sys.path) in serve and the
delivery worker.
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

import pytest
from httpcore._synchronization import current_async_library


async def test_httpcore_finds_sniffio_without_a_failed_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failed: list[str] = []
    real_import = builtins.__import__

    def spying_import(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return real_import(name, *args, **kwargs)
        except ImportError:
            failed.append(name)
            raise

    monkeypatch.setattr(builtins, "__import__", spying_import)
    for _ in range(3):  # as three requests would
        assert current_async_library() == "asyncio"
    assert failed == []
    assert "sniffio" in sys.modules
    assert sys.modules["sniffio"].current_async_library() == "asyncio"
