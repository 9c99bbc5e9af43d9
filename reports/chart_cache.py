"""Each distinct chart drawn once per process.

Drawing is a report's largest cost (matplotlib's pure-Python text layout), and the same
chart comes back: a summary and its shareable version share three of their four
charts, and a pack or the demo writes a summary drawn moments before. A chart is a
pure function of the data it is given, so the same data gives the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: the charts kept, by key: about 2 MB of PNGs at most
KEPT = 32

_kept: OrderedDict[bytes, Any] = OrderedDict()
_lock = threading.Lock()


def once(draw: Callable[..., T]) -> Callable[..., T]:
    """Return ``draw`` remembering its last results by their arguments.

    The key is the arguments pickled (any value that changes the chart changes its key),
    so two reports of the same data share one drawing; the least recently used of more
    than ``KEPT`` is forgotten.
    """

    @functools.wraps(draw)
    def drawn(*args: Any) -> T:
        key = hashlib.blake2b(pickle.dumps((draw.__qualname__, args), protocol=5)).digest()
        with _lock:
            if key in _kept:
                _kept.move_to_end(key)
                return _kept[key]
        result = draw(*args)
        with _lock:
            _kept[key] = result
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
        return result

    return drawn
