"""The exec driver's executor: ``python -m caravan_driver_exec.executor`` with a
:class:`~.spec.LaunchSpec` as JSON on stdin.

The agent never changes its own namespaces; it starts this small program per task, which:

1. unshares a mount namespace (and IPC, and PID for children, per the task's modes), makes
   every mount in it private, and binds the chroot into the task directory
   (:mod:`.chroot`);
2. forks the task's *init*: it joins the task's cgroups first, so nothing the task starts can
   escape them, and mounts a fresh ``/proc``. In a private PID namespace it is PID 1 and
   forks the program as PID 2, because the kernel drops signals a namespace's PID 1 has not
   installed a handler for (a plain ``sleep`` would never see SIGTERM): init forwards
   signals to the program, reaps orphans, and reports the program's wait status. In the
   host PID namespace it becomes the program itself;
3. the program's process chroots, drops capabilities (bounding set; ambient ones for a
   non-root user), switches user and execs;
4. this process stays outside, forwards the driver's signals to init, records the
   program's wait status in ``exit_file`` (the driver reads it when the agent restarted
   while the task ended, as its own child is then gone), and exits the way the program did
   (same exit code, or killed by the same signal), so a watching driver reads the task's
   exit from its own child.

A setup failure is written to ``status_fd`` (which otherwise closes unwritten at the exec)
and the executor exits 127. With ``join_pid`` set, steps 1 and 2 join the namespaces of that
running task instead: that is ``exec`` into a task (script checks, ``alloc exec``).

Everything here is imported before the chroot, so nothing is loaded from inside it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
from collections.abc import Callable

from . import chroot, linux
from .spec import LaunchSpec

FORWARDED_SIGNALS = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGALRM,
)
SETUP_FAILED = 127


def main() -> None:
    """Run one launch as described on stdin; never returns."""
    spec = LaunchSpec.from_json(sys.stdin.read())
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # Closed by the program's exec in every process that holds it: EOF means "started".
    os.set_inheritable(spec.status_fd, False)
    try:
        if spec.join_pid:
            _join_namespaces(spec.join_pid)
        else:
            _build_namespaces(spec)
    except OSError as exc:
        _fail(spec, f"cannot isolate the task: {exc.strerror or exc}")
    result_read, result_write = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(result_read)
        _guard(spec, lambda: _init(spec, result_write))
    os.close(result_write)
    os.close(spec.status_fd)
    _forward_signals(init)
    status = _wait(init)
    reported = _read_all(result_read)
    status = int(reported) if reported else status
    if spec.exit_file:
        record_exit(spec.exit_file, status)
    _exit_like(status)


def _build_namespaces(spec: LaunchSpec) -> None:
    flags = linux.CLONE_NEWNS
    if spec.pid_private:
        flags |= linux.CLONE_NEWPID
    if spec.ipc_private:
        flags |= linux.CLONE_NEWIPC
    linux.unshare(flags)
    # Without this, mounts made here could propagate back to the host's namespace.
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    chroot.populate(spec.root, spec.chroot_env, spec.alloc_dir)


def _join_namespaces(pid: int) -> None:
    # Opened before joining anything: after the mount namespace changes, /proc may differ.
    names = ("ipc", "pid_for_children", "mnt")
    fds = [os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY) for name in names]
    for fd in fds:
        linux.setns(fd)
        os.close(fd)


def _init(spec: LaunchSpec, result_write: int) -> None:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    for procs in spec.cgroup_procs:
        with open(procs, "w") as f:
            f.write("0")
    if spec.join_pid:
        _run_program(spec)
    linux.mount(
        "proc",
        chroot.inside(spec.root, "/proc"),
        "proc",
        linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
    )
    if not spec.pid_private:
        _run_program(spec)
    program = os.fork()
    if program == 0:
        _guard(spec, lambda: _run_program(spec))
    os.close(spec.status_fd)
    _forward_signals(program)
    status = _reap_until(program)
    os.write(result_write, str(status).encode())
    os._exit(0)


def _run_program(spec: LaunchSpec) -> None:
    os.chroot(spec.root)
    os.chdir(spec.work_dir)
    keep = set(spec.capabilities)
    linux.drop_bounding_set(keep)
    if spec.uid is not None:
        linux.prctl(linux.PR_SET_KEEPCAPS, 1)
        os.setgroups(spec.groups)
        os.setgid(spec.gid if spec.gid is not None else spec.uid)
        os.setuid(spec.uid)
        if spec.uid != 0 and keep:
            linux.raise_ambient(keep)
    try:
        os.execvpe(spec.argv[0], spec.argv, spec.env)
    except OSError as exc:
        _fail(spec, f"cannot run {spec.argv[0]!r}: {exc.strerror or exc}")


def _guard(spec: LaunchSpec, step: Callable[[], None]) -> None:
    try:
        step()
    except OSError as exc:
        _fail(spec, f"cannot start the task: {exc.strerror or exc}")
    except BaseException as exc:  # a forked child must never unwind into the parent's code
        _fail(spec, f"cannot start the task: {exc}")


def _fail(spec: LaunchSpec, message: str) -> None:
    try:
        os.write(spec.status_fd, message.encode())
    finally:
        os._exit(SETUP_FAILED)


def _forward_signals(pid: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)


def _wait(pid: int) -> int:
    return os.waitpid(pid, 0)[1]


def _reap_until(program: int) -> int:
    # As PID 1 this process inherits every orphan of the namespace; reap them all.
    while True:
        pid, status = os.wait()
        if pid == program:
            return status


def record_exit(path: str, status: int) -> None:
    """Write the wait ``status`` to ``path`` atomically (a reader never sees half of it)."""
    partial = f"{path}.partial"
    with contextlib.suppress(OSError):
        with open(partial, "w") as f:
            f.write(str(status))
        os.replace(partial, path)


def read_exit(path: str) -> int | None:
    """The wait status :func:`record_exit` wrote to ``path``, or None when there is none."""
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 64):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main()
