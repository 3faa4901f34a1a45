"""Before serving, what start-up built is frozen out of the garbage collector's full
collections: each walked ~150,000 long-lived objects and stalled updates in flight."""

from __future__ import annotations

import gc

from bot.bootstrap import settle_memory


class _Built:
    """Stands for something start-up built (the app, catalogs, the bot library)."""


def test_what_start_up_built_is_left_out_of_full_collections() -> None:
    built = _Built()
    assert any(o is built for o in gc.get_objects()), "tracked before"
    try:
        settle_memory()
        assert gc.get_freeze_count() > 0
        assert not any(o is built for o in gc.get_objects()), "walked by every full collection"
        later = _Built()  # what updates make afterwards is collected as usual
        assert any(o is later for o in gc.get_objects())
    finally:
        gc.unfreeze()  # the rest of the test session's objects stay collectable
