"""One-shot file modification watches through Linux's inotify, for the client's event loop.

The client wants to hear that a file *was written*, not about every write: a task printing
ten thousand lines a second must not wake the agent ten thousand times. Each watch is
therefore one-shot (``IN_MODIFY | IN_ONESHOT``): the kernel reports the first write after
:meth:`ModifiedFiles.arm` and then forgets the watch until the file is armed again. Files
nobody writes cost nothing.

The standard library has no inotify binding; this calls libc through :mod:`ctypes`.
:func:`open_inotify` returns None where inotify is missing (not Linux, no libc symbol, or
the per-user instance limit reached), and callers fall back to checking periodically.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

IN_MODIFY = 0x00000002
IN_IGNORED = 0x00008000
IN_ONESHOT = 0x80000000
_EVENT = struct.Struct("iIII")
_READ_SIZE = 64 * 1024


class ModifiedFiles:
    """An inotify instance whose watches each report one write, then wait to be re-armed.

    :param fd: a non-blocking inotify file descriptor (from :func:`open_inotify`).
    :param libc: the C library exposing ``inotify_add_watch``.
    """

    def __init__(self, fd: int, libc: ctypes.CDLL) -> None:
        self.fd = fd
        self._libc = libc
        self._paths: dict[int, Path] = {}

    def arm(self, path: Path) -> bool:
        """Report the next write to ``path`` (once). False when it cannot be watched
        (missing, or the watch limit reached); the caller then checks it another way."""
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), IN_MODIFY | IN_ONESHOT)
        if wd < 0:
            return False
        self._paths[wd] = path
        return True

    def read(self) -> set[Path]:
        """The files written since they were armed, from the events queued now; call when
        :attr:`fd` is readable. Never blocks."""
        written: set[Path] = set()
        while True:
            try:
                data = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                return written
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                path = self._paths.get(wd)
                if mask & IN_IGNORED:
                    # The one-shot watch is gone; arm() registers it again.
                    self._paths.pop(wd, None)
                elif path is not None:
                    written.add(path)

    def close(self) -> None:
        """Drop every watch and the instance."""
        os.close(self.fd)
        self._paths.clear()


def open_inotify() -> ModifiedFiles | None:
    """A new non-blocking inotify instance, or None where the kernel or libc has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        init = libc.inotify_init1
    except (OSError, AttributeError):
        return None
    fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        # Typically EMFILE (the per-user limit of instances) or ENOSYS (no inotify).
        return None
    return ModifiedFiles(fd, libc)
