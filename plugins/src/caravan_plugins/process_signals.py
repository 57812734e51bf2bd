"""The signal dispositions a task's process starts with.

A signal the agent ignores stays ignored in every process it starts, across ``exec``: an
agent started under ``nohup`` ignores SIGHUP, and one started as a shell's background job
ignores SIGINT and SIGQUIT. Its tasks would then ignore them too, and a shell script could
not even trap them (a non-interactive shell may not trap a signal ignored on entry), so a
template's ``change_mode = "signal"`` or ``caravan alloc signal`` would never reach them.
Drivers that start host processes pass :func:`default_signals_preexec` to the child.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

#: The signals a task is expected to receive with their default action or its own handler.
TASK_SIGNALS = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGWINCH,
)


def default_signals_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` restoring the default action of the :data:`TASK_SIGNALS` this
    process ignores, or ``None`` when it ignores none of them (the usual case: the child is
    then started without running Python code between fork and exec)."""
    ignored = [s for s in TASK_SIGNALS if signal.getsignal(s) is signal.SIG_IGN]
    if not ignored:
        return None

    def restore() -> None:
        for signum in ignored:
            signal.signal(signum, signal.SIG_DFL)

    return restore
