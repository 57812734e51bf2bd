"""The raw_exec driver's two configuration blocks, with Nomad's names and defaults.

The agent config enables the driver (it runs tasks as the agent's user, without isolation, so
it is off unless asked for)::

    plugin "raw_exec" {
      config {
        enabled = true
      }
    }

and each task says what to run::

    task "web" {
      driver = "raw_exec"
      config {
        command  = "/usr/bin/python3"
        args     = ["-m", "http.server", "${NOMAD_PORT_http}"]
        work_dir = "local"
      }
    }
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RawExecConfig(BaseModel):
    """The ``plugin "raw_exec" { config { ... } }`` block of the agent config.

    :ivar enabled: the driver runs nothing unless this is true (Nomad's default is false).
    :ivar no_cgroups: accepted for compatibility with Nomad agent configs; caravan's
        raw_exec never places tasks in cgroups, so it changes nothing.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    no_cgroups: bool = False


class RawExecTaskConfig(BaseModel):
    """A raw_exec task's ``config {}`` block.

    :ivar command: the program to run: an absolute path, a path relative to the task
        directory (``local/run.sh``), or a bare name looked up on the task's ``PATH``.
    :ivar args: its arguments, already interpolated by the client.
    :ivar work_dir: the working directory, absolute or relative to the task directory;
        empty means the task directory itself.
    :ivar oom_score_adj: added to the kernel's OOM score of the task (0 to 1000: higher
        means killed sooner when the node runs out of memory).
    """

    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    work_dir: str = ""
    oom_score_adj: int = Field(default=0, ge=0, le=1000)
