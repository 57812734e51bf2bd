"""The pycall driver's two configuration blocks.

The agent config enables the driver (a task runs any Python code as the agent's user, so,
like ``raw_exec``, it is off unless asked for) and may pick the interpreter::

    plugin "pycall" {
      config {
        enabled = true
        python  = "/usr/bin/python3"
      }
    }

and each task names the callable and its arguments::

    task "report" {
      driver = "pycall"
      config {
        callable    = "reports.nightly:main"
        args        = ["2026-01-01"]
        kwargs      = { dry_run = true }
        python_path = ["local/src"]
      }
    }
"""

from __future__ import annotations

import re
import sys
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# module.path:attribute.path, as console_scripts entry points write them.
_CALLABLE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class PycallConfig(BaseModel):
    """The ``plugin "pycall" { config { ... } }`` block of the agent config.

    :ivar enabled: the driver runs nothing unless this is true.
    :ivar python: the interpreter tasks run in; defaults to the one running the agent.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    python: str = Field(default=sys.executable, min_length=1)


class PycallTaskConfig(BaseModel):
    """A pycall task's ``config {}`` block.

    :ivar callable: what to call, as ``module:function`` (``package.module:Class.method``
        works too).
    :ivar args: positional arguments, any JSON values.
    :ivar kwargs: keyword arguments, any JSON values.
    :ivar python_path: directories put in front of ``sys.path``, absolute or relative to
        the task directory (``local/src``).
    """

    model_config = ConfigDict(extra="forbid")

    callable: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    python_path: list[str] = Field(default_factory=list)

    @field_validator("callable")
    @classmethod
    def _module_colon_function(cls, value: str) -> str:
        if not _CALLABLE.match(value):
            raise ValueError(f"{value!r} is not of the form module:function")
        return value
