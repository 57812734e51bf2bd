"""Downloads the task's ``artifact`` blocks before its first start.

A failed download records ``Failed Artifact Download`` and fails the start; the restart
policy decides whether to try again. Once every artifact is in place the hook remembers it,
so restarts (and agent restarts) do not download again.
"""

from __future__ import annotations

from caravan.structs import consts as c

from ..artifacts import ArtifactError, fetch_artifact
from ..events import task_event
from .base import HookError, TaskHook, TaskHookContext


class ArtifactHook(TaskHook):
    """Emits ``Downloading Artifacts`` then fetches each artifact in order."""

    name = "artifacts"

    async def prestart(self, ctx: TaskHookContext) -> None:
        artifacts = ctx.task.artifacts or []
        if not artifacts or ctx.hook_state.get(self.name):
            return
        ctx.emit(task_event(c.TASK_DOWNLOADING_ARTIFACTS))
        for artifact in artifacts:
            try:
                await fetch_artifact(artifact, ctx.task_dir.root, ctx.env)
            except ArtifactError as exc:
                ctx.emit(task_event(c.TASK_ARTIFACT_DOWNLOAD_FAILED, download_error=str(exc)))
                raise HookError(str(exc)) from None
        ctx.hook_state[self.name] = True
