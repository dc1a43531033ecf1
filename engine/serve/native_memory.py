"""glibc's allocator in a daemon that lives for days: few arenas, and freed memory given back when idle.

PyTorch's CPU kernels allocate and free large buffers from several threads (the model thread, the
background compile, the intra-op pool). glibc gives each thread an arena of its own, up to 8 per core,
and keeps what a thread frees for that thread, so the daemon's RSS grows towards the peak of every
arena at once. `bench.soak` measures it; the README has the figures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


@functools.cache
def _libc():
    """glibc, or None (musl, macOS): the calls below are glibc's."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim, libc.mallopt  # noqa: B018 - both exist only in glibc
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def limit_arenas() -> None:
    """Before the threads start: they share ARENAS arenas instead of one each."""
    if (libc := _libc()) is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def give_back() -> None:
    """Return the free pages of every arena to the system (a few milliseconds; when idle)."""
    if (libc := _libc()) is not None:
        libc.malloc_trim(0)
