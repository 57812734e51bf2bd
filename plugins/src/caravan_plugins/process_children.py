"""Reaping the agent's child processes through pidfds instead of a thread per child.

On Python 3.11, asyncio's default loop learns that a child it started has exited from a
thread blocked in ``waitpid`` — one thread per child, for the child's whole life. An agent
running a thousand tasks then carries a thousand threads: memory, a thread start per task,
and a process that profilers and debuggers take seconds to walk. A pidfd instead becomes
readable when its process exits, so the event loop itself notices, as it does for sockets,
and a running task costs one file descriptor. Python 3.12 and later do this by default.

:func:`install_child_watcher` puts :class:`PidfdChildWatcher` in place once per process;
where a pidfd cannot be opened (a kernel older than 5.3, or the descriptor limit reached)
that one child is waited for by a thread, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: The exit code reported when something else already collected the child's status (as
#: asyncio's own watchers report it).
UNKNOWN_RETURNCODE = 255


def install_child_watcher() -> bool:
    """Make asyncio's default loops wait for child processes through pidfds, if they would
    otherwise use a thread per child.

    Call it once at start-up, before starting processes; calling it again is a no-op, and
    a watcher someone else installed is left alone. Loops that manage children themselves
    (uvloop) are unaffected either way.

    :returns: True when this call installed the watcher.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    policy = asyncio.get_event_loop_policy()
    if not hasattr(policy, "set_child_watcher"):
        return False
    # type() rather than isinstance(): a subclass is someone's deliberate choice.
    if type(policy.get_child_watcher()) is not asyncio.ThreadedChildWatcher:
        return False
    policy.set_child_watcher(PidfdChildWatcher())
    return True


# Child watchers are deprecated from 3.12 (subclassing one warns) and gone in 3.14, where
# asyncio uses pidfds on its own; the class exists only where it is needed.
if sys.version_info < (3, 12):

    class PidfdChildWatcher(asyncio.AbstractChildWatcher):
        """A child watcher for every loop of the process: each child is watched by a pidfd
        registered with the loop that started it.

        Unlike asyncio 3.11's own ``PidfdChildWatcher`` it is not bound to one loop (tests and
        tools run several in turn), and a child whose pidfd cannot be opened falls back to a
        waiting thread instead of failing after the process has started.
        """

        def __init__(self) -> None:
            self._fallback = asyncio.ThreadedChildWatcher()
            self._watched: dict[int, tuple[asyncio.AbstractEventLoop, int]] = {}

        def __enter__(self) -> PidfdChildWatcher:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def is_active(self) -> bool:
            """Always ready: children are registered with whichever loop is running."""
            return True

        def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
            """Nothing to attach: the loop is the running one when a child is added."""

        def add_child_handler(self, pid: int, callback: Callable[..., Any], *args: Any) -> None:
            """Call ``callback(pid, returncode, *args)`` on the running loop once child ``pid``
            has exited and been reaped."""
            loop = asyncio.get_running_loop()
            try:
                fd = os.pidfd_open(pid)
            except OSError as exc:
                log.debug("no pidfd for child %d (%s): waiting in a thread", pid, exc)
                self._fallback.add_child_handler(pid, callback, *args)
                return
            self._watched[pid] = (loop, fd)
            loop.add_reader(fd, self._reap, pid, callback, args)

        def remove_child_handler(self, pid: int) -> bool:
            """Stop watching child ``pid``; False when it was not watched."""
            entry = self._watched.pop(pid, None)
            if entry is None:
                return self._fallback.remove_child_handler(pid)
            self._forget(*entry)
            return True

        def close(self) -> None:
            """Stop watching every child."""
            for entry in self._watched.values():
                self._forget(*entry)
            self._watched.clear()
            self._fallback.close()

        def _reap(self, pid: int, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
            self._forget(*self._watched.pop(pid))
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                log.warning("exit status of child %d was already collected elsewhere", pid)
                returncode = UNKNOWN_RETURNCODE
            else:
                returncode = os.waitstatus_to_exitcode(status)
            callback(pid, returncode, *args)

        @staticmethod
        def _forget(loop: asyncio.AbstractEventLoop, fd: int) -> None:
            if not loop.is_closed():
                loop.remove_reader(fd)
            os.close(fd)
