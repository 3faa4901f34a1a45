"""What the adapters put on the wire: JSON as small as it gets.

Spaced separators and ASCII escapes cost a 2G link dearly: an Arabic letter written as a
\\u escape takes 6 bytes, in UTF-8 it takes 2.
"""

from __future__ import annotations

import json
from typing import Any

JSON_CONTENT_TYPE = "application/json"


def compact_json(value: Any) -> str:
    """`value` as JSON without spaces, every letter as itself (UTF-8 once encoded)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_body(value: Any) -> bytes:
    """A request body: `value` as compact JSON in UTF-8."""
    return compact_json(value).encode("utf-8")
