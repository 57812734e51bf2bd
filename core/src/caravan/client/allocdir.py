"""The allocation directory on disk, in Nomad's layout::

    <data_dir>/alloc/<alloc_id>/alloc/{logs,data,tmp}      shared by the group's tasks
    <data_dir>/alloc/<alloc_id>/<task>/{local,secrets,tmp,private}

Drivers without filesystem isolation see these host paths; isolated drivers mount them at
``/alloc``, ``/local`` and ``/secrets`` (see :mod:`caravan.client.taskenv`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

SHARED_DIRS = ("logs", "data", "tmp")
TASK_DIRS = ("local", "secrets", "tmp", "private")


@dataclass(frozen=True)
class TaskDir:
    """The directories of one task."""

    root: Path

    @property
    def local(self) -> Path:
        return self.root / "local"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def build(self) -> None:
        """Create the task's directories (idempotent); ``secrets`` is private to the user."""
        for sub in TASK_DIRS:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.secrets.chmod(0o700)


@dataclass(frozen=True)
class AllocDir:
    """The directory of one allocation: ``root`` is ``<data_dir>/alloc/<alloc_id>``."""

    root: Path

    @classmethod
    def for_alloc(cls, alloc_root: Path, alloc_id: str) -> AllocDir:
        return cls(alloc_root / alloc_id)

    @property
    def shared(self) -> Path:
        """``alloc/``: what every task of the group shares (``NOMAD_ALLOC_DIR``)."""
        return self.root / "alloc"

    @property
    def logs(self) -> Path:
        return self.shared / "logs"

    def task(self, name: str) -> TaskDir:
        return TaskDir(self.root / name)

    def build(self) -> None:
        """Create the shared directories (idempotent)."""
        for sub in SHARED_DIRS:
            (self.shared / sub).mkdir(parents=True, exist_ok=True)

    def log_path(self, task: str, stream: str, index: int = 0) -> Path:
        """``alloc/logs/<task>.<stream>.<index>``; index 0 is the file being written."""
        return self.logs / f"{task}.{stream}.{index}"

    def destroy(self) -> None:
        """Remove the whole allocation directory; a missing one is fine."""
        shutil.rmtree(self.root, ignore_errors=True)
