"""A Nomad-like allocation directory on disk, and task configs that point into it.

Layout, as the client builds it::

    <root>/<alloc_id>/alloc/{data,logs,tmp}          shared by the group's tasks
    <root>/<alloc_id>/<task>/{local,secrets,tmp,private}
    <root>/<alloc_id>/alloc/logs/<task>.stdout.0      where the driver writes output
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..drivers import TaskConfig, TaskResources


@dataclass(frozen=True)
class TaskDirs:
    """The paths of one task inside its allocation directory."""

    alloc_id: str
    alloc_dir: Path
    task_dir: Path
    local_dir: Path
    secrets_dir: Path
    stdout_path: Path
    stderr_path: Path

    def task_config(
        self,
        config: dict[str, Any],
        name: str | None = None,
        job_name: str = "example",
        task_group_name: str = "group",
        env: dict[str, str] | None = None,
        resources: TaskResources | None = None,
    ) -> TaskConfig:
        """A :class:`TaskConfig` for a task living in these directories.

        :param config: the task's driver ``config {}`` block.
        :param name: the task name; defaults to the task directory's name.
        """
        task_name = name or self.task_dir.name
        return TaskConfig(
            id=f"{self.alloc_id}/{task_name}/{uuid.uuid4().hex[:8]}",
            name=task_name,
            job_name=job_name,
            task_group_name=task_group_name,
            alloc_id=self.alloc_id,
            env={"NOMAD_ALLOC_ID": self.alloc_id, "NOMAD_TASK_NAME": task_name, **(env or {})},
            config=config,
            resources=resources or TaskResources(),
            alloc_dir=self.alloc_dir,
            task_dir=self.task_dir,
            local_dir=self.local_dir,
            secrets_dir=self.secrets_dir,
            stdout_path=self.stdout_path,
            stderr_path=self.stderr_path,
        )


def build_task_dirs(root: Path, task: str = "task", alloc_id: str | None = None) -> TaskDirs:
    """Create the directories of task ``task`` of a (new, unless given) allocation."""
    alloc_id = alloc_id or str(uuid.uuid4())
    alloc_dir = root / alloc_id
    for sub in ("data", "logs", "tmp"):
        (alloc_dir / "alloc" / sub).mkdir(parents=True, exist_ok=True)
    task_dir = alloc_dir / task
    for sub in ("local", "secrets", "tmp", "private"):
        (task_dir / sub).mkdir(parents=True, exist_ok=True)
    logs = alloc_dir / "alloc" / "logs"
    return TaskDirs(
        alloc_id=alloc_id,
        alloc_dir=alloc_dir,
        task_dir=task_dir,
        local_dir=task_dir / "local",
        secrets_dir=task_dir / "secrets",
        stdout_path=logs / f"{task}.stdout.0",
        stderr_path=logs / f"{task}.stderr.0",
    )
