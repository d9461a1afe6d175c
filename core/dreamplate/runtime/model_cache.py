"""Loaded models kept warm between frames and jobs, and released when memory runs low.

Loading a network (an ONNX Runtime session, a diffusers pipeline) costs seconds; a worker serving job after job
keeps them here, keyed by what identifies the weights and settings. Everything is dropped at once under memory
pressure: a reload is slow but an out-of-memory kill loses work.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_MODELS = 4
"""Models held at most; the least recently used goes first."""

_lock = threading.Lock()
_models: OrderedDict[Hashable, object] = OrderedDict()


def cached_model(key: Hashable, load: Callable[[], T]) -> T:
    """The model stored under `key`, loading it with `load()` the first time."""
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]  # type: ignore[return-value]
    model = load()  # outside the lock: loading is slow and other keys stay usable meanwhile
    with _lock:
        _models[key] = model
        _models.move_to_end(key)
        while len(_models) > MAX_MODELS:
            old, _ = _models.popitem(last=False)
            log.info("model cache: released %s (least recently used)", old)
    return model


def cached_keys() -> list[Hashable]:
    """What is loaded now, least recently used first."""
    with _lock:
        return list(_models)


def release_models(reason: str) -> int:
    """Drop every cached model (e.g. under memory pressure); returns how many were dropped."""
    with _lock:
        count = len(_models)
        _models.clear()
    if count:
        gc.collect()
        log.info("model cache: released %d model(s): %s", count, reason)
    return count


def release_if_memory_low(min_available_bytes: int = 2 << 30) -> bool:
    """Release everything when the machine has less than `min_available_bytes` of memory available."""
    import psutil

    available = psutil.virtual_memory().available
    if available >= min_available_bytes:
        return False
    release_models(f"{available / 2**30:.1f} GiB available, below {min_available_bytes / 2**30:.1f} GiB")
    return True
