"""The task's root filesystem: the task directory with parts of the host bound into it.

Like Nomad, the exec driver makes the task directory the task's ``/`` and fills it from the
host according to ``chroot_env`` (host path -> path inside the chroot). Nomad copies or
links those files; caravan bind-mounts them read-only inside the task's own mount namespace,
which is instant, costs no disk, and disappears by itself with the task's last process (the
host never sees the mounts). Only the empty mount points remain in the task directory, and
:func:`remove_mount_points` takes them away when the task is destroyed.

The executor calls :func:`populate`; everything else here is also safe for the driver.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import linux

#: Nomad's default ``chroot_env``.
DEFAULT_CHROOT_ENV: dict[str, str] = {
    "/bin": "/bin",
    "/etc": "/etc",
    "/lib": "/lib",
    "/lib32": "/lib32",
    "/lib64": "/lib64",
    "/run/resolvconf": "/run/resolvconf",
    "/run/systemd/resolve": "/run/systemd/resolve",
    "/sbin": "/sbin",
    "/usr": "/usr",
}

#: Device nodes a program expects in ``/dev``; bound from the host's.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}
#: Mount points the executor adds besides ``chroot_env``'s.
EXTRA_MOUNT_POINTS = ("/proc", "/dev", "/alloc")


def inside(root: str, path: str) -> str:
    """The host path of ``path`` inside the chroot at ``root``."""
    return os.path.join(root, path.lstrip("/"))


def populate(root: str, chroot_env: dict[str, str], alloc_dir: str) -> None:
    """Bind ``chroot_env`` read-only, a minimal ``/dev`` and the shared ``/alloc`` into
    ``root``. Call in a private mount namespace; host paths that do not exist are skipped.

    :raises OSError: a mount failed; the message names its target.
    """
    for source, dest in chroot_env.items():
        _bind_host_path(source, inside(root, dest))
    _build_dev(inside(root, "/dev"))
    os.makedirs(inside(root, "/proc"), exist_ok=True)
    if alloc_dir:
        target = inside(root, "/alloc")
        os.makedirs(target, exist_ok=True)
        linux.mount(alloc_dir, target, None, linux.MS_BIND | linux.MS_REC)


def _bind_host_path(source: str, target: str) -> None:
    if not os.path.lexists(source):
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(source):
        # /bin -> usr/bin on merged-/usr systems: the same relative link works inside.
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        Path(target).touch()
    linux.mount(source, target, None, linux.MS_BIND | linux.MS_REC)
    linux.mount(None, target, None, linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY)


def _build_dev(dev: str) -> None:
    os.makedirs(dev, exist_ok=True)
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "mode=755,size=64k")
    for name in DEVICES:
        node = os.path.join(dev, name)
        Path(node).touch()
        linux.mount(f"/dev/{name}", node, None, linux.MS_BIND)
    shm = os.path.join(dev, "shm")
    os.makedirs(shm)
    linux.mount("shm", shm, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=1777")
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(dev, name))


def remove_mount_points(root: Path, chroot_env: dict[str, str]) -> None:
    """Remove the empty directories, placeholder files and links :func:`populate` left in
    ``root`` once nothing is mounted on them any more. Never removes anything with content:
    a directory the task wrote into stays."""
    for source, dest in chroot_env.items():
        target = Path(inside(str(root), dest))
        if target.is_symlink():
            if os.path.islink(source) and os.readlink(target) == os.readlink(source):
                target.unlink()
        elif target.is_file() and target.stat().st_size == 0:
            target.unlink()
        _rmdir_up_to(root, target)
    for point in EXTRA_MOUNT_POINTS:
        _rmdir_up_to(root, Path(inside(str(root), point)))


def _rmdir_up_to(root: Path, path: Path) -> None:
    while path != root and root in path.parents:
        if path.is_dir() and not path.is_symlink():
            try:
                path.rmdir()
            except OSError:
                return
        elif path.is_symlink() or path.exists():
            return
        path = path.parent
