"""The server's garbage-collector policy (api/http.py freeze_startup_heap)."""

from __future__ import annotations

import gc

from api.http import YOUNG_GC_THRESHOLD, freeze_startup_heap


def test_startup_freezes_the_heap_and_collects_the_young_generation_less_often() -> None:
    before = gc.get_threshold()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, before[1], before[2])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
