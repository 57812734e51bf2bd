"""The few Linux system calls the executor needs that Python 3.11's :mod:`os` lacks.

Each wrapper raises :class:`OSError` with the errno and a word on what was attempted, so the
executor can report a failed setup in one readable line.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2

_CAP_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (``CLONE_NEW*`` flags)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace open as ``fd`` (a ``/proc/<pid>/ns/*`` file)."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """mount(2); ``target`` is named in the error."""
    result = _libc.mount(
        source.encode() if source is not None else None,
        target.encode(),
        fstype.encode() if fstype is not None else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(result, f"mount {target}")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    """prctl(2) with up to two arguments."""
    result = _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), 0, 0)
    _check(result, "prctl")


def last_capability() -> int:
    """The highest capability number this kernel knows."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def drop_bounding_set(keep: set[int]) -> None:
    """Remove every capability not in ``keep`` from the bounding set, so no later exec
    (even of a setuid-root program) can gain it."""
    for cap in range(last_capability() + 1):
        if cap not in keep:
            prctl(PR_CAPBSET_DROP, cap)


def raise_ambient(keep: set[int]) -> None:
    """Give a non-root process ``keep`` across exec: permitted, inheritable, then ambient.

    Call after ``setuid`` with ``PR_SET_KEEPCAPS`` set before it, else the capabilities are
    already gone.
    """
    mask = sum(1 << cap for cap in keep)
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    for word in (0, 1):
        bits = (mask >> (32 * word)) & 0xFFFFFFFF
        data[word] = _CapData(bits, bits, bits)
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    for cap in sorted(keep):
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
